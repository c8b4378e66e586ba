import Foundation
import Yams

/// A problem in a recipe or a `--set` override, with the place: file and line where known, and the dotted key path.
public struct RecipeError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var path: String
    public var message: String

    public var description: String {
        var place = file
        if let line { place += ":\(line)" }
        return path.isEmpty ? "\(place): \(message)" : "\(place): \(path): \(message)"
    }
}

/// Layered, strict configuration: the stage's defaults ← the YAML file ← `--set key.path=value` overrides.
///
/// Swift's synthesized `Decodable` silently ignores unknown keys, so the check is structural: the defaults are
/// encoded to a tree, and every key in the YAML or an override must exist in that tree (with "did you mean …"
/// when it nearly does). Keys are snake_case in YAML and camelCase in Swift. A mapping whose default is empty is
/// free-form (any keys; e.g. a data key mapping). Configurations therefore have no optional properties: an
/// "unset" value is spelled as an explicit default ("" or 0) and documented.
public enum StrictConfig {
    public static func resolve<T: Codable>(defaults: T, yaml: String?, file: String, overrides: [String] = []) throws -> T {
        let schema = try tree(encoding: defaults, file: file)
        var merged = schema
        if let yaml {
            let user: ConfigNode
            do {
                guard let node = try Yams.compose(yaml: yaml) else { return try decode(T.self, merged, schema: schema, file: file) }
                user = ConfigNode(node)
            } catch let error as YamlError {
                throw RecipeError(file: file, line: yamlLine(error), path: "", message: "invalid YAML: \(error)")
            }
            merged = try merge(user, into: schema, path: [], file: file)
        }
        for o in overrides { merged = try apply(override: o, to: merged, schema: schema) }
        return try decode(T.self, merged, schema: schema, file: file)
    }

    /// A configuration as YAML with snake_case keys (the form `resolve` reads back).
    public static func yaml<T: Encodable>(encoding value: T) throws -> String {
        try Yams.serialize(node: try tree(encoding: value, file: "").yamsNode)
    }

    // MARK: - Trees

    static func tree<T: Encodable>(encoding value: T, file: String) throws -> ConfigNode {
        let text = try YAMLEncoder().encode(value)
        guard let node = try Yams.compose(yaml: text) else { return .mapping([], line: nil) }
        return ConfigNode(node).mapKeys(camelToSnake)
    }

    private static func merge(_ user: ConfigNode, into schema: ConfigNode, path: [String], file: String) throws -> ConfigNode {
        guard case .mapping(let schemaPairs, _) = schema else { return user }
        guard case .mapping(let userPairs, let line) = user else {
            throw RecipeError(file: file, line: user.line, path: dotted(path), message: "expected a mapping of keys, found \(user.kind)")
        }
        if schemaPairs.isEmpty { return user }   // free-form
        var out = schemaPairs
        for (key, value) in userPairs {
            guard let i = out.firstIndex(where: { $0.0 == key }) else {
                throw RecipeError(file: file, line: value.line ?? line, path: dotted(path + [key]),
                                  message: "unknown key" + suggestion(for: key, among: schemaPairs.map(\.0)))
            }
            out[i].1 = try merge(value, into: out[i].1, path: path + [key], file: file)
        }
        return .mapping(out, line: line)
    }

    private static func apply(override: String, to tree: ConfigNode, schema: ConfigNode) throws -> ConfigNode {
        let file = "--set \(override)"
        guard let eq = override.firstIndex(of: "="), eq != override.startIndex else {
            throw RecipeError(file: file, line: nil, path: "", message: "expected key.path=value")
        }
        let path = override[..<eq].split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        if path.contains("") { throw RecipeError(file: file, line: nil, path: "", message: "empty key in path") }
        let text = String(override[override.index(after: eq)...])
        let value: ConfigNode
        do {
            value = try Yams.compose(yaml: text).map(ConfigNode.init) ?? .scalar("", line: nil)
        } catch {
            throw RecipeError(file: file, line: nil, path: dotted(path), message: "the value is not valid YAML: \(error)")
        }
        return try set(value, at: path[...], in: tree, schema: schema, done: [], file: file)
    }

    private static func set(_ value: ConfigNode, at path: ArraySlice<String>, in tree: ConfigNode, schema: ConfigNode?,
                            done: [String], file: String) throws -> ConfigNode {
        guard let key = path.first else {
            if let schema { return try merge(value, into: schema, path: done, file: file) }
            return value
        }
        guard case .mapping(var pairs, let line) = tree else {
            throw RecipeError(file: file, line: nil, path: dotted(done), message: "\(dotted(done)) is not a mapping")
        }
        var schemaChild: ConfigNode? = nil
        if case .mapping(let schemaPairs, _)? = schema, !schemaPairs.isEmpty {
            guard let s = schemaPairs.first(where: { $0.0 == key }) else {
                throw RecipeError(file: file, line: nil, path: dotted(done + [key]),
                                  message: "unknown key" + suggestion(for: key, among: schemaPairs.map(\.0)))
            }
            schemaChild = s.1
        }
        if let i = pairs.firstIndex(where: { $0.0 == key }) {
            pairs[i].1 = try set(value, at: path.dropFirst(), in: pairs[i].1, schema: schemaChild, done: done + [key], file: file)
        } else {
            pairs.append((key, try set(value, at: path.dropFirst(), in: .mapping([], line: nil), schema: schemaChild,
                                       done: done + [key], file: file)))
        }
        return .mapping(pairs, line: line)
    }

