import Foundation

// The one GGUF container parser (formats.md §5.1-5.4). It lives here, at the bottom of the import graph, because the
// vocabulary reader below needs it and ModelFormats (which imports Tokenization) reads weights with the same code.
// It knows bytes, value types and tensor infos; what the keys and tensors mean belongs to its callers.

// MARK: - Errors

/// A malformed or unsupported GGUF file. The message names the file and, where it applies, the key or tensor.
public struct GGUFError: Error, CustomStringConvertible, Sendable, Equatable {
    public let file: String
    public let key: String?
    public let tensor: String?
    public let message: String

    public init(file: String, key: String? = nil, tensor: String? = nil, _ message: String) {
        self.file = file
        self.key = key
        self.tensor = tensor
        self.message = message
    }

    public var description: String {
        if let tensor { return "\(file): tensor '\(tensor)': \(message)" }
        if let key { return "\(file): key '\(key)': \(message)" }
        return "\(file): \(message)"
    }
}

// MARK: - Metadata values

/// GGUF metadata value types (gguf.h `gguf_type`).
public enum GGUFValueType: UInt32, Sendable, CaseIterable {
    case uint8 = 0, int8, uint16, int16, uint32, int32, float32, bool, string, array, uint64, int64, float64

    /// The spelling gguf-py prints (`UINT32`, `ARRAY`, ...).
    public var name: String {
        switch self {
        case .uint8: "UINT8"
        case .int8: "INT8"
        case .uint16: "UINT16"
        case .int16: "INT16"
        case .uint32: "UINT32"
        case .int32: "INT32"
        case .float32: "FLOAT32"
        case .bool: "BOOL"
        case .string: "STRING"
        case .array: "ARRAY"
        case .uint64: "UINT64"
        case .int64: "INT64"
        case .float64: "FLOAT64"
        }
    }
}

/// One metadata value with its exact GGUF type (llama.cpp rejects a key stored with another type than it expects,
/// so the type is part of the value).
public enum GGUFValue: Sendable, Equatable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32), float32(Float)
    case bool(Bool), string(String), uint64(UInt64), int64(Int64), float64(Double)
    /// Element type and elements (all of that type).
    indirect case array(GGUFValueType, [GGUFValue])

    public var type: GGUFValueType {
        switch self {
        case .uint8: .uint8
        case .int8: .int8
        case .uint16: .uint16
        case .int16: .int16
        case .uint32: .uint32
        case .int32: .int32
        case .float32: .float32
        case .bool: .bool
        case .string: .string
        case .uint64: .uint64
        case .int64: .int64
        case .float64: .float64
        case .array: .array
        }
    }

    public var asString: String? { if case .string(let s) = self { s } else { nil } }
    public var asBool: Bool? { if case .bool(let b) = self { b } else { nil } }
    public var asArray: [GGUFValue]? { if case .array(_, let a) = self { a } else { nil } }

    /// Any integer type as Int (nil when it does not fit or the value is not an integer).
    public var asInt: Int? {
        switch self {
        case .uint8(let v): Int(v)
        case .int8(let v): Int(v)
        case .uint16(let v): Int(v)
        case .int16(let v): Int(v)
        case .uint32(let v): Int(v)
        case .int32(let v): Int(v)
        case .uint64(let v): Int(exactly: v)
        case .int64(let v): Int(v)
        default: nil
        }
    }

    /// Any number as Double.
    public var asDouble: Double? {
        switch self {
        case .float32(let v): Double(v)
        case .float64(let v): v
        default: asInt.map(Double.init)
        }
    }

    /// Strings of an array of strings.
    public var asStrings: [String]? {
        guard case .array(.string, let items) = self else { return nil }
        return items.compactMap(\.asString)
    }

    /// A string array (the type gguf-py gives Python `str` lists).
    public static func strings(_ values: [String]) -> GGUFValue { .array(.string, values.map { .string($0) }) }
    /// An INT32 array (gguf-py's type for Python `int` lists, e.g. token types).
    public static func int32s(_ values: [Int32]) -> GGUFValue { .array(.int32, values.map { .int32($0) }) }
    /// A FLOAT32 array (gguf-py's type for Python `float` lists, e.g. token scores).
    public static func float32s(_ values: [Float]) -> GGUFValue { .array(.float32, values.map { .float32($0) }) }
}

