import ArgumentParser
import Evaluation
import Foundation

/// `whittle report`: renders report.md and report.html (and report.json) again from a report.json, proof that a
/// report is reproducible from its json alone.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Render report.json, report.md and report.html again from a report.json.",
        discussion: """
        Reads a report.json written by `whittle eval --report DIR` and writes report.json, report.md and \
        report.html into --out (created if needed; files are replaced atomically). Rendering the same json \
        gives the same files byte for byte.
        """
    )

    @Option(help: "A report.json (or the folder holding one).") var from: String
    @Option(help: "Folder to write report.json, report.md and report.html into.") var out: String

    func run() throws {
        var isDirectory: ObjCBool = false
        let path = FileManager.default.fileExists(atPath: from, isDirectory: &isDirectory) && isDirectory.boolValue
            ? (from as NSString).appendingPathComponent(ReportWriter.jsonName) : from
        let report = try ReportWriter.read(path: path)
        for written in try ReportWriter.write(report, to: out) { print(written) }
    }
}
