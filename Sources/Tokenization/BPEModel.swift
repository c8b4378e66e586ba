import Synchronization

/// Byte-pair encoding: a vocabulary, ranked merges, and the rules for characters missing from the vocabulary.
///
/// One word is tokenized like HF `tokenizers` (models/bpe/word.rs `merge_all`): start from one symbol per
/// character, then repeatedly apply the adjacent merge with the lowest rank, leftmost first. Symbols live in a
/// doubly linked list inside flat arrays and candidate merges in a binary heap keyed by (rank, position), so a word
/// of n characters costs O(n log n). Results are cached per word because real text repeats words constantly.
final class BPEModel: Sendable {
    let vocab: [String: Int32]
    let idToToken: [String]
    /// (left id << 32 | right id) → (rank << 32 | merged id).
    let merges: [UInt64: UInt64]
    let unkID: Int32?
    let fuseUnk: Bool
    let byteFallback: Bool
    let ignoreMerges: Bool
    /// Single-character token ids for scalars below 0x800 (fast path), -1 when absent.
    let charIDs: [Int32]
    /// Single-character token ids for the other scalars, keyed by scalar value: a `String` key would use Swift's
    /// canonical equivalence and find "K" for the Kelvin sign or 豈 for U+F900, where HF sees an unknown character.
    let wideCharIDs: [UInt32: Int32]
    /// `<0xHH>` token ids, when byte_fallback is on.
    let byteIDs: [Int32]
    private let cache = Mutex<[[UInt32]: [Int32]]>([:])
    static let cacheLimit = 200_000

    init(vocab: [String: Int32], merges: [(String, String)], unk: String?, fuseUnk: Bool, byteFallback: Bool,
         ignoreMerges: Bool, file: String) throws {
        self.vocab = vocab
        var maxID: Int32 = -1
        for (_, id) in vocab where id > maxID { maxID = id }
        // Ids index a dense table; a stray huge id would allocate gigabytes instead of failing clearly.
        guard Int(maxID) < vocab.count + 1_000_000 else {
            throw TokenizerError.invalidValue(file: file, key: "model.vocab", reason: "id \(maxID) is far beyond the \(vocab.count) entries")
        }
        var names = [String](repeating: "", count: Int(maxID + 1))
        for (token, id) in vocab where id >= 0 { names[Int(id)] = token }
        idToToken = names
        var table: [UInt64: UInt64] = [:]
        table.reserveCapacity(merges.count)
        for (rank, (a, b)) in merges.enumerated() {
            guard let ia = vocab[a], let ib = vocab[b] else {
                throw TokenizerError.invalidValue(file: file, key: "model.merges[\(rank)]",
                                                  reason: "merge '\(a) \(b)' uses a token missing from the vocabulary")
            }
            guard let merged = vocab[a + b] else {
                throw TokenizerError.invalidValue(file: file, key: "model.merges[\(rank)]",
                                                  reason: "merge result '\(a + b)' is missing from the vocabulary")
            }
            let key = UInt64(UInt32(bitPattern: ia)) << 32 | UInt64(UInt32(bitPattern: ib))
            if table[key] == nil { table[key] = UInt64(rank) << 32 | UInt64(UInt32(bitPattern: merged)) }
        }
        self.merges = table
        if let unk {
            guard let id = vocab[unk] else {
                throw TokenizerError.invalidValue(file: file, key: "model.unk_token", reason: "'\(unk)' is not in the vocabulary")
            }
            unkID = id
        } else {
            unkID = nil
        }
        self.fuseUnk = fuseUnk
        self.byteFallback = byteFallback
        self.ignoreMerges = ignoreMerges
        var chars = [Int32](repeating: -1, count: 0x800)
        var wide: [UInt32: Int32] = [:]
        for (token, id) in vocab {
            let us = token.unicodeScalars
            guard us.count == 1, let u = us.first else { continue }
            if u.value < 0x800 { chars[Int(u.value)] = id } else { wide[u.value] = id }
        }
        charIDs = chars
        wideCharIDs = wide
        var bytes = [Int32](repeating: -1, count: 256)
        if byteFallback {
            for b in 0..<256 { bytes[b] = vocab[Self.byteToken(UInt8(b))] ?? -1 }
        }
        byteIDs = bytes
    }

    static func byteToken(_ b: UInt8) -> String {
        let hex = Array("0123456789ABCDEF")
        return "<0x\(hex[Int(b >> 4)])\(hex[Int(b & 15)])>"
    }

    @inline(__always)
    func charID(_ v: UInt32) -> Int32? {
        if v < 0x800 {
            let id = charIDs[Int(v)]
            return id >= 0 ? id : nil
        }
        return wideCharIDs[v]
    }

