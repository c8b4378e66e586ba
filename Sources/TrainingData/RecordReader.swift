import Foundation
import Tokenization

/// One raw record of a data file: a JSON object (CSV rows become objects keyed by column) and where it starts.
public struct RawRecord: Sendable {
    public var file: String
    /// 1-based line where the record starts.
    public var line: Int
    public var value: JSONValue
}

/// Container formats a data file can have. JSON Lines and JSON arrays hold records of any record format;
/// CSV and TSV hold rows with a header line naming the columns.
public enum ContainerFormat: String, Sendable, CaseIterable, Codable {
    case jsonl, jsonArray = "json", csv, tsv

    /// From the extension; `.json` files that do not start with `[` are read as JSON Lines.
    public static func guess(path: String) -> ContainerFormat? {
        switch (path as NSString).pathExtension.lowercased() {
        case "jsonl", "ndjson": .jsonl
        case "json": .jsonArray
        case "csv": .csv
        case "tsv", "tab": .tsv
        default: nil
        }
    }
}

/// Reads records one at a time, streaming: memory stays bounded by the largest record, not the file.
/// Every record keeps its file and line; malformed input stops with a `DataError` naming them.
public struct RecordReader: Sequence, IteratorProtocol {
    private var lines: LineReader
    private let file: String
    private var container: ContainerFormat
    private var csvHeader: [String]?
    private var arrayState: ArrayScanner?
    private var sawRecord = false
    private var finished = false
    /// The first error ends the sequence; `next()` returns nil after storing it here.
    public private(set) var error: DataError?

    public init(path: String, container: ContainerFormat? = nil) throws(DataError) {
        file = path
        lines = try LineReader(path: path)
        guard let c = container ?? ContainerFormat.guess(path: path) else {
            throw DataError(.unreadable, file: path,
                            "cannot tell the file's format from its extension; use .jsonl, .json, .csv or .tsv, or name the container")
        }
        self.container = c
        if c == .jsonArray {
            // A .json file holding JSON Lines is common; decide from the first non-blank byte.
            if let first = try lines.peekFirstNonBlankByte(), first != UInt8(ascii: "[") { self.container = .jsonl }
        }
    }

    /// Reads every record, throwing the first error. Convenient for small files and tests.
    public static func readAll(path: String, container: ContainerFormat? = nil) throws(DataError) -> [RawRecord] {
        var reader = try RecordReader(path: path, container: container)
        var out: [RawRecord] = []
        while let r = reader.next() { out.append(r) }
        if let e = reader.error { throw e }
        return out
    }

    public mutating func next() -> RawRecord? {
        if finished { return nil }
        do {
            let r: RawRecord?
            switch container {
            case .jsonl: r = try nextJSONL()
            case .jsonArray: r = try nextArrayElement()
            case .csv: r = try nextCSV(separator: UInt8(ascii: ","))
            case .tsv: r = try nextCSV(separator: UInt8(ascii: "\t"))
            }
            if let r { sawRecord = true; return r }
            finished = true
            if !sawRecord { error = DataError(.emptyFile, file: file, "the file holds no records") }
            return nil
        } catch {
            finished = true
            self.error = error
            return nil
        }
    }

    // MARK: - JSON Lines

