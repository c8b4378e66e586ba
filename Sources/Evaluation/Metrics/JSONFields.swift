import Tokenization

/// `json_fields`: per-field accuracy of a JSON-object answer, the view extraction tasks need when exact match is
/// all-or-nothing (one wrong field out of six scores 0 there, 5/6 here).
///
/// Both texts are stripped of surrounding whitespace (Python's `str.strip()`) and parsed as strict RFC 8259 JSON
/// (NaN / Infinity refused, as `json_valid` does; a repeated key keeps its last value, as Python's `json.loads`).
/// The score is the number of the reference's top-level keys that the prediction has with an equal value, divided by
/// the number of reference keys (1 for an empty reference object). Extra prediction keys cost nothing. Equality is
/// by JSON type and value: numbers by value (1 equals 1.0), booleans are not numbers, strings exactly, arrays
/// element by element, objects as key sets with equal values (key order ignored).
public enum JSONFields {
    /// The score in [0, 1]; 0 when the prediction is not a JSON object; nil when the reference is not one.
    public static func score(prediction: String, reference: String) -> Double? {
        guard case .object(let ref)? = parse(reference) else { return nil }
        guard case .object(let pred)? = parse(prediction) else { return 0 }
        guard !ref.isEmpty else { return 1 }
        let predicted = byKey(pred)
        let same = ref.filter { field in predicted[Array(field.key.utf8)].map { equal($0, field.value) } ?? false }.count
        return Double(same) / Double(ref.count)
    }

    static func parse(_ text: String) -> JSONValue? {
        let stripped = TextNormalization.pythonStrip(text)
        guard StrictJSON.isValid(stripped) else { return nil }
        return try? JSONParser.parse(stripped, duplicateKeys: .lastWins)
    }

    /// Keys as UTF-8 bytes: Swift's String equality is canonical ("é" == "e\u{301}"), Python's is by code point.
    static func byKey(_ fields: [(key: String, value: JSONValue)]) -> [[UInt8]: JSONValue] {
        Dictionary(fields.map { (Array($0.key.utf8), $0.value) }, uniquingKeysWith: { _, last in last })
    }

    static func equal(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.string(let x), .string(let y)): return x.unicodeScalars.elementsEqual(y.unicodeScalars)   // Python: no normalisation
        case (.integer(let x), .integer(let y)): return x == y
        case (.double(let x), .double(let y)): return x == y
        case (.integer(let x), .double(let y)), (.double(let y), .integer(let x)): return Double(x) == y
        case (.array(let x), .array(let y)): return x.count == y.count && zip(x, y).allSatisfy { equal($0, $1) }
        case (.object(let x), .object(let y)):
            let dx = byKey(x), dy = byKey(y)
            return dx.count == dy.count && dx.allSatisfy { k, v in dy[k].map { equal(v, $0) } ?? false }
        default: return false
        }
    }
}
