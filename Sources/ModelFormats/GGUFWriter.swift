import FileSupport
import Foundation
import Tensors
import Tokenization

/// Writes GGUF v3 files (little-endian, alignment 32) the way gguf-py's `GGUFWriter` lays them out: header, metadata
/// in insertion order, tensor infos with offsets that are the running sum of 32-byte-padded sizes, zero padding to
/// 32, then each tensor's bytes padded with zeros to 32 (formats.md §5.1-5.3, §5.11).
///
/// Tensors are described first (name, row-major shape, type) with a closure that produces their values; `write`
/// calls each closure only when that tensor's bytes are due and converts one tensor at a time, so writing holds at
/// most one converted tensor besides the caller's parameters. The file appears atomically (temp file, fsync,
/// rename): a crash never leaves a half-written GGUF under the final name.
public struct GGUFWriter {
    /// The tensor encodings Whittle writes.
    public enum TensorType: String, Sendable, CaseIterable {
        case f32 = "F32", f16 = "F16", q8_0 = "Q8_0"

        public var ggml: GGMLType {
            switch self {
            case .f32: .f32
            case .f16: .f16
            case .q8_0: .q8_0
            }
        }
    }

    struct Planned {
        let name: String
        let shape: [Int]
        let type: TensorType
        let byteCount: Int
        let source: () throws -> Tensor
    }

    public static let alignment = GGUFFile.defaultAlignment
    public private(set) var metadata: [(key: String, value: GGUFValue)] = []
    private var planned: [Planned] = []

    public init() {}

    /// Names, shapes and types of the tensors added so far, in file order.
    public var tensors: [(name: String, shape: [Int], type: TensorType)] { planned.map { ($0.name, $0.shape, $0.type) } }

    /// Adds a key. Keys are unique (llama.cpp refuses duplicates); arrays must hold elements of their declared type.
    public mutating func set(_ key: String, _ value: GGUFValue) throws(ModelFormatError) {
        guard !key.isEmpty else { throw ModelFormatError(file: "GGUF metadata", "empty key") }
        guard !metadata.contains(where: { $0.key == key }) else { throw ModelFormatError(file: "GGUF metadata", "duplicate key '\(key)'") }
        guard value.isWellTyped else { throw ModelFormatError(file: "GGUF metadata", "key '\(key)': array elements of mixed types") }
        metadata.append((key, value))
    }

    /// Plans a tensor of row-major `shape` (PyTorch order; written reversed as ggml's ne). `source` must return a
    /// tensor with that many elements, in row-major order.
    public mutating func addTensor(name: String, shape: [Int], type: TensorType,
                                   source: @escaping () throws -> Tensor) throws(ModelFormatError) {
        func fail(_ m: String) -> ModelFormatError { ModelFormatError(file: "GGUF tensors", tensor: name, m) }
        guard !name.isEmpty, name.utf8.count <= GGUFFile.maxTensorNameBytes else {
            throw fail("name must be 1 to \(GGUFFile.maxTensorNameBytes) bytes (ggml's limit)")
        }
        guard !planned.contains(where: { $0.name == name }) else { throw fail("duplicate tensor name") }
        guard (1...GGUFFile.maxDimensions).contains(shape.count), shape.allSatisfy({ $0 > 0 }) else {
            throw fail("shape \(shape) must have 1 to \(GGUFFile.maxDimensions) positive dimensions")
        }
        let elements = shape.reduce(1, *)
        guard let bytes = type.ggml.byteCount(elements: elements, rowLength: shape.last ?? 0) else {
            throw fail("rows of \(shape.last ?? 0) are not a multiple of the \(type.rawValue) block size \(type.ggml.blockSize)")
        }
        planned.append(Planned(name: name, shape: shape, type: type, byteCount: bytes, source: source))
    }

    static func padded(_ n: Int) -> Int { (n + alignment - 1) / alignment * alignment }

    /// Header, metadata and tensor infos, padded to the alignment (everything before the tensor data).
    public func headerBytes() -> [UInt8] {
        var out: [UInt8] = GGUFFile.magic
        func le<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        le(UInt32(3))
        le(UInt64(planned.count))
        le(UInt64(metadata.count))
        for (key, value) in metadata {
            GGUFValue.encodeString(key, into: &out)
            le(value.type.rawValue)
            value.encode(into: &out)
        }
        var offset = 0
        for t in planned {
            GGUFValue.encodeString(t.name, into: &out)
            le(UInt32(t.shape.count))
            for d in t.shape.reversed() { le(UInt64(d)) }
            le(t.type.ggml.id)
            le(UInt64(offset))
            offset += Self.padded(t.byteCount)
        }
        out.append(contentsOf: [UInt8](repeating: 0, count: Self.padded(out.count) - out.count))
        return out
    }