// MARK: - Tensor types

/// A ggml tensor type: id, name and storage geometry (blocks of `blockSize` elements taking `typeSize` bytes), as
/// gguf-py's `GGML_QUANT_SIZES` lists them. Known so that any GGUF can be validated and inspected; Whittle converts
/// only F32, F16, BF16 and Q8_0 to floats.
public struct GGMLType: Sendable, Equatable, Hashable, CustomStringConvertible {
    public let id: UInt32
    public let name: String
    public let blockSize: Int
    public let typeSize: Int

    public var description: String { name }

    public static let f32 = GGMLType(id: 0, name: "F32", blockSize: 1, typeSize: 4)
    public static let f16 = GGMLType(id: 1, name: "F16", blockSize: 1, typeSize: 2)
    public static let q8_0 = GGMLType(id: 8, name: "Q8_0", blockSize: 32, typeSize: 34)
    public static let bf16 = GGMLType(id: 30, name: "BF16", blockSize: 1, typeSize: 2)

    /// Every type gguf-py 0.19 knows (ids 4, 5 and 31-33, 36-38 are retired or unused).
    public static let known: [GGMLType] = [
        f32, f16,
        GGMLType(id: 2, name: "Q4_0", blockSize: 32, typeSize: 18),
        GGMLType(id: 3, name: "Q4_1", blockSize: 32, typeSize: 20),
        GGMLType(id: 6, name: "Q5_0", blockSize: 32, typeSize: 22),
        GGMLType(id: 7, name: "Q5_1", blockSize: 32, typeSize: 24),
        q8_0,
        GGMLType(id: 9, name: "Q8_1", blockSize: 32, typeSize: 40),
        GGMLType(id: 10, name: "Q2_K", blockSize: 256, typeSize: 84),
        GGMLType(id: 11, name: "Q3_K", blockSize: 256, typeSize: 110),
        GGMLType(id: 12, name: "Q4_K", blockSize: 256, typeSize: 144),
        GGMLType(id: 13, name: "Q5_K", blockSize: 256, typeSize: 176),
        GGMLType(id: 14, name: "Q6_K", blockSize: 256, typeSize: 210),
        GGMLType(id: 15, name: "Q8_K", blockSize: 256, typeSize: 292),
        GGMLType(id: 16, name: "IQ2_XXS", blockSize: 256, typeSize: 66),
        GGMLType(id: 17, name: "IQ2_XS", blockSize: 256, typeSize: 74),
        GGMLType(id: 18, name: "IQ3_XXS", blockSize: 256, typeSize: 98),
        GGMLType(id: 19, name: "IQ1_S", blockSize: 256, typeSize: 50),
        GGMLType(id: 20, name: "IQ4_NL", blockSize: 32, typeSize: 18),
        GGMLType(id: 21, name: "IQ3_S", blockSize: 256, typeSize: 110),
        GGMLType(id: 22, name: "IQ2_S", blockSize: 256, typeSize: 82),
        GGMLType(id: 23, name: "IQ4_XS", blockSize: 256, typeSize: 136),
        GGMLType(id: 24, name: "I8", blockSize: 1, typeSize: 1),
        GGMLType(id: 25, name: "I16", blockSize: 1, typeSize: 2),
        GGMLType(id: 26, name: "I32", blockSize: 1, typeSize: 4),
        GGMLType(id: 27, name: "I64", blockSize: 1, typeSize: 8),
        GGMLType(id: 28, name: "F64", blockSize: 1, typeSize: 8),
        GGMLType(id: 29, name: "IQ1_M", blockSize: 256, typeSize: 56),
        bf16,
        GGMLType(id: 34, name: "TQ1_0", blockSize: 256, typeSize: 54),
        GGMLType(id: 35, name: "TQ2_0", blockSize: 256, typeSize: 66),
        GGMLType(id: 39, name: "MXFP4", blockSize: 32, typeSize: 17),
        GGMLType(id: 40, name: "NVFP4", blockSize: 64, typeSize: 36),
        GGMLType(id: 41, name: "Q1_0", blockSize: 128, typeSize: 18),
    ]

