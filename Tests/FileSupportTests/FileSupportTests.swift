import Foundation
import Testing
import FileSupport
import TestSupport

@Suite struct FileSupportTests {
    @Test func sha256MatchesHashlib() throws {
        let f = try loadFixture("files/sha256.json")
        for c in f["texts"].array {
            #expect(SHA256.hexDigest(Array(c["text"].string.utf8)) == c["hex"].string, "text \(c["text"].string.prefix(20))")
        }
        for c in f["patterns"].array {
            let n = c["length"].int
            let bytes = (0..<n).map { UInt8(($0 * 31 + 7) % 256) }
            #expect(SHA256.hexDigest(bytes) == c["hex"].string, "pattern of \(n) bytes")
            // Streaming in odd pieces gives the same digest.
            var s = SHA256()
            var i = 0, piece = 1
            while i < n { let j = min(n, i + piece); s.update(Array(bytes[i..<j])); i = j; piece = piece * 3 + 1 }
            #expect(SHA256.hex(s.finalize()) == c["hex"].string, "streamed pattern of \(n) bytes")
            // And through a file.
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("sha-\(UUID()).bin").path
            try AtomicFile.write(bytes, to: path)
            #expect(try SHA256.hexDigest(ofFile: path) == c["hex"].string)
            try? FileManager.default.removeItem(atPath: path)
        }
    }

    @Test func atomicWriteReplacesWholeOrNothing() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("atomic-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent("state.json").path
        try AtomicFile.write("first", to: path)
        try AtomicFile.write("second", to: path)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "second")
        // A failing writer leaves the old file and no temporary behind.
        #expect(throws: FileError.self) {
            try AtomicFile.write(to: path) { _ in throw FileError(path: path, "simulated failure") }
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "second")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["state.json"])
        // A folder that does not exist is a clear error naming the path.
        #expect { try AtomicFile.write("x", to: dir.path + "/missing/x.json") } throws: { ($0 as? FileError)?.path.hasSuffix("missing/x.json") ?? false }
    }

    @Test func mappedFileReadsBytes() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("map-\(UUID()).bin").path
        try AtomicFile.write([1, 2, 3, 250], to: path)
        let m = try MappedFile(path: path)
        #expect(Array(m.bytes) == [1, 2, 3, 250])
        #expect(throws: FileError.self) { try MappedFile(path: path + ".nope") }
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("empty-\(UUID()).bin").path
        try AtomicFile.write([UInt8](), to: empty)
        #expect(try MappedFile(path: empty).count == 0)
    }
}
