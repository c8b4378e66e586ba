import FileSupport
import Foundation
import Tensors
import Tokenization

// MARK: - Errors

/// A problem with a model file; the message names the file and, when it is about one tensor, the tensor.
public struct ModelFormatError: Error, CustomStringConvertible, Sendable {
    public let file: String
    public let tensor: String?
    public let message: String

    public init(file: String, tensor: String? = nil, _ message: String) {
        self.file = file
        self.tensor = tensor
        self.message = message
    }

    public var description: String {
        if let tensor { return "\(file): tensor '\(tensor)': \(message)" }
        return "\(file): \(message)"
    }

    /// A GGUF container error, keeping its file and tensor (a key goes into the message).
    public init(gguf e: GGUFError) {
        self.init(file: e.file, tensor: e.tensor, e.key.map { "key '\($0)': \(e.message)" } ?? e.message)
    }
}

// MARK: - dtypes

/// safetensors element types (spelling as in the header). Only F32, F16 and BF16 convert to `Tensor`;
/// the others are known so a file that holds them (e.g. an I64 buffer) still validates.
public enum SafetensorsDType: String, Sendable, CaseIterable {
    case BOOL, U8, I8, F8_E5M2, F8_E4M3, F8_E8M0, F8_E4M3FNUZ, F8_E5M2FNUZ
    case I16, U16, F16, BF16, I32, U32, F32, C64, F64, I64, U64

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .BOOL, .U8, .I8, .F8_E5M2, .F8_E4M3, .F8_E8M0, .F8_E4M3FNUZ, .F8_E5M2FNUZ: 1
        case .I16, .U16, .F16, .BF16: 2
        case .I32, .U32, .F32: 4
        case .C64, .F64, .I64, .U64: 8
        }
    }
}

// MARK: - Reader

/// One safetensors file, memory-mapped and validated on open (the rules of safetensors' `Metadata::validate`:
/// header ≤ 100 MB of JSON, every entry has a known dtype, a shape and offsets whose size matches, entries tile
/// the data buffer exactly with no gap, overlap or trailing bytes). A truncated file is an error, never a crash.
public final class SafetensorsFile: @unchecked Sendable {
    public struct Entry: Sendable {
        public let dtype: SafetensorsDType
        public let shape: [Int]
        /// Byte range inside the data buffer.
        public let begin: Int, end: Int
    }

    public let path: String
    public let entries: [String: Entry]
    public let metadata: [String: String]
    private let file: MappedFile
    private let dataStart: Int

    public static let maxHeaderSize = 100_000_000

