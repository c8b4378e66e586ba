import Foundation
import Testing
import Tokenization
import TrainingData
@testable import DatasetGenerators

/// The committed files are exactly what the generators write, every line is a JSON object with the format's
/// keys, and Whittle's own reader accepts every file.
@Suite struct DatasetFilesTests {
    static let keys = ["general": ["text"], "orders": ["prompt", "completion"], "helpdesk": ["messages"]]

    @Test(arguments: DatasetCatalog.names)
    func regeneratingGivesTheCommittedBytes(name: String) throws {
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("whittle-datasets-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        let written = try DatasetCatalog.write(name, to: tmp)
        #expect(written.map(\.path) == Split.allCases.map { "\(tmp)/\(name)/\($0.rawValue).jsonl" })
        let files = try FileManager.default.contentsOfDirectory(atPath: "\(tmp)/\(name)").sorted()
        #expect(files == ["test.jsonl", "train.jsonl", "valid.jsonl"], "only the three split files, no temporaries")
        for split in Split.allCases {
            let fresh = try Data(contentsOf: URL(fileURLWithPath: "\(tmp)/\(name)/\(split.rawValue).jsonl"))
            let committed = try Data(contentsOf: URL(fileURLWithPath: committedPath(name, split)))
            #expect(fresh == committed, "\(name)/\(split.rawValue).jsonl differs from a fresh generation; run `whittle datasets generate`")
        }
    }

    @Test func generatingTwiceGivesTheSameLines() throws {
        for name in DatasetCatalog.names {
            let a = try DatasetCatalog.lines(of: name), b = try DatasetCatalog.lines(of: name)
            #expect(a.map(\.lines) == b.map(\.lines), "\(name)")
        }
    }

    @Test func unknownNameIsAnError() {
        #expect(throws: DatasetGeneratorError.self) { try DatasetCatalog.lines(of: "order") }
    }

    @Test(arguments: DatasetCatalog.names)
    func everyLineIsAnObjectWithTheFormatsKeys(name: String) throws {
        for split in Split.allCases {
            for (i, line) in try committedLines(name, split).enumerated() {
                let v = try parse(line)
                #expect(v.keys == Self.keys[name]!, "\(name)/\(split.rawValue).jsonl:\(i + 1)")
                for key in v.keys where name != "helpdesk" { #expect(v[key]?.stringValue?.isEmpty == false) }
            }
        }
    }

    @Test(arguments: DatasetCatalog.names)
    func whittlesReaderAcceptsEveryFile(name: String) throws {
        for split in Split.allCases {
            let path = committedPath(name, split)
            let examples = try RecordConverter.readExamples(path: path)
            #expect(examples.count == (try committedLines(name, split)).count, "\(path)")
            for e in examples {
                switch (name, e.example) {
                case ("general", .text), ("orders", .promptCompletion), ("helpdesk", .chat): break
                default: Issue.record("\(path):\(e.line) read as \(e.example)")
                }
            }
        }
    }
}
