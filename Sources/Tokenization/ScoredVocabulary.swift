import Foundation

/// SentencePiece-style BPE driven by piece scores, as llama2.c `run.c` and llama.cpp's SPM tokenizer run it.
///
/// Start from one symbol per character (a character missing from the vocabulary becomes its UTF-8 byte pieces),
/// then repeatedly merge the adjacent pair whose concatenation is a piece with the highest score, leftmost on ties.
/// run.c rescans every pair after each merge (quadratic); here the concatenations are tabulated once as ranked
/// pairs so the same heap-driven merge as `BPEModel` applies, giving identical ids in O(n log n).
struct ScoredVocabulary: Sendable {
    let pieces: [String]
    let scores: [Float]
    let lookup: [String: Int32]
    let byteIDs: [Int32]
    let bos: Int32?
    let eos: Int32?
    /// The string that stands for a space inside pieces: " " (tokenizer.bin) or "▁" (SentencePiece / GGUF).
    let space: String
    let spaceScalar: UInt32
    /// Prepend one space to non-empty text (llama2.c's dummy prefix, GGUF `add_space_prefix`).
    let addSpacePrefix: Bool
    /// Ids that decode to nothing with `skipSpecialTokens` (BOS, EOS, control tokens).
    let specialIDs: Set<Int32>
    /// Single-scalar pieces by scalar value (exact, unlike a `String` key under canonical equivalence).
    let charIDs: [UInt32: Int32]
    /// (left << 32 | right) → (score rank << 32 | merged id) for every piece that is the concatenation of two
    /// pieces. Rank 0 is the highest score; equal scores share a rank so the leftmost pair wins, as in run.c.
    let pairs: [UInt64: UInt64]

