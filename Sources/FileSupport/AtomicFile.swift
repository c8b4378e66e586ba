import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A file-system problem, naming the path.
public struct FileError: Error, Sendable, CustomStringConvertible, Equatable {
    public var path: String
    public var message: String
    public init(path: String, _ message: String) { self.path = path; self.message = message }
    public var description: String { "\(path): \(message)" }
}

/// Writes files so that a crash never leaves a half-written one: a temporary file in the same folder,
/// written in full, `fsync`ed, then renamed over the target (atomic on POSIX file systems), then the folder
/// is `fsync`ed so the rename itself survives a power loss.
public enum AtomicFile {
    /// Errors are `FileError`s naming the path (or whatever `body` throws, for the closure form).
    public static func write(_ bytes: some Collection<UInt8>, to path: String) throws {
        let array = Array(bytes)
        try write(to: path) { fd in
            try array.withUnsafeBytes { raw in try writeAll(fd, raw, path) }
        }
    }

    public static func write(_ text: String, to path: String) throws {
        try write(Array(text.utf8), to: path)
    }

    /// Calls `body` with a file descriptor of a fresh temporary file; on success the file replaces `path`.
    /// On any error the temporary file is removed and `path` is untouched.
    public static func write(to path: String, _ body: (Int32) throws -> Void) throws {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        let tmp = dir + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileError(path: path, "cannot create a temporary file in \(dir): \(errnoText())") }
        do {
            try body(fd)
            guard fsync(fd) == 0 else { throw FileError(path: path, "fsync failed: \(errnoText())") }
            guard close(fd) == 0 else { unlink(tmp); throw FileError(path: path, "close failed: \(errnoText())") }
        } catch {
            close(fd)
            unlink(tmp)
            throw error
        }
        guard rename(tmp, path) == 0 else {
            let reason = errnoText()
            unlink(tmp)
            throw FileError(path: path, "rename into place failed: \(reason)")
        }
        let dfd = open(dir.isEmpty ? "." : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 { fsync(dfd); close(dfd) }
    }

    /// Writes every byte (retrying short writes and EINTR).
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, _ path: String) throws(FileError) {
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError(path: path, "write failed: \(errnoText())")
            }
            offset += n
        }
    }
}

func errnoText() -> String { String(cString: strerror(errno)) }