    public init(path: String) throws {
        self.path = path
        do { file = try MappedFile(path: path) } catch { throw ModelFormatError(file: path, error.message) }
        func fail(_ m: String, tensor: String? = nil) -> ModelFormatError { ModelFormatError(file: path, tensor: tensor, m) }
        guard file.count >= 8, let base = file.bytes.baseAddress else {
            throw fail("not a safetensors file: \(file.count) bytes, shorter than the 8-byte header length")
        }
        let n = base.loadUnaligned(as: UInt64.self).littleEndian
        guard n <= UInt64(Self.maxHeaderSize) else { throw fail("header length \(n) exceeds \(Self.maxHeaderSize) bytes") }
        guard 8 + Int(n) <= file.count else {
            throw fail("header length \(n) runs past the end of the file (\(file.count) bytes): truncated or not safetensors")
        }
        dataStart = 8 + Int(n)
        let headerBytes = Data(bytes: base + 8, count: Int(n))
        guard headerBytes.first == UInt8(ascii: "{") else { throw fail("header does not start with '{'") }
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: headerBytes) } catch {
            throw fail("header is not valid JSON (\(error.localizedDescription))")
        }
        guard let object = json as? [String: Any] else { throw fail("header is not a JSON object") }
        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in object {
            if name == "__metadata__" {
                guard let m = value as? [String: Any] else { throw fail("__metadata__ is not an object") }
                for (k, v) in m {
                    guard let s = v as? String else { throw fail("__metadata__ value for '\(k)' is not a string") }
                    metadata[k] = s
                }
                continue
            }
            guard let e = value as? [String: Any] else { throw fail("entry is not an object", tensor: name) }
            guard let dt = e["dtype"] as? String else { throw fail("missing 'dtype'", tensor: name) }
            guard let dtype = SafetensorsDType(rawValue: dt) else { throw fail("unknown dtype '\(dt)'", tensor: name) }
            guard let shapeAny = e["shape"] as? [Any], let shape = Self.ints(shapeAny), shape.allSatisfy({ $0 >= 0 }) else {
                throw fail("missing or invalid 'shape'", tensor: name)
            }
            guard let offAny = e["data_offsets"] as? [Any], let off = Self.ints(offAny), off.count == 2,
                  off[0] >= 0, off[1] >= off[0] else {
                throw fail("missing or invalid 'data_offsets'", tensor: name)
            }
            var elements = 1
            for d in shape {
                let (p, o) = elements.multipliedReportingOverflow(by: d)
                guard !o, p <= 1 << 48 else { throw fail("shape \(shape) is too large", tensor: name) }
                elements = p
            }
            guard off[1] - off[0] == elements * dtype.size else {
                throw fail("data_offsets \(off) hold \(off[1] - off[0]) bytes, shape \(shape) of \(dt) needs \(elements * dtype.size)", tensor: name)
            }
            entries[name] = Entry(dtype: dtype, shape: shape, begin: off[0], end: off[1])
        }
        // The entries must tile the data buffer: sorted by offset, each starts where the previous ended.
        let dataLength = file.count - dataStart
        var expected = 0
        for (name, e) in entries.sorted(by: { ($0.value.begin, $0.value.end) < ($1.value.begin, $1.value.end) }) {
            if e.begin != expected {
                throw fail(e.begin < expected ? "data overlaps the previous tensor (starts at \(e.begin), previous ends at \(expected))"
                                              : "gap in the data buffer before this tensor (starts at \(e.begin), previous ends at \(expected))",
                           tensor: name)
            }
            if e.end > dataLength {
                throw fail("data [\(e.begin), \(e.end)) runs past the end of the data buffer (\(dataLength) bytes): file truncated", tensor: name)
            }
            expected = e.end
        }
        guard expected == dataLength else {
            throw fail("data buffer has \(dataLength) bytes but the tensors cover \(expected)")
        }
        self.entries = entries
        self.metadata = metadata
    }

    private static func ints(_ a: [Any]) -> [Int]? {
        var out: [Int] = []
        for v in a {
            guard let n = v as? NSNumber else { return nil }
            let d = n.doubleValue
            guard d == d.rounded(), d >= 0, d < 9.0e15 else { return nil }
            out.append(n.intValue)
        }
        return out
    }

    /// Tensor names in the file, sorted.
    public var names: [String] { entries.keys.sorted() }

    /// The tensor `name` converted to Float32 (a copy, so the mapping can be released).
    public func tensor(_ name: String) throws -> Tensor {
        guard let e = entries[name] else { throw ModelFormatError(file: path, tensor: name, "no such tensor in the file") }
        var t = Tensor(zeros: e.shape)
        let n = t.count
        guard n > 0, let base = file.bytes.baseAddress else { return t }
        let src = base + dataStart + e.begin
        try t.withUnsafeMutableBufferPointer { dst in
            let out = dst.baseAddress!
            switch e.dtype {
            case .F32:
                UnsafeMutableRawPointer(out).copyMemory(from: src, byteCount: n * 4)
                #if _endian(big)
                for i in 0..<n { out[i] = Float(bitPattern: out[i].bitPattern.littleEndian) }
                #endif
            case .BF16, .F16:
                var halves = [UInt16](repeating: 0, count: n)
                halves.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(start: src, count: n * 2)) }
                halves.withUnsafeBufferPointer { h in
                    if e.dtype == .BF16 { HalfPrecision.bf16ToFloat(h.baseAddress!, out, count: n) }
                    else { HalfPrecision.f16ToFloat(h.baseAddress!, out, count: n) }
                }
            default:
                throw ModelFormatError(file: path, tensor: name, "dtype \(e.dtype.rawValue) cannot be read as float weights (F32, F16, BF16 only)")
            }
        }
        return t
    }
}

// MARK: - 16-bit matrices