    init(pieces: [String], scores: [Float], bos: Int32?, eos: Int32?, space: String, addSpacePrefix: Bool, specialIDs: Set<Int32>) {
        self.pieces = pieces
        self.scores = scores
        var lookup: [String: Int32] = [:]
        var exact: [[UInt32]: Int32] = [:]
        var chars: [UInt32: Int32] = [:]
        let scalars = pieces.map { Array(scalarsOf: $0) }
        for (i, s) in scalars.enumerated() {
            if exact[s] == nil { exact[s] = Int32(i) }
            if s.count == 1, chars[s[0]] == nil { chars[s[0]] = Int32(i) }
            if lookup[pieces[i]] == nil { lookup[pieces[i]] = Int32(i) }
        }
        self.lookup = lookup
        charIDs = chars
        let distinct = Array(Set(scores)).sorted(by: >)
        var rankOfScore: [Float: Int] = [:]
        for (r, v) in distinct.enumerated() { rankOfScore[v] = r }
        var pairs: [UInt64: UInt64] = [:]
        for (m, s) in scalars.enumerated() where s.count >= 2 {
            guard exact[s] == Int32(m) else { continue }
            let rank = UInt64(rankOfScore[scores[m]] ?? distinct.count)
            for k in 1..<s.count {
                guard let a = exact[Array(s[0..<k])], let b = exact[Array(s[k...])] else { continue }
                let key = UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b))
                if pairs[key] == nil { pairs[key] = rank << 32 | UInt64(m) }
            }
        }
        self.pairs = pairs
        byteIDs = (0..<256).map { exact[Array(scalarsOf: BPEModel.byteToken(UInt8($0)))] ?? -1 }
        self.bos = bos
        self.eos = eos
        self.space = space
        spaceScalar = space.unicodeScalars.first?.value ?? 0x20
        self.addSpacePrefix = addSpacePrefix
        self.specialIDs = specialIDs
    }

    func encode(_ text: String, addBOS: Bool) -> [Int32] {
        var out: [Int32] = []
        if addBOS, let bos { out.append(bos) }
        guard !text.isEmpty else { return out }
        var symbols: [Int32] = []
        var utf8: [UInt8] = []
        func add(_ v: UInt32) {
            if let id = charIDs[v] { symbols.append(id); return }
            guard let u = Unicode.Scalar(v) else { return }
            utf8.removeAll(keepingCapacity: true)
            utf8.append(contentsOf: String(Character(u)).utf8)
            for b in utf8 where byteIDs[Int(b)] >= 0 { symbols.append(byteIDs[Int(b)]) }
        }
        if addSpacePrefix { add(spaceScalar) }
        for u in text.unicodeScalars { add(u.value == 0x20 ? spaceScalar : u.value) }
        out.append(contentsOf: BPEModel.merge(symbols, pairs))
        return out
    }

    func decode(_ ids: [Int], skipSpecialTokens: Bool) -> String {
        var bytes: [UInt8] = []
        var first = true
        for id in ids {
            guard id >= 0 && id < pieces.count else { continue }
            if specialIDs.contains(Int32(id)) {
                if !skipSpecialTokens { bytes.append(contentsOf: Array(pieces[id].utf8)) }
                continue
            }
            var piece = pieces[id]
            if let b = Decoder.byteValue(piece) {
                bytes.append(b)
                first = false
                continue
            }
            if spaceScalar != 0x20 { piece = Array(scalarsOf: piece).map { $0 == spaceScalar ? 0x20 : $0 }.string }
            // Scalar-wise: a space followed by a combining mark is one Character, and only the space goes.
            if first && addSpacePrefix && piece.unicodeScalars.first == " " { piece.unicodeScalars.removeFirst() }
            first = false
            bytes.append(contentsOf: Array(piece.utf8))
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension Tokenizer {
    /// Reads a llama2.c tokenizer.bin: uint32 max_token_length, then per id float32 score, int32 length, bytes.
    /// The vocabulary size is not stored; the file is read to its end. Encoding follows run.c: BOS (id 1), the
    /// dummy-prefix space, then merges by score; ids 1 and 2 are BOS and EOS.
    public convenience init(llama2cTokenizer path: String) throws {
        let (pieces, scores) = try Self.readTokenizerBin(path)
        let vocabulary = ScoredVocabulary(pieces: pieces, scores: scores, bos: 1, eos: 2, space: " ", addSpacePrefix: true,
                                          specialIDs: [0, 1, 2])
        var special = SpecialTokens(bos: pieces[1], eos: pieces[2], unk: pieces[0])
        special.bosID = 1
        special.eosID = 2
        special.unkID = 0
        self.init(engine: .scored(vocabulary), source: path, specialTokens: special)
    }
}

extension Tokenizer {
    /// The pieces and scores of a llama2.c tokenizer.bin (uint32 max_token_length, then per id: float32 score,
    /// int32 length, bytes). Shared by the tokenizer and the tokenizer.json conversion.
    static func readTokenizerBin(_ path: String) throws -> (pieces: [String], scores: [Float]) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TokenizerError.unreadable(file: path, reason: "no such file or not readable")
        }
        var reader = ByteReader(data: data, file: path)
        _ = try reader.u32("max_token_length")
        var pieces: [String] = []
        var scores: [Float] = []
        while !reader.atEnd {
            let index = pieces.count
            let score = Float(bitPattern: try reader.u32("score of token \(index)"))
            let length = try reader.u32("length of token \(index)")
            let bytes = try reader.bytes(Int(length), "bytes of token \(index)")
            pieces.append(String(decoding: bytes, as: UTF8.self))
            scores.append(score)
        }
        guard pieces.count > 3 else { throw TokenizerError.malformed(file: path, reason: "only \(pieces.count) tokens") }
        return (pieces, scores)
    }
}

/// Bounds-checked little-endian reads; running past the end is a `TokenizerError.malformed` naming what was read.
struct ByteReader {
    let data: [UInt8]
    let file: String
    var offset = 0

    init(data: Data, file: String) {
        self.data = [UInt8](data)
        self.file = file
    }

    var atEnd: Bool { offset >= data.count }

    mutating func bytes(_ n: Int, _ what: String) throws -> ArraySlice<UInt8> {
        guard n >= 0, n <= data.count - offset else {
            throw TokenizerError.malformed(file: file, reason: "truncated at byte \(offset) while reading \(what) (\(n) bytes needed, \(data.count - offset) left)")
        }
        defer { offset += n }
        return data[offset..<(offset + n)]
    }

    mutating func u8(_ what: String) throws -> UInt8 { try bytes(1, what).first ?? 0 }

    mutating func u32(_ what: String) throws -> UInt32 {
        let b = try bytes(4, what)
        return b.reversed().reduce(0) { $0 << 8 | UInt32($1) }
    }

    mutating func u64(_ what: String) throws -> UInt64 {
        let b = try bytes(8, what)
        return b.reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }
}
