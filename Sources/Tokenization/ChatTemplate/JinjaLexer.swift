// Splits template source into text and tag tokens the way jinja2 3.1's lexer does with `trim_blocks=True` and
// `lstrip_blocks=True` (transformers' settings). The whitespace rules are copied from jinja2/lexer.py
// (`tokeniter`, the `OptionalLStrip` branch and the `block_suffix_re` end rules), because a chat template's output
// is only right if every newline and space is.

/// One token of template source.
struct JinjaToken: Equatable {
    enum Kind: Equatable {
        case text(String)
        case variableBegin, variableEnd, blockBegin, blockEnd
        case name(String)
        case string(String)
        case integer(Int)
        case float(Double)
        case op(String)
        case eof
    }
    var kind: Kind
    var line: Int
}

struct JinjaLexer {
    private let s: [Unicode.Scalar]
    private var pos = 0
    private var line = 1
    private var tokens: [JinjaToken] = []
    /// jinja2's `line_starting`: the previous match ended with a newline (or we are at the start), so text before a
    /// block tag with no newline of its own is still the start of a line for lstrip_blocks.
    private var lineStarting = true

    /// Normalizes newlines (`\r\n` and `\r` become `\n`) and drops one trailing newline (`keep_trailing_newline=False`),
    /// as jinja2 does before lexing.
    init(source: String) {
        var text = source.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
        if text.hasSuffix("\n") { text.removeLast() }
        s = Array(text.unicodeScalars)
    }

    static func tokenize(_ source: String) throws -> [JinjaToken] {
        var lexer = JinjaLexer(source: source)
        try lexer.run()
        return lexer.tokens
    }

    private func string(_ range: Range<Int>) -> String { String(String.UnicodeScalarView(s[range])) }
    private func starts(_ text: String, at i: Int) -> Bool {
        var j = i
        for c in text.unicodeScalars {
            guard j < s.count, s[j] == c else { return false }
            j += 1
        }
        return true
    }
    private func syntax(_ message: String, line: Int? = nil) -> ChatTemplateError {
        ChatTemplateError(.syntax, message, line: line ?? self.line)
    }
    private mutating func emitText(_ range: Range<Int>) {
        let text = string(range)
        if !text.isEmpty { tokens.append(JinjaToken(kind: .text(text), line: line)) }
        line += s[range].filter { $0 == "\n" }.count
    }
    private mutating func advance(to end: Int) {
        line += s[pos..<end].filter { $0 == "\n" }.count
        lineStarting = end > pos && s[end - 1] == "\n"
        pos = end
    }

    private mutating func run() throws {
        while pos < s.count {
            // Find the next `{{`, `{%` or `{#`.
            var tag = pos
            while tag + 1 < s.count, !(s[tag] == "{" && (s[tag + 1] == "{" || s[tag + 1] == "%" || s[tag + 1] == "#")) {
                tag += 1
            }
            if tag + 1 >= s.count {
                emitText(pos..<s.count)
                pos = s.count
                break
            }
            let kind = s[tag + 1]
            let sign: Unicode.Scalar? = (tag + 2 < s.count && (s[tag + 2] == "-" || s[tag + 2] == "+")) ? s[tag + 2] : nil
            var textEnd = tag
            if sign == "-" {
                while textEnd > pos, s[textEnd - 1].properties.isWhitespace { textEnd -= 1 }
            } else if sign != "+" && kind != "{" {
                // lstrip_blocks: remove spaces between the start of the line and a block or comment tag.
                var lineStart = tag
                while lineStart > pos, s[lineStart - 1] != "\n" { lineStart -= 1 }
                if (lineStart > pos || lineStarting) && lineStart < tag
                    && s[lineStart..<tag].allSatisfy({ $0.properties.isWhitespace }) {
                    textEnd = lineStart
                }
            }
            emitText(pos..<textEnd)
            line += s[textEnd..<tag].filter { $0 == "\n" }.count
            let tagLine = line
            pos = tag + 2 + (sign == nil ? 0 : 1)
            switch kind {
            case "#": try lexComment(tagLine: tagLine)
            case "{": try lexTag(end: "}}", tagLine: tagLine, isBlock: false)
            default:
                if try lexRawIfPresent(tagLine: tagLine) { continue }
                try lexTag(end: "%}", tagLine: tagLine, isBlock: true)
            }
        }
        tokens.append(JinjaToken(kind: .eof, line: line))
    }