    private static func decode<T: Decodable>(_ type: T.Type, _ tree: ConfigNode, schema: ConfigNode, file: String) throws -> T {
        let node = tree.renamedForDecoding(schema: schema).yamsNode
        do {
            return try YAMLDecoder().decode(T.self, from: node)
        } catch let error as DecodingError {
            let (path, message) = describe(error)
            let snakePath = path.map(camelToSnake)
            return try { throw RecipeError(file: file, line: tree.line(at: snakePath), path: dotted(snakePath), message: message) }()
        }
    }

    private static func describe(_ error: DecodingError) -> ([String], String) {
        switch error {
        case .typeMismatch(let type, let c): return (c.codingPath.map(\.stringValue), "expected \(readable(type)): \(c.debugDescription)")
        case .valueNotFound(let type, let c): return (c.codingPath.map(\.stringValue), "missing value, expected \(readable(type))")
        case .keyNotFound(let key, let c): return ((c.codingPath + [key]).map(\.stringValue), "missing key")
        case .dataCorrupted(let c): return (c.codingPath.map(\.stringValue), c.debugDescription)
        @unknown default: return ([], "\(error)")
        }
    }

    private static func readable(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type: "an integer"
        case is Double.Type, is Float.Type: "a number"
        case is Bool.Type: "true or false"
        case is String.Type: "a string"
        default: "\(type)"
        }
    }

    private static func yamlLine(_ error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): return mark.line
        default: return nil
        }
    }

    static func dotted(_ path: [String]) -> String { path.joined(separator: ".") }

    // MARK: - Names

    public static func camelToSnake(_ s: String) -> String {
        var out = ""
        for c in s {
            if c.isUppercase { out += "_" + c.lowercased() } else { out.append(c) }
        }
        return out
    }

    public static func snakeToCamel(_ s: String) -> String {
        let parts = s.split(separator: "_", omittingEmptySubsequences: false)
        guard let first = parts.first else { return s }
        return String(first) + parts.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }

    /// " (did you mean "x"?)" for the closest candidate within a small edit distance, else "; known keys: …".
    public static func suggestion(for key: String, among candidates: [String]) -> String {
        let scored = candidates.map { ($0, editDistance(key, $0)) }.sorted { $0.1 < $1.1 }
        if let best = scored.first, best.1 <= max(2, key.count / 3) { return " (did you mean \"\(best.0)\"?)" }
        return "; known keys: " + candidates.joined(separator: ", ")
    }

    public static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        var row = Array(0...b.count)
        for i in 1...a.count {
            var previous = row[0]
            row[0] = i
            for j in 1...max(b.count, 1) where j <= b.count {
                let current = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = current
            }
        }
        return row[b.count]
    }
}

/// A YAML tree we can merge and edit: scalars, sequences and mappings in key order, each with its source line.
indirect enum ConfigNode {
    case scalar(String, line: Int?)
    case sequence([ConfigNode], line: Int?)
    case mapping([(String, ConfigNode)], line: Int?)
    /// A scalar whose YAML text was `null` / `~` (kept so decoding sees a null).
    case null(line: Int?)

    init(_ node: Node) {
        let line = node.mark?.line
        switch node {
        case .scalar(let s):
            // Plain `null`, `~` or nothing is YAML's null; quoted "null" stays a string.
            self = s.style == .plain && ["null", "~", "Null", "NULL", ""].contains(s.string)
                ? .null(line: line) : .scalar(s.string, line: line)
        case .sequence(let seq): self = .sequence(seq.map(ConfigNode.init), line: line)
        case .mapping(let map): self = .mapping(map.map { (($0.key.string ?? "\($0.key)"), ConfigNode($0.value)) }, line: line)
        case .alias: self = .scalar("", line: line)
        }
    }

    var line: Int? {
        switch self {
        case .scalar(_, let l), .sequence(_, let l), .mapping(_, let l), .null(let l): l
        }
    }

    var kind: String {
        switch self {
        case .scalar: "a scalar"
        case .sequence: "a list"
        case .mapping: "a mapping"
        case .null: "null"
        }
    }

    /// Renames every key with `f` (used once, on the encoded defaults, to make the snake_case schema).
    func mapKeys(_ f: (String) -> String) -> ConfigNode {
        switch self {
        case .mapping(let pairs, let line): return .mapping(pairs.map { (f($0.0), $0.1.mapKeys(f)) }, line: line)
        case .sequence(let items, let line): return .sequence(items.map { $0.mapKeys(f) }, line: line)
        default: return self
        }
    }

    /// Turns schema keys back into Swift's camelCase; keys below a free-form (empty-default) mapping stay as written.
    func renamedForDecoding(schema: ConfigNode?) -> ConfigNode {
        guard case .mapping(let pairs, let line) = self, case .mapping(let schemaPairs, _)? = schema, !schemaPairs.isEmpty else {
            return self
        }
        return .mapping(pairs.map { key, value in
            (StrictConfig.snakeToCamel(key), value.renamedForDecoding(schema: schemaPairs.first { $0.0 == key }?.1))
        }, line: line)
    }

    func line(at path: [String]) -> Int? {
        guard let key = path.first else { return line }
        if case .mapping(let pairs, _) = self, let child = pairs.first(where: { $0.0 == key })?.1 {
            return child.line(at: Array(path.dropFirst())) ?? child.line
        }
        return line
    }

    var yamsNode: Node {
        switch self {
        // An empty string must stay a string when written out (plain empty text reads back as null).
        case .scalar(let s, _): return s.isEmpty ? Node(s, Tag(.str), .singleQuoted) : Node(s)
        case .null: return Node("null", Tag(.null))
        case .sequence(let items, _): return Node(items.map(\.yamsNode))
        case .mapping(let pairs, _): return Node(pairs.map { (Node($0.0), $0.1.yamsNode) })
        }
    }
}