    private mutating func nextJSONL() throws(DataError) -> RawRecord? {
        while let (lineNumber, bytes) = try lines.nextLine() {
            if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }  // blank lines are not records
            let value = try parseJSON(bytes, line: lineNumber)
            guard case .object = value else {
                throw DataError(.notAnObject, file: file, line: lineNumber, "a record must be a JSON object, found \(value.typeDescription)")
            }
            return RawRecord(file: file, line: lineNumber, value: value)
        }
        return nil
    }

    private func parseJSON(_ bytes: [UInt8], line: Int) throws(DataError) -> JSONValue {
        guard String(validating: bytes, as: UTF8.self) != nil else {
            throw DataError(.invalidUTF8, file: file, line: line, "the line is not valid UTF-8")
        }
        do {
            return try bytes.withUnsafeBufferPointer { buffer throws(JSONError) in try JSONParser.parse(bytes: buffer, firstLine: line) }
        } catch {
            throw DataError(.badJSON, file: file, line: error.line, "invalid JSON at column \(error.column): \(error.message)")
        }
    }

    // MARK: - JSON array

    private mutating func nextArrayElement() throws(DataError) -> RawRecord? {
        if arrayState == nil { arrayState = ArrayScanner() }
        while true {
            if let (start, bytes) = try arrayState!.nextElement(from: &lines, file: file) {
                let value = try parseJSON(bytes, line: start)
                guard case .object = value else {
                    throw DataError(.notAnObject, file: file, line: start, "a record must be a JSON object, found \(value.typeDescription)")
                }
                return RawRecord(file: file, line: start, value: value)
            }
            return nil
        }
    }

    // MARK: - CSV / TSV

    private mutating func nextCSV(separator: UInt8) throws(DataError) -> RawRecord? {
        guard let (start, fields) = try CSVRow.read(from: &lines, separator: separator, file: file) else {
            if csvHeader == nil { throw DataError(.emptyFile, file: file, "the file has no header line") }
            return nil
        }
        guard let header = csvHeader else {
            let names = fields.map { $0.trimmingCharacters(in: .whitespaces) }
            if let dup = Dictionary(grouping: names, by: { $0 }).first(where: { $0.value.count > 1 })?.key {
                throw DataError(.badCSV, file: file, line: start, "column \"\(dup)\" appears twice in the header")
            }
            if names.contains("") { throw DataError(.badCSV, file: file, line: start, "the header has an empty column name") }
            csvHeader = names
            return try nextCSV(separator: separator)
        }
        if fields.count == 1 && fields[0].isEmpty { return try nextCSV(separator: separator) }  // blank line
        guard fields.count == header.count else {
            throw DataError(.badCSV, file: file, line: start,
                            "the row has \(fields.count) fields, the header names \(header.count) columns (\(header.joined(separator: ", ")))")
        }
        return RawRecord(file: file, line: start, value: .object(zip(header, fields).map { ($0, .string($1)) }))
    }
}

// MARK: - Line reading

/// Reads a file in 1 MB chunks and hands out lines (without the newline) with their numbers.
struct LineReader {
    private let handle: FileHandle
    private let path: String
    private var buffer: [UInt8] = []
    private var position = 0
    private var eof = false
    private(set) var lineNumber = 0

    init(path: String) throws(DataError) {
        self.path = path
        guard let h = FileHandle(forReadingAtPath: path) else {
            throw DataError(.unreadable, file: path, FileManager.default.fileExists(atPath: path)
                            ? "cannot open the file for reading" : "no such file")
        }
        handle = h
    }

    private mutating func fill() throws(DataError) -> Bool {
        if eof { return false }
        let chunk: Data?
        do { chunk = try handle.read(upToCount: 1 << 20) } catch {
            throw DataError(.unreadable, file: path, line: lineNumber + 1, "read failed: \(error)")
        }
        guard let chunk, !chunk.isEmpty else { eof = true; return false }
        if position > 0 { buffer.removeFirst(position); position = 0 }
        buffer.append(contentsOf: chunk)
        return true
    }

    mutating func peekFirstNonBlankByte() throws(DataError) -> UInt8? {
        while true {
            if let b = buffer[position...].first(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 && $0 != 0xEF && $0 != 0xBB && $0 != 0xBF }) {
                return b
            }
            if try !fill() { return nil }
        }
    }

    /// The next line and its 1-based number, or nil at the end. A UTF-8 byte-order mark on line 1 is dropped.
    mutating func nextLine() throws(DataError) -> (Int, [UInt8])? {
        while true {
            if let nl = buffer[position...].firstIndex(of: 0x0A) {
                var line = Array(buffer[position..<nl])
                position = nl + 1
                lineNumber += 1
                if line.last == 0x0D { line.removeLast() }
                if lineNumber == 1, line.starts(with: [0xEF, 0xBB, 0xBF]) { line.removeFirst(3) }
                return (lineNumber, line)
            }
            if try !fill() {
                if position < buffer.count {
                    var line = Array(buffer[position...])
                    position = buffer.count
                    lineNumber += 1
                    if line.last == 0x0D { line.removeLast() }
                    if lineNumber == 1, line.starts(with: [0xEF, 0xBB, 0xBF]) { line.removeFirst(3) }
                    return (lineNumber, line)
                }
                return nil
            }
        }
    }
}