    private mutating func lexComment(tagLine: Int) throws {
        var i = pos
        while i < s.count {
            if starts("+#}", at: i) { advance(to: i + 3); return }
            if starts("-#}", at: i) {
                var j = i + 3
                while j < s.count, s[j].properties.isWhitespace { j += 1 }
                advance(to: j)
                return
            }
            if starts("#}", at: i) {
                var j = i + 2
                if j < s.count, s[j] == "\n" { j += 1 }  // trim_blocks
                advance(to: j)
                return
            }
            i += 1
        }
        throw syntax("missing end of comment tag '#}'", line: tagLine)
    }

    /// `{% raw %}...{% endraw %}`: the body is text, not template code.
    private mutating func lexRawIfPresent(tagLine: Int) throws -> Bool {
        var i = pos
        while i < s.count, s[i].properties.isWhitespace { i += 1 }
        guard starts("raw", at: i) else { return false }
        i += 3
        while i < s.count, s[i].properties.isWhitespace { i += 1 }
        var bodyStart: Int
        if starts("-%}", at: i) {
            bodyStart = i + 3
            while bodyStart < s.count, s[bodyStart].properties.isWhitespace { bodyStart += 1 }
        } else if starts("%}", at: i) {
            bodyStart = i + 2
        } else { return false }
        advance(to: bodyStart)
        // Find `{%[-+]? endraw ...%}`.
        var j = bodyStart
        while j < s.count {
            if starts("{%", at: j) {
                var k = j + 2
                let sign: Unicode.Scalar? = (k < s.count && (s[k] == "-" || s[k] == "+")) ? s[k] : nil
                if sign != nil { k += 1 }
                while k < s.count, s[k].properties.isWhitespace { k += 1 }
                if starts("endraw", at: k) {
                    k += 6
                    while k < s.count, s[k].properties.isWhitespace { k += 1 }
                    var end: Int?
                    if starts("+%}", at: k) { end = k + 3 } else if starts("-%}", at: k) {
                        var e = k + 3
                        while e < s.count, s[e].properties.isWhitespace { e += 1 }
                        end = e
                    } else if starts("%}", at: k) {
                        end = k + 2
                        if end! < s.count, s[end!] == "\n" { end! += 1 }
                    }
                    if let end {
                        var textEnd = j
                        if sign == "-" {
                            while textEnd > bodyStart, s[textEnd - 1].properties.isWhitespace { textEnd -= 1 }
                        } else if sign != "+" {
                            var lineStart = j
                            while lineStart > bodyStart, s[lineStart - 1] != "\n" { lineStart -= 1 }
                            if (lineStart > bodyStart || lineStarting) && lineStart < j
                                && s[lineStart..<j].allSatisfy({ $0.properties.isWhitespace }) {
                                textEnd = lineStart
                            }
                        }
                        emitText(bodyStart..<textEnd)
                        line += s[textEnd..<j].filter { $0 == "\n" }.count
                        pos = j
                        advance(to: end)
                        return true
                    }
                }
            }
            j += 1
        }
        throw syntax("missing end of raw directive '{% endraw %}'", line: tagLine)
    }

    /// Lexes the expression tokens of `{{ ... }}` or `{% ... %}` up to the matching end marker. Like jinja2, an end
    /// marker only counts when every bracket opened inside the tag is closed.
    private mutating func lexTag(end: String, tagLine: Int, isBlock: Bool) throws {
        tokens.append(JinjaToken(kind: isBlock ? .blockBegin : .variableBegin, line: tagLine))
        var brackets: [Unicode.Scalar] = []
        while true {
            guard pos < s.count else {
                throw syntax("unexpected end of template, expected '\(end)' to close the tag opened", line: tagLine)
            }
            if brackets.isEmpty {
                var endPos: Int?
                if isBlock && starts("+%}", at: pos) {
                    endPos = pos + 3
                } else if starts("-" + end, at: pos) {
                    var j = pos + 3
                    while j < s.count, s[j].properties.isWhitespace { j += 1 }
                    endPos = j
                } else if starts(end, at: pos) {
                    endPos = pos + 2
                    if isBlock, endPos! < s.count, s[endPos!] == "\n" { endPos! += 1 }  // trim_blocks
                }
                if let endPos {
                    tokens.append(JinjaToken(kind: isBlock ? .blockEnd : .variableEnd, line: line))
                    advance(to: endPos)
                    return
                }
            }
            let c = s[pos]
            if c.properties.isWhitespace {
                var j = pos
                while j < s.count, s[j].properties.isWhitespace { j += 1 }
                advance(to: j)
                continue
            }
            let tokenLine = line
            if c == "_" || c.properties.isAlphabetic {
                var j = pos
                while j < s.count, s[j] == "_" || s[j].properties.isAlphabetic || s[j].properties.numericType == .decimal {
                    j += 1
                }
                tokens.append(JinjaToken(kind: .name(string(pos..<j)), line: tokenLine))
                advance(to: j)
                continue
            }
            if ("0"..."9").contains(c) {
                try lexNumber()
                continue
            }
            if c == "'" || c == "\"" {
                try lexString(quote: c)
                continue
            }
            let ops = ["//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[", "]", "(", ")", "{", "}",
                       "<", ">", "=", ".", ":", "|", ",", ";"]
            guard let op = ops.first(where: { starts($0, at: pos) }) else {
                throw syntax("unexpected character '\(c)' inside a tag")
            }
            switch op {
            case "(": brackets.append(")")
            case "[": brackets.append("]")
            case "{": brackets.append("}")
            case ")", "]", "}":
                guard let expected = brackets.popLast() else { throw syntax("unexpected '\(op)'") }
                if String(expected) != op { throw syntax("unexpected '\(op)', expected '\(expected)'") }
            default: break
            }
            tokens.append(JinjaToken(kind: .op(op), line: tokenLine))
            advance(to: pos + op.unicodeScalars.count)
        }
    }

