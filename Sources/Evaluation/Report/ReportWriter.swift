import FileSupport
import Foundation

/// A report file that cannot be read or written, naming the file and (when known) the key.
public struct ReportError: Error, Sendable, CustomStringConvertible, Equatable {
    public var path: String
    /// A JSON path such as `summary[1].loss`, or "" when the problem is not one key.
    public var key: String
    public var message: String
    public init(path: String, key: String = "", _ message: String) {
        self.path = path
        self.key = key
        self.message = message
    }
    public var description: String { key.isEmpty ? "\(path): \(message)" : "\(path): key `\(key)`: \(message)" }
}

/// Renders an `EvaluationReport` as report.json, report.md and report.html, and reads report.json back.
///
/// report.json is the source of truth: the Markdown and HTML are pure functions of it, so
/// `whittle report --from report.json` reproduces them byte for byte. The schema is documented in
/// `Sources/Evaluation/REPORT.md`.
public enum ReportWriter {
    public static let jsonName = "report.json"
    public static let markdownName = "report.md"
    public static let htmlName = "report.html"

    /// Spellings of non-finite numbers in report.json (JSON has none; a diverged run still deserves a report).
    static let nonFinite = (positive: "inf", negative: "-inf", nan: "nan")

    // MARK: - Writing

    /// Writes report.json (pretty, sorted keys), report.md and report.html into `directory` (created if needed),
    /// each atomically (temp file, fsync, rename). Returns the three paths in that order.
    public static func write(_ report: EvaluationReport, to directory: String) throws -> [String] {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw ReportError(path: directory, "cannot create the report folder: \(error.localizedDescription)")
        }
        let dir = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        let files = [(jsonName, try json(report)), (markdownName, markdown(report)), (htmlName, html(report))]
        var paths: [String] = []
        for (name, text) in files {
            let path = (dir.isEmpty ? "." : dir) + "/" + name
            try AtomicFile.write(text, to: path)
            paths.append(path)
        }
        return paths
    }

    /// Pretty-printed JSON with sorted keys and a final newline. Non-finite numbers are written as the strings
    /// "inf", "-inf", "nan".
    public static func json(_ report: EvaluationReport) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: nonFinite.positive, negativeInfinity: nonFinite.negative, nan: nonFinite.nan)
        let data: Data
        do {
            data = try encoder.encode(report)
        } catch {
            throw ReportError(path: jsonName, "cannot encode the report: \(error)")
        }
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    // MARK: - Reading

    /// Reads a report.json back. Errors name the file and the key: a missing or different `schema`, a missing
    /// key, or a value of the wrong type.
    public static func read(path: String) throws -> EvaluationReport {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ReportError(path: path, "cannot read: \(error.localizedDescription)")
        }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw ReportError(path: path, "not valid JSON: \(error.localizedDescription)")
        }
        guard let top = object as? [String: Any] else {
            throw ReportError(path: path, "not a Whittle evaluation report: the top level is not a JSON object")
        }
        guard let schema = top["schema"] else {
            throw ReportError(path: path, key: "schema", "missing; not a Whittle evaluation report "
                              + "(expected \"\(EvaluationReport.currentSchema)\")")
        }
        guard let name = schema as? String, name == EvaluationReport.currentSchema else {
            let shown = (schema as? String).map { "\"\($0)\"" } ?? "\(schema)"
            throw ReportError(path: path, key: "schema", "is \(shown), this whittle reads \"\(EvaluationReport.currentSchema)\"")
        }
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: nonFinite.positive, negativeInfinity: nonFinite.negative, nan: nonFinite.nan)
        do {
            return try decoder.decode(EvaluationReport.self, from: data)
        } catch let error as DecodingError {
            throw describe(error, path: path)
        }
    }

    static func keyPath(_ codingPath: [any CodingKey]) -> String {
        var s = ""
        for k in codingPath {
            if let i = k.intValue { s += "[\(i)]" } else { s += (s.isEmpty ? "" : ".") + k.stringValue }
        }
        return s
    }

    static func describe(_ error: DecodingError, path: String) -> ReportError {
        switch error {
        case .keyNotFound(let key, let context):
            return ReportError(path: path, key: keyPath(context.codingPath + [key]), "missing")
        case .typeMismatch(let type, let context):
            return ReportError(path: path, key: keyPath(context.codingPath), "expected \(typeName(type))")
        case .valueNotFound(let type, let context):
            return ReportError(path: path, key: keyPath(context.codingPath), "is null, expected \(typeName(type))")
        case .dataCorrupted(let context):
            return ReportError(path: path, key: keyPath(context.codingPath), context.debugDescription)
        @unknown default:
            return ReportError(path: path, "\(error)")
        }
    }

    static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type: "an integer"
        case is Double.Type: "a number"
        case is Bool.Type: "true or false"
        default:
            String(describing: type).hasPrefix("Array") ? "an array" : String(describing: type).hasPrefix("Dictionary")
                ? "an object" : "\(type)"
        }
    }
}
