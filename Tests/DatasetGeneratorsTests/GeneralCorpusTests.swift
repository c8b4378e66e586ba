import Testing
@testable import DatasetGenerators

@Suite struct GeneralCorpusTests {
    @Test func placeholder() { #expect(DatasetCatalog.names.contains("general")) }
}