    private mutating func lexNumber() throws {
        var j = pos
        func digits() { while j < s.count, ("0"..."9").contains(s[j]) || (s[j] == "_" && j + 1 < s.count && ("0"..."9").contains(s[j + 1])) { j += 1 } }
        digits()
        var isFloat = false
        if j + 1 < s.count, s[j] == ".", ("0"..."9").contains(s[j + 1]) {
            isFloat = true
            j += 1
            digits()
        }
        if j < s.count, s[j] == "e" || s[j] == "E" {
            var k = j + 1
            if k < s.count, s[k] == "+" || s[k] == "-" { k += 1 }
            if k < s.count, ("0"..."9").contains(s[k]) {
                isFloat = true
                j = k
                digits()
            }
        }
        let text = string(pos..<j).replacingOccurrences(of: "_", with: "")
        if isFloat {
            guard let d = Double(text) else { throw syntax("invalid number '\(text)'") }
            tokens.append(JinjaToken(kind: .float(d), line: line))
        } else {
            guard let i = Int(text) else { throw syntax("integer '\(text)' is too large") }
            tokens.append(JinjaToken(kind: .integer(i), line: line))
        }
        advance(to: j)
    }

    /// String literals decode like Python's `unicode-escape` (jinja2 lexer `_unescape`): unknown escapes stay verbatim.
    private mutating func lexString(quote: Unicode.Scalar) throws {
        let startLine = line
        var j = pos + 1
        var out = String.UnicodeScalarView()
        while true {
            guard j < s.count else { throw syntax("unterminated string literal", line: startLine) }
            let c = s[j]
            if c == quote { j += 1; break }
            if c != "\\" { out.append(c); j += 1; continue }
            guard j + 1 < s.count else { throw syntax("unterminated string literal", line: startLine) }
            let e = s[j + 1]
            j += 2
            func hexEscape(_ n: Int) throws {
                guard j + n <= s.count, let v = UInt32(string(j..<j + n), radix: 16), let scalar = Unicode.Scalar(v) else {
                    throw syntax("invalid \\\(e) escape in string literal", line: startLine)
                }
                out.append(scalar)
                j += n
            }
            switch e {
            case "n": out.append("\n")
            case "t": out.append("\t")
            case "r": out.append("\r")
            case "\\": out.append("\\")
            case "'": out.append("'")
            case "\"": out.append("\"")
            case "a": out.append("\u{07}")
            case "b": out.append("\u{08}")
            case "f": out.append("\u{0C}")
            case "v": out.append("\u{0B}")
            case "\n": break
            case "x": try hexEscape(2)
            case "u": try hexEscape(4)
            case "U": try hexEscape(8)
            case "0"..."7":
                var v = e.value - 48
                var n = 1
                while n < 3, j < s.count, ("0"..."7").contains(s[j]) { v = v * 8 + s[j].value - 48; j += 1; n += 1 }
                guard let scalar = Unicode.Scalar(v) else { throw syntax("invalid octal escape", line: startLine) }
                out.append(scalar)
            case "N": throw syntax("\\N{...} escapes in string literals are not supported", line: startLine)
            default:
                out.append("\\")
                out.append(e)
            }
        }
        tokens.append(JinjaToken(kind: .string(String(out)), line: startLine))
        advance(to: j)
    }
}