extension SafetensorsFile {
    /// The 2-D tensor `name` as a `HalfMatrix` of `kind`. Stored in that kind: the mapped bytes are borrowed, not
    /// copied (the matrix keeps this file's mapping alive). Stored otherwise (F32, or the other 16-bit kind): read as
    /// Float32 and rounded to `kind`, to nearest even, one tensor at a time.
    public func halfMatrix(_ name: String, kind: HalfKind) throws -> HalfMatrix {
        guard let e = entries[name] else { throw ModelFormatError(file: path, tensor: name, "no such tensor in the file") }
        guard e.shape.count == 2 else {
            throw ModelFormatError(file: path, tensor: name, "shape \(e.shape) is not a matrix; only 2-D tensors are held in 16 bits")
        }
        let stored: HalfKind? = e.dtype == .BF16 ? .bf16 : e.dtype == .F16 ? .f16 : nil
        #if _endian(little)
        if stored == kind, let base = file.bytes.baseAddress {
            let p = base + dataStart + e.begin
            if Int(bitPattern: p) % MemoryLayout<UInt16>.alignment == 0 {
                return HalfMatrix(rows: e.shape[0], cols: e.shape[1], kind: kind,
                                  borrowing: p.assumingMemoryBound(to: UInt16.self), owner: self)
            }
        }
        #endif
        return HalfMatrix(narrowing: try tensor(name), kind: kind)
    }

    /// The stored 16-bit kind of `name`, nil when it is not BF16/F16 (or absent).
    public func halfKind(of name: String) -> HalfKind? {
        switch entries[name]?.dtype {
        case .BF16?: .bf16
        case .F16?: .f16
        default: nil
        }
    }
}

// MARK: - Writer

/// Writes safetensors files the way the reference writer lays them out: `__metadata__` first, header padded
/// with spaces to a multiple of 8, tensors in name order (all of one dtype), no gaps.
public enum SafetensorsWriter {
    /// The element types the writer produces.
    public enum DType: String, Sendable { case F32, F16, BF16 }

    /// Writes `tensors` to `path` atomically (temp file beside it, fsync, rename): a crash never leaves a
    /// half-written file under the final name.
    public static func write(_ tensors: [String: Tensor], dtype: DType = .F32,
                             metadata: [String: String] = ["format": "pt"], to path: String) throws {
        let names = tensors.keys.sorted()
        let size = dtype == .F32 ? 4 : 2
        var header = "{"
        var parts: [String] = []
        if !metadata.isEmpty {
            let m = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }.joined(separator: ",")
            parts.append("\"__metadata__\":{\(m)}")
        }
        var offset = 0
        for name in names {
            let t = tensors[name]!
            let bytes = t.count * size
            parts.append("\(jsonString(name)):{\"dtype\":\"\(dtype.rawValue)\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + bytes)]}")
            offset += bytes
        }
        header += parts.joined(separator: ",") + "}"
        var headerBytes = Array(header.utf8)
        while headerBytes.count % 8 != 0 { headerBytes.append(UInt8(ascii: " ")) }

        // Streamed tensor by tensor, so writing never holds a second copy of the model.
        try AtomicFile.write(to: path) { fd in
            var prefix = withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { Array($0) }
            prefix += headerBytes
            try prefix.withUnsafeBytes { try AtomicFile.writeAll(fd, $0, path) }
            for name in names {
                let t = tensors[name]!
                try t.withUnsafeBufferPointer { p in
                    switch dtype {
                    case .F32:
                        try AtomicFile.writeAll(fd, UnsafeRawBufferPointer(p), path)
                    case .BF16, .F16:
                        var h = [UInt16](repeating: 0, count: t.count)
                        h.withUnsafeMutableBufferPointer { hp in
                            guard let src = p.baseAddress, let dst = hp.baseAddress else { return }
                            if dtype == .BF16 { HalfPrecision.floatToBF16(src, dst, count: t.count) }
                            else { HalfPrecision.floatToF16(src, dst, count: t.count) }
                        }
                        try h.withUnsafeBytes { try AtomicFile.writeAll(fd, $0, path) }
                    }
                }
            }
        }
    }

    /// A JSON string literal (Tokenization's one JSON writer).
    static func jsonString(_ s: String) -> String { JSONValue.quoted(s) }
}