    /// Writes the file atomically, converting and writing one tensor at a time.
    public func write(to path: String) throws {
        let header = headerBytes()
        let zeros = [UInt8](repeating: 0, count: Self.alignment)
        try AtomicFile.write(to: path) { fd in
            try header.withUnsafeBytes { try AtomicFile.writeAll(fd, $0, path) }
            for t in planned {
                let values = try t.source()
                guard values.count == t.shape.reduce(1, *) else {
                    throw ModelFormatError(file: path, tensor: t.name, "source gave \(values.count) values (shape \(values.shape)), expected shape \(t.shape)")
                }
                try values.withUnsafeBufferPointer { p in
                    switch t.type {
                    case .f32:
                        try AtomicFile.writeAll(fd, UnsafeRawBufferPointer(p), path)
                    case .f16:
                        let h = Self.f16(p)
                        try h.withUnsafeBytes { try AtomicFile.writeAll(fd, $0, path) }
                    case .q8_0:
                        if let bad = p.firstIndex(where: { !$0.isFinite }) {
                            throw ModelFormatError(file: path, tensor: t.name, "value \(p[bad]) at flat index \(bad) cannot be quantized to Q8_0")
                        }
                        let q = Self.q8_0(p)
                        try q.withUnsafeBytes { try AtomicFile.writeAll(fd, $0, path) }
                    }
                }
                let pad = Self.padded(t.byteCount) - t.byteCount
                if pad > 0 { try zeros.withUnsafeBytes { try AtomicFile.writeAll(fd, UnsafeRawBufferPointer(rebasing: $0[0..<pad]), path) } }
            }
        }
    }

    // MARK: - Encodings

    /// IEEE binary16 bit patterns, round to nearest even (numpy's `astype(float16)`), little-endian.
    public static func f16(_ p: UnsafeBufferPointer<Float>) -> [UInt16] {
        var h = [UInt16](repeating: 0, count: p.count)
        h.withUnsafeMutableBufferPointer { hp in
            guard let src = p.baseAddress, let dst = hp.baseAddress else { return }
            HalfPrecision.floatToF16(src, dst, count: p.count)
        }
        #if _endian(big)
        for i in h.indices { h[i] = h[i].littleEndian }
        #endif
        return h
    }

    /// Q8_0 blocks of 32 values: fp16 scale `d = max|x| / 127` then 32 int8 `q = round(x · (1/d))`, computed exactly
    /// as gguf-py's quants.py `Q8_0.quantize_blocks` (and ggml's `quantize_row_q8_0_ref`): all in Float32, the
    /// reciprocal taken once per block and multiplied (not divided), rounding half away from zero (`np_roundf`),
    /// a block of zeros giving d = 0 and q = 0, and d rounded to fp16 only after the q are computed. `count` must be a
    /// multiple of 32. Dequantized value: `q · Float(fp16 d)`.
    public static func q8_0(_ p: UnsafeBufferPointer<Float>) -> [UInt8] {
        precondition(p.count % 32 == 0, "Q8_0 needs a multiple of 32 values, got \(p.count)")
        let blocks = p.count / 32
        var out = [UInt8](repeating: 0, count: blocks * 34)
        out.withUnsafeMutableBufferPointer { o in
            for b in 0..<blocks {
                let x = p.baseAddress! + b * 32
                var amax: Float = 0
                for j in 0..<32 { amax = max(amax, abs(x[j])) }
                let d = amax / 127
                let id: Float = d == 0 ? 0 : 1 / d
                let bits = Float16(d).bitPattern
                o[b * 34] = UInt8(truncatingIfNeeded: bits)
                o[b * 34 + 1] = UInt8(truncatingIfNeeded: bits >> 8)
                for j in 0..<32 {
                    let q = (x[j] * id).rounded(.toNearestOrAwayFromZero)
                    o[b * 34 + 2 + j] = UInt8(bitPattern: Int8(q))
                }
            }
        }
        return out
    }
}