    private static let byID: [UInt32: GGMLType] = Dictionary(uniqueKeysWithValues: known.map { ($0.id, $0) })

    public static func withID(_ id: UInt32) -> GGMLType? { byID[id] }

    /// Bytes for a tensor with `elements` elements whose rows (ne[0]) hold `rowLength`; nil when the row is not a
    /// whole number of blocks or the size overflows.
    public func byteCount(elements: Int, rowLength: Int) -> Int? {
        guard rowLength % blockSize == 0, elements % blockSize == 0 else { return nil }
        let (n, o) = (elements / blockSize).multipliedReportingOverflow(by: typeSize)
        return o ? nil : n
    }
}

// MARK: - Tensor infos

/// One tensor as a GGUF file describes it.
public struct GGUFTensorInfo: Sendable, Equatable {
    public let name: String
    /// ggml order: `dimensions[0]` (ne[0]) varies fastest, i.e. the PyTorch shape reversed.
    public let dimensions: [Int]
    public let type: GGMLType
    /// Offset inside the data section (a multiple of the alignment).
    public let offset: Int
    public let byteCount: Int

    public init(name: String, dimensions: [Int], type: GGMLType, offset: Int, byteCount: Int) {
        self.name = name
        self.dimensions = dimensions
        self.type = type
        self.offset = offset
        self.byteCount = byteCount
    }

    /// The PyTorch / row-major shape (`dimensions` reversed): `[out, in]` for a Linear weight.
    public var shape: [Int] { dimensions.reversed() }
    public var elementCount: Int { dimensions.reduce(1, *) }
}

// MARK: - The container

/// A parsed GGUF file: header, metadata in file order, tensor infos and where the data section starts. Tensor data is
/// not copied; read it from the same bytes at `dataOffset + info.offset`.
///
/// Parsing checks everything llama.cpp's `gguf_init_from_file` checks (magic, version 2 or 3, counts that fit the
/// file, known value and tensor types, no duplicate keys or tensor names, names under 64 bytes, at most 4 dimensions,
/// rows made of whole blocks, a power-of-two `general.alignment`, aligned offsets) plus that every tensor's bytes lie
/// inside the file and no two overlap. Every read is bounds-checked, so a truncated or corrupted file is a
/// `GGUFError`, never a crash, and no count is trusted before the bytes it needs are known to exist.
public struct GGUFFile: Sendable {
    public static let magic: [UInt8] = Array("GGUF".utf8)
    public static let defaultAlignment = 32
    /// ggml's GGML_MAX_NAME (including the terminating NUL).
    public static let maxTensorNameBytes = 63
    /// ggml's GGML_MAX_DIMS.
    public static let maxDimensions = 4
    /// Arrays of arrays are allowed by the format; this bounds the recursion a malicious file can cause.
    static let maxArrayNesting = 3

    public let path: String
    public let version: UInt32
    /// Key/value pairs in file order.
    public let metadata: [(key: String, value: GGUFValue)]
    public let tensors: [GGUFTensorInfo]
    public let alignment: Int
    /// Absolute file offset of the data section.
    public let dataOffset: Int
    public let fileSize: Int
    private let index: [String: Int]
    private let tensorIndex: [String: Int]

    public subscript(key: String) -> GGUFValue? { index[key].map { metadata[$0].value } }

    public func tensor(named name: String) -> GGUFTensorInfo? { tensorIndex[name].map { tensors[$0] } }

