import ArgumentParser
import DatasetGenerators

struct DatasetsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "datasets",
        abstract: "Generate the bundled datasets (general, orders, helpdesk).",
        subcommands: [DatasetsGenerate.self]
    )
}

struct DatasetsGenerate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Write <out>/<name>/{train,valid,test}.jsonl for the bundled datasets; the same code gives the same bytes."
    )

    @Option(help: "Output folder.")
    var out = "Datasets"

    @Option(help: "Generate only this dataset (\(DatasetCatalog.names.joined(separator: ", "))).")
    var only: String?

    func validate() throws {
        if let only, !DatasetCatalog.names.contains(only) {
            throw ValidationError("unknown dataset '\(only)'; known: \(DatasetCatalog.names.joined(separator: ", "))")
        }
    }

    func run() throws {
        for name in only.map({ [$0] }) ?? DatasetCatalog.names {
            for (path, records) in try DatasetCatalog.write(name, to: out) {
                print("\(path): \(records) records")
            }
        }
    }
}
