import FileSupport
import Foundation

/// Tokenized examples stored on disk, memory-mapped, and reused across runs.
///
/// The key is a SHA-256 over everything that decides the tokens: the data files' bytes, the tokenizer files'
/// bytes, the chat template, and the preparation settings. A file whose key, magic, version or sizes do not
/// match is never used (it is rebuilt). Layout (little-endian):
///
///     "WTKC" u32 version | key[32] | u64 examples | u64 tokens | u64 offsets[examples + 1]
///     | u32 lines[examples] | u32 fileIndex[examples] | u32 files, then (u32 length, UTF-8 path) per file
///     | i32 tokens[tokens] | u8 trained[tokens]
///
/// Writing streams tokens and masks to temporary files, so memory stays bounded by the example count, and the
/// finished cache replaces the old one atomically.
public final class TokenCache: @unchecked Sendable {
    public static let version: UInt32 = 1
    public let path: String
    public let key: [UInt8]
    public let count: Int
    public let tokenCount: Int
    private let map: MappedFile
    private let offsetsAt: Int, linesAt: Int, fileIndexAt: Int, tokensAt: Int, maskAt: Int
    public let files: [String]

    /// The cache key for a data set: hashes of every input that decides the tokens, length-prefixed.
    public static func key(dataFiles: [String], tokenizerFiles: [String], template: String, settings: String) throws -> [UInt8] {
        var h = SHA256()
        func add(_ label: String, _ bytes: UnsafeRawBufferPointer) {
            h.update("\(label):\(bytes.count):")
            h.update(bytes)
        }
        for f in dataFiles + tokenizerFiles {
            // Length-prefixed like the other parts; the bytes are streamed, never held or mapped whole.
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: f), let size = attributes[.size] as? Int else {
                throw FileError(path: f, "cannot read the file's size")
            }
            h.update("file:\(size):")
            try h.update(fileAt: f)
        }
        Array(template.utf8).withUnsafeBytes { add("template", $0) }
        Array(settings.utf8).withUnsafeBytes { add("settings", $0) }
        return h.finalize()
    }

    /// Opens an existing cache; nil when it is absent, was made for another key, or is damaged (then rebuild).
    public static func open(path: String, key: [UInt8]) -> TokenCache? {
        try? TokenCache(path: path, expectedKey: key)
    }

    private init(path: String, expectedKey: [UInt8]) throws {
        self.path = path
        map = try MappedFile(path: path)
        let b = map.bytes
        func fail(_ why: String) -> FileError { FileError(path: path, "not a usable token cache: \(why)") }
        func u32(_ at: Int) throws -> UInt32 {
            guard at + 4 <= b.count else { throw fail("truncated") }
            return b.loadUnaligned(fromByteOffset: at, as: UInt32.self).littleEndian
        }
        func u64(_ at: Int) throws -> Int {
            guard at + 8 <= b.count else { throw fail("truncated") }
            return Int(b.loadUnaligned(fromByteOffset: at, as: UInt64.self).littleEndian)
        }
        guard b.count >= 56, Array(b[0..<4]) == Array("WTKC".utf8) else { throw fail("bad magic") }
        guard try u32(4) == Self.version else { throw fail("version \(try u32(4))") }
        key = Array(b[8..<40])
        guard key == expectedKey else { throw fail("made for other inputs") }
        count = try u64(40)
        tokenCount = try u64(48)
        guard count >= 0, tokenCount >= 0, count < 1 << 40, tokenCount < 1 << 44 else { throw fail("bad sizes") }
        offsetsAt = 56
        linesAt = offsetsAt + 8 * (count + 1)
        fileIndexAt = linesAt + 4 * count
        var at = fileIndexAt + 4 * count
        let nFiles = Int(try u32(at))
        at += 4
        var names: [String] = []
        for _ in 0..<nFiles {
            let n = Int(try u32(at))
            at += 4
            guard at + n <= b.count else { throw fail("truncated file table") }
            names.append(String(decoding: b[at..<(at + n)], as: UTF8.self))
            at += n
        }
        files = names
        tokensAt = at
        maskAt = tokensAt + 4 * tokenCount
        guard maskAt + tokenCount == b.count else { throw fail("size \(b.count) does not match its header") }
        guard try u64(offsetsAt) == 0, try u64(offsetsAt + 8 * count) == tokenCount else { throw fail("bad offsets") }
    }

    /// Example `i`, copied out of the map.
    public subscript(i: Int) -> TokenizedExample {
        precondition(i >= 0 && i < count, "example \(i) of \(count)")
        let b = map.bytes
        let start = Int(b.loadUnaligned(fromByteOffset: offsetsAt + 8 * i, as: UInt64.self).littleEndian)
        let end = Int(b.loadUnaligned(fromByteOffset: offsetsAt + 8 * (i + 1), as: UInt64.self).littleEndian)
        let tokens = (start..<end).map { Int32(littleEndian: b.loadUnaligned(fromByteOffset: tokensAt + 4 * $0, as: Int32.self)) }
        let trained = (start..<end).map { b[maskAt + $0] != 0 }
        let line = Int(b.loadUnaligned(fromByteOffset: linesAt + 4 * i, as: UInt32.self).littleEndian)
        let file = Int(b.loadUnaligned(fromByteOffset: fileIndexAt + 4 * i, as: UInt32.self).littleEndian)
        return TokenizedExample(tokens: tokens, trained: trained, file: file < files.count ? files[file] : "", line: line)
    }

    public var examples: [TokenizedExample] { (0..<count).map { self[$0] } }

    // MARK: - Writing

    /// Streams examples into a new cache file at `path`, replacing any old one atomically on `finish()`.
    public final class Writer {
        private let path: String
        private let key: [UInt8]
        private let tokensURL: URL, maskURL: URL
        private let tokensOut: FileHandle, maskOut: FileHandle
        private var offsets: [UInt64] = [0]
        private var lines: [UInt32] = []
        private var fileIndex: [UInt32] = []
        private var files: [String] = []
        private var tokenBuffer: [UInt8] = [], maskBuffer: [UInt8] = []

        public init(path: String, key: [UInt8]) throws {
            precondition(key.count == 32, "the key is a SHA-256 digest")
            self.path = path
            self.key = key
            let dir = FileManager.default.temporaryDirectory
            tokensURL = dir.appendingPathComponent("whittle-cache-\(UUID().uuidString).tokens")
            maskURL = dir.appendingPathComponent("whittle-cache-\(UUID().uuidString).mask")
            guard FileManager.default.createFile(atPath: tokensURL.path, contents: nil),
                  FileManager.default.createFile(atPath: maskURL.path, contents: nil) else {
                throw FileError(path: dir.path, "cannot create temporary files for the token cache")
            }
            tokensOut = try FileHandle(forWritingTo: tokensURL)
            maskOut = try FileHandle(forWritingTo: maskURL)
        }

        deinit {
            try? tokensOut.close()
            try? maskOut.close()
            try? FileManager.default.removeItem(at: tokensURL)
            try? FileManager.default.removeItem(at: maskURL)
        }

        public func append(_ e: TokenizedExample) throws {
            let f: UInt32
            if let i = files.lastIndex(of: e.file) { f = UInt32(i) } else { files.append(e.file); f = UInt32(files.count - 1) }
            fileIndex.append(f)
            lines.append(UInt32(clamping: e.line))
            offsets.append(offsets.last! + UInt64(e.tokens.count))
            for t in e.tokens { withUnsafeBytes(of: t.littleEndian) { tokenBuffer.append(contentsOf: $0) } }
            maskBuffer.append(contentsOf: e.trained.map { $0 ? 1 : 0 })
            if tokenBuffer.count >= 1 << 20 { try flush() }
        }

        private func flush() throws {
            try tokensOut.write(contentsOf: tokenBuffer)
            try maskOut.write(contentsOf: maskBuffer)
            tokenBuffer.removeAll(keepingCapacity: true)
            maskBuffer.removeAll(keepingCapacity: true)
        }

        /// Writes the cache file atomically and opens it.
        public func finish() throws -> TokenCache {
            try flush()
            try tokensOut.close()
            try maskOut.close()
            var header: [UInt8] = Array("WTKC".utf8)
            func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { header.append(contentsOf: $0) } }
            put(TokenCache.version)
            header += key
            put(UInt64(lines.count))
            put(offsets.last!)
            offsets.forEach { put($0) }
            lines.forEach { put($0) }
            fileIndex.forEach { put($0) }
            put(UInt32(files.count))
            for f in files { let u = Array(f.utf8); put(UInt32(u.count)); header += u }
            let tokensPath = tokensURL.path, maskPath = maskURL.path
            try AtomicFile.write(to: path) { fd in
                try header.withUnsafeBytes { try AtomicFile.writeAll(fd, $0, path) }
                // Copy in 1 MB pieces (a map of the whole part would count against resident memory).
                var buffer = [UInt8](repeating: 0, count: 1 << 20)
                for part in [tokensPath, maskPath] {
                    guard let input = FileHandle(forReadingAtPath: part) else { throw FileError(path: part, "cannot reopen") }
                    defer { try? input.close() }
                    while let chunk = try input.read(upToCount: buffer.count), !chunk.isEmpty {
                        buffer.replaceSubrange(0..<chunk.count, with: chunk)
                        try buffer.withUnsafeBytes { try AtomicFile.writeAll(fd, UnsafeRawBufferPointer(rebasing: $0[0..<chunk.count]), path) }
                    }
                }
            }
            return try TokenCache(path: path, expectedKey: key)
        }
    }
}
