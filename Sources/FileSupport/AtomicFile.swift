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
        syncDirectory(dir)
    }

    /// fsyncs a directory so a rename inside it is durable.
    public static func syncDirectory(_ dir: String) {
        let dfd = open(dir.isEmpty ? "." : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 { fsync(dfd); close(dfd) }
    }

    /// Builds a folder in a hidden temporary sibling (`body` fills it; its files are fsynced), then moves it to
    /// `path`. An existing folder at `path` is replaced: it is renamed aside first and removed only after the new
    /// one is in place, so a crash leaves the old or the new folder complete, never a mix.
    public static func writeDirectory(at path: String, _ body: (String) throws -> Void) throws {
        let url = URL(fileURLWithPath: path)
        let parent = url.deletingLastPathComponent().path
        let tag = "\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let tmp = parent + "/." + url.lastPathComponent + ".tmp-" + tag
        let aside = parent + "/." + url.lastPathComponent + ".old-" + tag
        do {
            try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
            try body(tmp)
            for name in try FileManager.default.contentsOfDirectory(atPath: tmp) {
                let fd = open(tmp + "/" + name, O_RDONLY | O_CLOEXEC)
                if fd >= 0 { fsync(fd); close(fd) }
            }
            syncDirectory(tmp)
        } catch {
            try? FileManager.default.removeItem(atPath: tmp)
            throw error
        }
        let existed = FileManager.default.fileExists(atPath: path)
        if existed && rename(path, aside) != 0 {
            let reason = errnoText()
            try? FileManager.default.removeItem(atPath: tmp)
            throw FileError(path: path, "cannot move the previous folder aside: \(reason)")
        }
        guard rename(tmp, path) == 0 else {
            let reason = errnoText()
            if existed { rename(aside, path) }
            try? FileManager.default.removeItem(atPath: tmp)
            throw FileError(path: path, "rename into place failed: \(reason)")
        }
        syncDirectory(parent)
        if existed { try? FileManager.default.removeItem(atPath: aside) }
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
