/// JSON text of a value: keys in their order, strings escaped per RFC 8259 (non-ASCII kept as UTF-8),
/// integers as integers, doubles in shortest round-trip form. `indent` > 0 pretty-prints.
extension JSONValue {
    public func serialized(indent: Int = 0) -> String {
        var out = ""
        write(into: &out, indent: indent, level: 0)
        return out
    }

    private func write(into out: inout String, indent: Int, level: Int) {
        let newline = indent > 0 ? "\n" : ""
        func pad(_ l: Int) -> String { String(repeating: " ", count: indent * l) }
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .integer(let i): out += String(i)
        case .double(let d):
            if d.isFinite { out += d == d.rounded() && abs(d) < 1e16 ? String(format: d) : "\(d)" } else { out += "null" }
        case .string(let s): out += JSONValue.quoted(s)
        case .array(let items):
            if items.isEmpty { out += "[]"; return }
            out += "[" + newline
            for (i, v) in items.enumerated() {
                out += pad(level + 1)
                v.write(into: &out, indent: indent, level: level + 1)
                out += (i + 1 < items.count ? "," : "") + newline
            }
            out += pad(level) + "]"
        case .object(let pairs):
            if pairs.isEmpty { out += "{}"; return }
            out += "{" + newline
            for (i, p) in pairs.enumerated() {
                out += pad(level + 1) + JSONValue.quoted(p.key) + (indent > 0 ? ": " : ":")
                p.value.write(into: &out, indent: indent, level: level + 1)
                out += (i + 1 < pairs.count ? "," : "") + newline
            }
            out += pad(level) + "}"
        }
    }

    /// A JSON string literal, escaped as Python's `json.dumps` does: `"` `\` and control characters; with
    /// `ensureASCII`, DEL and everything past ASCII as `\uXXXX` (UTF-16 surrogate pairs above the BMP).
    public static func quoted(_ s: String, ensureASCII: Bool = false) -> String {
        func hex4(_ v: UInt32) -> String {
            let h = String(v, radix: 16)
            return String(repeating: "0", count: max(0, 4 - h.count)) + h
        }
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if scalar.value < 0x20 || (ensureASCII && scalar.value == 0x7F) {
                    out += "\\u" + hex4(scalar.value)
                } else if ensureASCII && scalar.value > 0x7F {
                    for unit in String(scalar).utf16 { out += "\\u" + hex4(UInt32(unit)) }
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}

private extension String {
    /// "3.0" for a whole double (keeps the float/int distinction readers rely on).
    init(format d: Double) { self = "\(d)" }
}
