import Foundation

/// A JSON object with typed accessors whose errors name the file and the full key path.
///
/// tokenizer.json is parsed with `JSONSerialization` into `Any`; this wrapper keeps the untyped values in one place
/// and turns every type mismatch into a `TokenizerError` instead of a crash or a silent default.
struct JSONObject {
    let file: String
    let path: String
    let raw: [String: Any]

    init(file: String, path: String, raw: [String: Any]) {
        self.file = file
        self.path = path
        self.raw = raw
    }

    /// Parses a whole file; the top level must be an object.
    static func parse(data: Data, file: String) throws -> JSONObject {
        let value: Any
        do {
            value = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        } catch {
            throw TokenizerError.invalidJSON(file: file, reason: "\(error.localizedDescription)")
        }
        guard let object = value as? [String: Any] else {
            throw TokenizerError.invalidJSON(file: file, reason: "the top level is not an object")
        }
        return JSONObject(file: file, path: "", raw: object)
    }

    func keyPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func has(_ key: String) -> Bool {
        guard let value = raw[key] else { return false }
        return !(value is NSNull)
    }

    func wrong(_ key: String, _ expected: String) -> TokenizerError {
        .invalidValue(file: file, key: keyPath(key), reason: "expected \(expected)")
    }

    func require(_ key: String) throws -> Any {
        guard let value = raw[key], !(value is NSNull) else { throw TokenizerError.missingKey(file: file, key: keyPath(key)) }
        return value
    }

    func string(_ key: String) throws -> String {
        guard let s = try require(key) as? String else { throw wrong(key, "a string") }
        return s
    }

    func optionalString(_ key: String) throws -> String? {
        guard has(key) else { return nil }
        return try string(key)
    }

    func bool(_ key: String, default fallback: Bool) throws -> Bool {
        guard has(key) else { return fallback }
        guard let b = raw[key] as? Bool else {
            throw wrong(key, "true or false")
        }
        return b
    }

    func int(_ key: String) throws -> Int {
        guard let n = try require(key) as? NSNumber, let i = Int(exactly: n.doubleValue) else { throw wrong(key, "an integer") }
        return i
    }

    func optionalInt(_ key: String, default fallback: Int) throws -> Int {
        guard has(key) else { return fallback }
        return try int(key)
    }

    func object(_ key: String) throws -> JSONObject {
        guard let o = try require(key) as? [String: Any] else { throw wrong(key, "an object") }
        return JSONObject(file: file, path: keyPath(key), raw: o)
    }

    func optionalObject(_ key: String) throws -> JSONObject? {
        guard has(key) else { return nil }
        return try object(key)
    }

    func array(_ key: String) throws -> [Any] {
        guard let a = try require(key) as? [Any] else { throw wrong(key, "an array") }
        return a
    }

    /// The elements of an array of objects, each with its own key path (`key[3]`).
    func objects(_ key: String) throws -> [JSONObject] {
        let items = try array(key)
        return try items.enumerated().map { index, item in
            guard let o = item as? [String: Any] else { throw wrong("\(key)[\(index)]", "an object") }
            return JSONObject(file: file, path: keyPath("\(key)[\(index)]"), raw: o)
        }
    }

    /// The `type` tag of a tagged component.
    func type() throws -> String { try string("type") }
}