    /// Maps the file (no copy) and parses it.
    public init(path: String) throws(GGUFError) {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        } catch {
            throw GGUFError(file: path, "cannot read: \(error.localizedDescription)")
        }
        let parsed: Result<GGUFFile, GGUFError> = data.withUnsafeBytes { raw in
            do throws(GGUFError) { return .success(try GGUFFile(bytes: raw, path: path)) } catch { return .failure(error) }
        }
        self = try parsed.get()
    }

    /// Parses `bytes` (the whole file); `path` is only used in messages.
    public init(bytes: UnsafeRawBufferPointer, path: String) throws(GGUFError) {
        self.path = path
        fileSize = bytes.count
        var r = GGUFCursor(bytes: bytes, file: path)
        let magic = try r.take(4, "the magic")
        guard Array(magic) == Self.magic else {
            throw GGUFError(file: path, "not a GGUF file: the first 4 bytes are \(Array(magic).map { String(format: "%02X", $0) }.joined(separator: " ")), expected 47 47 55 46 ('GGUF')")
        }
        version = try r.u32("the version")
        guard version == 2 || version == 3 else {
            if version.byteSwapped == 2 || version.byteSwapped == 3 {
                throw GGUFError(file: path, "big-endian GGUF (version \(version.byteSwapped) byte-swapped) is not supported")
            }
            throw GGUFError(file: path, version == 1 ? "GGUF version 1 is not supported (files from before August 2023)"
                                                    : "unsupported GGUF version \(version) (Whittle reads versions 2 and 3)")
        }
        let tensorCount = try r.u64("tensor_count")
        let kvCount = try r.u64("kv_count")
        // A KV takes at least 13 bytes (8 key length + 1 key byte + 4 type) and a tensor info at least 29; counts that
        // cannot fit in what is left are rejected before anything is allocated or looped over.
        guard kvCount <= UInt64(r.remaining / 13) else {
            throw GGUFError(file: path, "kv_count \(kvCount) cannot fit in the \(r.remaining) bytes left: truncated or corrupt")
        }
        guard tensorCount <= UInt64(r.remaining / 29) else {
            throw GGUFError(file: path, "tensor_count \(tensorCount) cannot fit in the \(r.remaining) bytes left: truncated or corrupt")
        }

        var metadata: [(key: String, value: GGUFValue)] = []
        metadata.reserveCapacity(Int(kvCount))
        var index: [String: Int] = [:]
        for i in 0..<Int(kvCount) {
            let key = try r.string { "the key of KV \(i)" }
            guard !key.isEmpty else { throw GGUFError(file: path, "KV \(i) has an empty key") }
            guard index[key] == nil else { throw GGUFError(file: path, key: key, "duplicate key") }
            let rawType = try r.u32("the type of key '\(key)'")
            guard let type = GGUFValueType(rawValue: rawType) else {
                throw GGUFError(file: path, key: key, "unknown value type \(rawType)")
            }
            let value = try Self.value(&r, type: type, key: key, depth: 0)
            index[key] = metadata.count
            metadata.append((key, value))
        }
        self.metadata = metadata
        self.index = index

        var alignment = Self.defaultAlignment
        if let a = index["general.alignment"].map({ metadata[$0].value }) {
            guard case .uint32(let v) = a, v > 0, v & (v - 1) == 0 else {
                throw GGUFError(file: path, key: "general.alignment", "must be a UINT32 power of two, got \(a)")
            }
            alignment = Int(v)
        }
        self.alignment = alignment

        var infos: [GGUFTensorInfo] = []
        infos.reserveCapacity(Int(tensorCount))
        var tensorIndex: [String: Int] = [:]
        for i in 0..<Int(tensorCount) {
            let name = try r.string { "the name of tensor \(i)" }
            guard name.utf8.count <= Self.maxTensorNameBytes else {
                throw GGUFError(file: path, tensor: name, "name of \(name.utf8.count) bytes exceeds ggml's limit of \(Self.maxTensorNameBytes)")
            }
            guard tensorIndex[name] == nil else { throw GGUFError(file: path, tensor: name, "duplicate tensor name") }
            let nDims = try r.u32("the dimension count of tensor '\(name)'")
            guard nDims >= 1 && nDims <= UInt32(Self.maxDimensions) else {
                throw GGUFError(file: path, tensor: name, "\(nDims) dimensions (ggml allows 1 to \(Self.maxDimensions))")
            }
            var dims: [Int] = []
            var elements = 1
            for d in 0..<Int(nDims) {
                let n = try r.u64("dimension \(d) of tensor '\(name)'")
                guard n <= UInt64(Int64.max) else { throw GGUFError(file: path, tensor: name, "dimension \(d) is \(n)") }
                let (p, o) = elements.multipliedReportingOverflow(by: Int(n))
                guard !o, p <= Int(Int64.max) / 8 else {
                    throw GGUFError(file: path, tensor: name, "shape \(dims + [Int(n)]) has too many elements")
                }
                elements = p
                dims.append(Int(n))
            }
            let typeID = try r.u32("the type of tensor '\(name)'")
            guard let type = GGMLType.withID(typeID) else {
                throw GGUFError(file: path, tensor: name, "unknown ggml type \(typeID)")
            }
            guard let byteCount = type.byteCount(elements: elements, rowLength: dims[0]) else {
                throw GGUFError(file: path, tensor: name, "row length \(dims[0]) is not a multiple of the \(type.name) block size \(type.blockSize)")
            }
            let offset = try r.u64("the data offset of tensor '\(name)'")
            guard offset <= UInt64(Int64.max), Int(offset) % alignment == 0 else {
                throw GGUFError(file: path, tensor: name, "data offset \(offset) is not a multiple of the alignment \(alignment)")
            }
            tensorIndex[name] = infos.count
            infos.append(GGUFTensorInfo(name: name, dimensions: dims, type: type, offset: Int(offset), byteCount: byteCount))
        }
        tensors = infos
        self.tensorIndex = tensorIndex

        // The data section starts at the next multiple of the alignment; every tensor must lie inside the file.
        let start = (r.offset + alignment - 1) / alignment * alignment
        dataOffset = start
        let dataLength = max(0, bytes.count - start)
        var previous: GGUFTensorInfo? = nil
        for t in infos.sorted(by: { ($0.offset, $0.byteCount) < ($1.offset, $1.byteCount) }) {
            let (end, o) = t.offset.addingReportingOverflow(t.byteCount)
            guard !o, end <= dataLength else {
                throw GGUFError(file: path, tensor: t.name,
                                "data [\(t.offset), \(o ? "overflow" : String(end))) runs past the end of the data section (\(dataLength) bytes): file truncated")
            }
            if let p = previous, t.offset < p.offset + p.byteCount {
                throw GGUFError(file: path, tensor: t.name, "data at offset \(t.offset) overlaps tensor '\(p.name)' (ends at \(p.offset + p.byteCount))")
            }
            previous = t
        }
    }

    static func value(_ r: inout GGUFCursor, type: GGUFValueType, key: String, depth: Int) throws(GGUFError) -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try r.u8(key))
        case .int8: return .int8(Int8(bitPattern: try r.u8(key)))
        case .uint16: return .uint16(try r.u16(key))
        case .int16: return .int16(Int16(bitPattern: try r.u16(key)))
        case .uint32: return .uint32(try r.u32(key))
        case .int32: return .int32(Int32(bitPattern: try r.u32(key)))
        case .float32: return .float32(Float(bitPattern: try r.u32(key)))
        case .uint64: return .uint64(try r.u64(key))
        case .int64: return .int64(Int64(bitPattern: try r.u64(key)))
        case .float64: return .float64(Double(bitPattern: try r.u64(key)))
        case .bool:
            let b = try r.u8(key)
            guard b <= 1 else { throw GGUFError(file: r.file, key: key, "bool byte \(b) at offset \(r.offset - 1) (must be 0 or 1)") }
            return .bool(b == 1)
        case .string: return .string(try r.string { key })
        case .array:
            guard depth < maxArrayNesting else { throw GGUFError(file: r.file, key: key, "arrays nested deeper than \(maxArrayNesting)") }
            let rawElement = try r.u32("the element type of '\(key)'")
            guard let element = GGUFValueType(rawValue: rawElement) else {
                throw GGUFError(file: r.file, key: key, "unknown array element type \(rawElement)")
            }
            let n = try r.u64("the element count of '\(key)'")
            // Each element takes at least one byte (8 for a string, 12 for an array).
            let minimum: UInt64 = element == .string ? 8 : element == .array ? 12 : UInt64(element.fixedSize ?? 1)
            guard n <= UInt64(r.remaining) / minimum else {
                throw GGUFError(file: r.file, key: key, "array of \(n) \(element.name) elements cannot fit in the \(r.remaining) bytes left")
            }
            var items: [GGUFValue] = []
            items.reserveCapacity(Int(n))
            if element == .string {
                for i in 0..<Int(n) { items.append(.string(try r.string { "\(key)[\(i)]" })) }
            } else {
                for _ in 0..<Int(n) { items.append(try value(&r, type: element, key: key, depth: depth + 1)) }
            }
            return .array(element, items)
        }
    }
}

