import Foundation

/// SentencePiece-style BPE driven by piece scores, as llama2.c `run.c` and llama.cpp's SPM tokenizer run it.
///
/// Start from one symbol per character (a character missing from the vocabulary becomes its UTF-8 byte pieces),
/// then repeatedly merge the adjacent pair whose concatenation is a piece with the highest score, leftmost on ties.
struct ScoredVocabulary: Sendable {
    let pieces: [String]
    let scores: [Float]
    let lookup: [String: Int32]
    let byteIDs: [Int32]
    let bos: Int32?
    let eos: Int32?
    /// The string that stands for a space inside pieces: " " (tokenizer.bin) or "▁" (SentencePiece / GGUF).
    let space: String
    /// Prepend one space to non-empty text (llama2.c's dummy prefix, GGUF `add_space_prefix`).
    let addSpacePrefix: Bool
    /// Ids that decode to nothing with `skipSpecialTokens` (BOS, EOS, control tokens).
    let specialIDs: Set<Int32>

    init(pieces: [String], scores: [Float], bos: Int32?, eos: Int32?, space: String, addSpacePrefix: Bool, specialIDs: Set<Int32>) {
        self.pieces = pieces
        self.scores = scores
        var lookup: [String: Int32] = [:]
        for (i, p) in pieces.enumerated() where lookup[p] == nil { lookup[p] = Int32(i) }
        self.lookup = lookup
        byteIDs = (0..<256).map { lookup[BPEModel.byteToken(UInt8($0))] ?? -1 }
        self.bos = bos
        self.eos = eos
        self.space = space
        self.addSpacePrefix = addSpacePrefix
        self.specialIDs = specialIDs
    }

    func encode(_ text: String, addBOS: Bool) -> [Int32] {
        var out: [Int32] = []
        if addBOS, let bos { out.append(bos) }
        guard !text.isEmpty else { return out }
        var symbols: [String] = []
        var ids: [Int32] = []
        let body = space == " " ? text : text.replacingOccurrences(of: " ", with: space)
        var chars: [String] = addSpacePrefix ? [space] : []
        for u in body.unicodeScalars { chars.append(String(Character(u))) }
        for c in chars {
            if let id = lookup[c] {
                symbols.append(c)
                ids.append(id)
            } else {
                for b in c.utf8 {
                    let id = byteIDs[Int(b)]
                    guard id >= 0 else { continue }
                    symbols.append(pieces[Int(id)])
                    ids.append(id)
                }
            }
        }
        while symbols.count > 1 {
            var bestScore = -Float.infinity
            var bestIndex = -1
            var bestID: Int32 = -1
            for i in 0..<(symbols.count - 1) {
                if let id = lookup[symbols[i] + symbols[i + 1]], scores[Int(id)] > bestScore {
                    bestScore = scores[Int(id)]
                    bestIndex = i
                    bestID = id
                }
            }
            if bestIndex < 0 { break }
            symbols[bestIndex] += symbols[bestIndex + 1]
            ids[bestIndex] = bestID
            symbols.remove(at: bestIndex + 1)
            ids.remove(at: bestIndex + 1)
        }
        out.append(contentsOf: ids)
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
            if space != " " { piece = piece.replacingOccurrences(of: space, with: " ") }
            if first && addSpacePrefix && piece.hasPrefix(" ") { piece.removeFirst() }
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
        guard pieces.count > 2 else { throw TokenizerError.malformed(file: path, reason: "only \(pieces.count) tokens") }
        let vocabulary = ScoredVocabulary(pieces: pieces, scores: scores, bos: 1, eos: 2, space: " ", addSpacePrefix: true,
                                          specialIDs: [0, 1, 2])
        var special = SpecialTokens(bos: pieces[1], eos: pieces[2], unk: pieces[0])
        special.bosID = 1
        special.eosID = 2
        special.unkID = 0
        self.init(engine: .scored(vocabulary), source: path, specialTokens: special)
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