    /// Appends the ids of one pre-tokenized word.
    func tokenize(_ word: [UInt32], into out: inout [Int32]) {
        if word.isEmpty { return }
        if let hit = cache.withLock({ $0[word] }) {
            out.append(contentsOf: hit)
            return
        }
        var ids: [Int32] = []
        if ignoreMerges, let id = vocab[word.string] {
            ids = [id]
        } else {
            ids = mergeWord(word)
        }
        out.append(contentsOf: ids)
        cache.withLock { c in
            if c.count >= Self.cacheLimit { c.removeAll(keepingCapacity: true) }
            c[word] = ids
        }
    }

    /// Initial symbols (characters, byte fallback, unknown) then merges by rank.
    func mergeWord(_ word: [UInt32]) -> [Int32] {
        var symbols: [Int32] = []
        symbols.reserveCapacity(word.count)
        var lastWasUnk = false
        for v in word {
            if let id = charID(v) {
                symbols.append(id)
                lastWasUnk = false
                continue
            }
            if byteFallback, let u = Unicode.Scalar(v) {
                let utf8 = Array(String(Character(u)).utf8)
                if utf8.allSatisfy({ byteIDs[Int($0)] >= 0 }) {
                    for b in utf8 { symbols.append(byteIDs[Int(b)]) }
                    lastWasUnk = false
                    continue
                }
            }
            if let unk = unkID {
                if !(fuseUnk && lastWasUnk) { symbols.append(unk) }
                lastWasUnk = true
            }
        }
        return Self.merge(symbols, merges)
    }

    /// Applies the merges of `table` ((left << 32 | right) → (rank << 32 | merged)) to `symbols`, lowest rank
    /// first and leftmost among equal ranks, until no adjacent pair has a merge.
    static func merge(_ input: [Int32], _ table: [UInt64: UInt64]) -> [Int32] {
        var symbols = input
        let n = symbols.count
        if n < 2 { return symbols }
        var next = [Int32](repeating: 0, count: n)
        var prev = [Int32](repeating: 0, count: n)
        var alive = [Bool](repeating: true, count: n)
        for i in 0..<n { next[i] = Int32(i + 1); prev[i] = Int32(i - 1) }
        next[n - 1] = -1
        var heap = MinHeap()
        heap.reserve(n)
        @inline(__always) func rankOf(_ a: Int32, _ b: Int32) -> UInt64? {
            table[UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b))]
        }
        for i in 0..<(n - 1) {
            if let m = rankOf(symbols[i], symbols[i + 1]) { heap.push((m >> 32) << 32 | UInt64(i)) }
        }
        while let top = heap.pop() {
            let pos = Int(top & 0xFFFF_FFFF)
            let rank = top >> 32
            guard alive[pos] else { continue }
            let right = Int(next[pos])
            guard right >= 0 else { continue }
            // Stale entries: the pair at pos changed since this candidate was pushed.
            guard let m = rankOf(symbols[pos], symbols[right]), m >> 32 == rank else { continue }
            symbols[pos] = Int32(truncatingIfNeeded: m & 0xFFFF_FFFF)
            alive[right] = false
            let after = next[right]
            next[pos] = after
            if after >= 0 { prev[Int(after)] = Int32(pos) }
            let before = prev[pos]
            if before >= 0, let mm = rankOf(symbols[Int(before)], symbols[pos]) {
                heap.push((mm >> 32) << 32 | UInt64(before))
            }
            if after >= 0, let mm = rankOf(symbols[pos], symbols[Int(after)]) {
                heap.push((mm >> 32) << 32 | UInt64(pos))
            }
        }
        var result: [Int32] = []
        result.reserveCapacity(n)
        var i: Int32 = 0
        while i >= 0 { result.append(symbols[Int(i)]); i = next[Int(i)] }
        return result
    }
}

/// A binary min-heap of packed (rank << 32 | position) keys: lowest rank first, then leftmost.
struct MinHeap {
    private var items: [UInt64] = []

    mutating func reserve(_ n: Int) { items.reserveCapacity(n) }

    mutating func push(_ x: UInt64) {
        items.append(x)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if items[parent] <= x { break }
            items[i] = items[parent]
            i = parent
        }
        items[i] = x
    }

    mutating func pop() -> UInt64? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if items.isEmpty { return top }
        var i = 0
        let n = items.count
        while true {
            let l = 2 * i + 1
            if l >= n { break }
            var c = l
            if l + 1 < n && items[l + 1] < items[l] { c = l + 1 }
            if items[c] >= last { break }
            items[i] = items[c]
            i = c
        }
        items[i] = last
        return top
    }
}