/// Splits a top-level JSON array into its elements' bytes, line by line, tracking strings and nesting, so each
/// record is parsed alone and knows the line it starts on.
struct ArrayScanner {
    private var opened = false
    private var closed = false
    private var pending: [UInt8] = []   // bytes of the current line not yet consumed
    private var pendingLine = 0
    private var offset = 0

    mutating func nextElement(from lines: inout LineReader, file: String) throws(DataError) -> (Int, [UInt8])? {
        var element: [UInt8] = []
        var startLine = 0
        var depth = 0, inString = false, escaped = false
        while true {
            if offset >= pending.count {
                guard let (n, bytes) = try lines.nextLine() else {
                    if !opened { throw DataError(.emptyFile, file: file, "the file holds no records") }
                    if !closed { throw DataError(.badJSON, file: file, line: lines.lineNumber, "the JSON array is not closed with ']' (file truncated?)") }
                    if depth > 0 || inString { throw DataError(.badJSON, file: file, line: startLine, "unterminated record") }
                    return nil
                }
                pending = bytes + [0x0A]
                pendingLine = n
                offset = 0
            }
            let b = pending[offset]
            offset += 1
            if !opened {
                if b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { continue }
                guard b == UInt8(ascii: "[") else {
                    throw DataError(.badJSON, file: file, line: pendingLine, "expected a JSON array starting with '['")
                }
                opened = true
                continue
            }
            if closed {
                if b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { continue }
                throw DataError(.badJSON, file: file, line: pendingLine, "unexpected content after the closing ']'")
            }
            if depth == 0 && !inString {
                if b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { if element.isEmpty { continue } }
                if b == UInt8(ascii: ",") {
                    if element.isEmpty { throw DataError(.badJSON, file: file, line: pendingLine, "empty element in the JSON array") }
                    return (startLine, element)
                }
                if b == UInt8(ascii: "]") {
                    closed = true
                    if !element.isEmpty { return (startLine, element) }
                    continue
                }
            }
            if element.isEmpty { startLine = pendingLine }
            element.append(b)
            if inString {
                if escaped { escaped = false } else if b == UInt8(ascii: "\\") { escaped = true } else if b == UInt8(ascii: "\"") { inString = false }
            } else if b == UInt8(ascii: "\"") {
                inString = true
            } else if b == UInt8(ascii: "{") || b == UInt8(ascii: "[") {
                depth += 1
            } else if b == UInt8(ascii: "}") || b == UInt8(ascii: "]") {
                depth -= 1
            }
        }
    }
}

/// RFC 4180 rows: fields separated by `separator`, optionally quoted with `"` (doubled `""` inside), which may
/// span lines.
enum CSVRow {
    static func read(from lines: inout LineReader, separator: UInt8, file: String) throws(DataError) -> (Int, [String])? {
        guard let (start, first) = try lines.nextLine() else { return nil }
        var fields: [String] = []
        var field: [UInt8] = []
        var line = first
        var i = 0
        var quoted = false
        func finish() throws(DataError) {
            guard let s = String(validating: field, as: UTF8.self) else {
                throw DataError(.invalidUTF8, file: file, line: start, "field \(fields.count + 1) is not valid UTF-8")
            }
            fields.append(s)
            field = []
        }
        while true {
            if i >= line.count {
                if quoted {
                    guard let (_, more) = try lines.nextLine() else {
                        throw DataError(.badCSV, file: file, line: start, "a quoted field is not closed before the end of the file")
                    }
                    field.append(0x0A)
                    line = more
                    i = 0
                    continue
                }
                try finish()
                return (start, fields)
            }
            let b = line[i]
            i += 1
            if quoted {
                if b == UInt8(ascii: "\"") {
                    if i < line.count && line[i] == UInt8(ascii: "\"") { field.append(b); i += 1 } else { quoted = false }
                } else {
                    field.append(b)
                }
            } else if b == UInt8(ascii: "\"") && field.isEmpty {
                quoted = true
            } else if b == separator {
                try finish()
            } else {
                field.append(b)
            }
        }
    }
}
