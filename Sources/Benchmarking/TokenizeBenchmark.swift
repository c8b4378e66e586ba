import Foundation
import Tokenization

/// Single-thread encode throughput, measured the way /work/shared/bench/tokenizers_anchor.py measures HF
/// `tokenizers`: the file is read with universal newlines and split like Python's `str.splitlines(keepends=True)`, each line is one
/// `encode` call without special tokens, one warm-up pass, then the best of `passes` timed passes.
public enum TokenizeBenchmark {
    public struct Report: Codable, Sendable {
        public var tool: String
        public var version: String
        public var tokenizer: String
        public var file: String
        public var lines: Int
        public var bytes: Int
        public var tokens: Int
        public var seconds: Double
        public var MB_per_s: Double
        public var tokens_per_s: Double
        public var passes: Int
    }

    public static func run(tokenizerPath: String, textFile: String, passes: Int, version: String) throws -> Report {
        let tokenizer = try Tokenizer.load(path: tokenizerPath)
        guard let data = FileManager.default.contents(atPath: textFile) else {
            throw TokenizerError.unreadable(file: textFile, reason: "no such file or not readable")
        }
        // Python's text mode (universal newlines) turns \r\n and \r into \n before the anchor splits lines.
        let text = String(decoding: data, as: UTF8.self)
            .replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
        let lines = splitLines(text)
        let bytes = lines.reduce(0) { $0 + $1.utf8.count }
        var tokens = 0
        for line in lines { tokens += tokenizer.encode32(line, addSpecialTokens: false).count }
        var best = Double.infinity
        for _ in 0..<max(1, passes) {
            let start = DispatchTime.now().uptimeNanoseconds
            var count = 0
            for line in lines { count += tokenizer.encode32(line, addSpecialTokens: false).count }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            best = min(best, seconds)
            tokens = count
        }
        return Report(tool: "whittle", version: version, tokenizer: tokenizerPath, file: textFile, lines: lines.count,
                      bytes: bytes, tokens: tokens, seconds: best, MB_per_s: Double(bytes) / best / 1e6,
                      tokens_per_s: Double(tokens) / best, passes: max(1, passes))
    }

    /// Python's `splitlines(keepends=True)`: breaks after \n, \r, \r\n, \v, \f, \x1c-\x1e, \x85, U+2028, U+2029.
    static func splitLines(_ text: String) -> [String] {
        var lines: [String] = []
        let scalars = Array(text.unicodeScalars)
        var start = 0
        var i = 0
        func emit(_ end: Int) {
            var view = String.UnicodeScalarView()
            view.append(contentsOf: scalars[start..<end])
            lines.append(String(view))
            start = end
        }
        while i < scalars.count {
            let v = scalars[i].value
            if v == 0x0D && i + 1 < scalars.count && scalars[i + 1].value == 0x0A {
                i += 2
                emit(i)
            } else if v == 0x0A || v == 0x0D || v == 0x0B || v == 0x0C || (0x1C...0x1E).contains(v) || v == 0x85 || v == 0x2028 || v == 0x2029 {
                i += 1
                emit(i)
            } else {
                i += 1
            }
        }
        if start < scalars.count { emit(scalars.count) }
        return lines
    }
}
