import FileSupport
import Foundation

/// A dataset split; files are named `<split>.jsonl`.
public enum Split: String, CaseIterable, Sendable {
    case train, valid, test
}

/// An unknown dataset name (the CLI's `--only`).
public struct DatasetGeneratorError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

/// The bundled datasets Whittle generates itself, by name. Each generator is deterministic: the same code
/// gives byte-identical files on every run and machine (seeded PCG64, arrays only, no locale, dates or
/// floating-point formatting in the output).
public enum DatasetCatalog {
    public static let names = ["general", "orders", "helpdesk"]

    /// The JSONL lines of each split of dataset `name`.
    public static func lines(of name: String) throws -> [(split: Split, lines: [String])] {
        switch name {
        case "general": return GeneralCorpus.lines()
        case "orders": return OrdersDataset.lines()
        case "helpdesk": return HelpdeskDataset.lines()
        default:
            throw DatasetGeneratorError(description: "unknown dataset '\(name)'; known: \(names.joined(separator: ", "))")
        }
    }

    /// The contents of a split file: one record per line, each line ending in a newline.
    public static func fileText(_ lines: [String]) -> String {
        lines.map { $0 + "\n" }.joined()
    }

    /// Writes `<out>/<name>/{train,valid,test}.jsonl`, each atomically (temporary file, fsync, rename), creating
    /// folders as needed. Returns the paths written with their record counts.
    @discardableResult
    public static func write(_ name: String, to out: String) throws -> [(path: String, records: Int)] {
        let splits = try lines(of: name)
        let folder = out + "/" + name
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw FileError(path: folder, "cannot create the folder: \(error.localizedDescription)")
        }
        var written: [(path: String, records: Int)] = []
        for (split, lines) in splits {
            let path = folder + "/" + split.rawValue + ".jsonl"
            try AtomicFile.write(fileText(lines), to: path)
            written.append((path, lines.count))
        }
        return written
    }
}