extension GGUFValueType {
    /// Bytes of one value of a fixed-size type.
    var fixedSize: Int? {
        switch self {
        case .uint8, .int8, .bool: 1
        case .uint16, .int16: 2
        case .uint32, .int32, .float32: 4
        case .uint64, .int64, .float64: 8
        case .string, .array: nil
        }
    }
}

// MARK: - Encoding values

extension GGUFValue {
    /// Appends the value's bytes (without its type tag) as gguf-py's `_pack_val` writes them, little-endian.
    public func encode(into out: inout [UInt8]) {
        func le<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        switch self {
        case .uint8(let v): out.append(v)
        case .int8(let v): out.append(UInt8(bitPattern: v))
        case .uint16(let v): le(v)
        case .int16(let v): le(v)
        case .uint32(let v): le(v)
        case .int32(let v): le(v)
        case .float32(let v): le(v.bitPattern)
        case .uint64(let v): le(v)
        case .int64(let v): le(v)
        case .float64(let v): le(v.bitPattern)
        case .bool(let b): out.append(b ? 1 : 0)
        case .string(let s): Self.encodeString(s, into: &out)
        case .array(let element, let items):
            le(element.rawValue)
            le(UInt64(items.count))
            for item in items { item.encode(into: &out) }
        }
    }

