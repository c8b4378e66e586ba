/// A problem with a data file, always with the place it was found: `file:line` and, where it applies, the key.
public struct DataError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case unreadable        // cannot open or read the file
        case emptyFile
        case invalidUTF8
        case badJSON
        case notAnObject       // a record that is not a JSON object
        case missingKey
        case wrongType         // a key whose value has the wrong JSON type
        case unknownFormat     // keys that match no record format
        case badCSV
        case badValue          // e.g. an unknown role, an empty conversation
    }

    public var kind: Kind
    public var file: String
    public var line: Int?
    public var key: String?
    public var message: String

    public init(_ kind: Kind, file: String, line: Int? = nil, key: String? = nil, _ message: String) {
        self.kind = kind
        self.file = file
        self.line = line
        self.key = key
        self.message = message
    }

    public var description: String {
        var place = file
        if let line { place += ":\(line)" }
        if let key { return "\(place): key \"\(key)\": \(message)" }
        return "\(place): \(message)"
    }
}