    /// A GGUF string: u64 byte count, then the UTF-8 bytes (no NUL).
    public static func encodeString(_ s: String, into out: inout [UInt8]) {
        let bytes = Array(s.utf8)
        withUnsafeBytes(of: UInt64(bytes.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: bytes)
    }

    /// Whether every element of an array has the declared element type (the writer refuses mixed arrays).
    public var isWellTyped: Bool {
        guard case .array(let element, let items) = self else { return true }
        return items.allSatisfy { $0.type == element && $0.isWellTyped }
    }
}

// MARK: - Cursor

/// Bounds-checked little-endian reads over the mapped file.
struct GGUFCursor {
    let bytes: UnsafeRawBufferPointer
    let file: String
    var offset = 0

    init(bytes: UnsafeRawBufferPointer, file: String) {
        self.bytes = bytes
        self.file = file
    }

    var remaining: Int { bytes.count - offset }

    mutating func take(_ n: Int, _ what: @autoclosure () -> String) throws(GGUFError) -> UnsafeRawBufferPointer {
        guard n >= 0, n <= remaining else {
            throw GGUFError(file: file, "truncated at byte \(offset) while reading \(what()) (\(n) bytes needed, \(remaining) left)")
        }
        defer { offset += n }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)])
    }

    private mutating func load<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws(GGUFError) -> T {
        let b = try take(MemoryLayout<T>.size, what())
        return T(littleEndian: b.loadUnaligned(as: T.self))
    }

    mutating func u8(_ what: @autoclosure () -> String) throws(GGUFError) -> UInt8 { try load(UInt8.self, what()) }
    mutating func u16(_ what: @autoclosure () -> String) throws(GGUFError) -> UInt16 { try load(UInt16.self, what()) }
    mutating func u32(_ what: @autoclosure () -> String) throws(GGUFError) -> UInt32 { try load(UInt32.self, what()) }
    mutating func u64(_ what: @autoclosure () -> String) throws(GGUFError) -> UInt64 { try load(UInt64.self, what()) }

    /// A GGUF string. Invalid UTF-8 is replaced with U+FFFD (some vocabularies hold raw byte tokens).
    mutating func string(_ what: () -> String) throws(GGUFError) -> String {
        let n = try u64("the length of \(what())")
        guard n <= UInt64(remaining) else {
            throw GGUFError(file: file, "truncated at byte \(offset) while reading \(what()) (\(n) bytes needed, \(remaining) left)")
        }
        let b = try take(Int(n), what())
        return String(decoding: b, as: UTF8.self)
    }
}
