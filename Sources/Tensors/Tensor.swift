#if canImport(Glibc)
import Glibc
#endif

// MARK: - Storage

/// A 64-byte-aligned buffer of `Float`s. Either owned (allocated and freed here: from the heap, or for 1 MiB and
/// more from `LargeBuffers`, whose memory goes back to the kernel when released) or borrowed from an `owner` that
/// keeps the memory alive (for example a memory-mapped file).
public final class TensorStorage: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int
    private let owner: AnyObject?
    /// Bytes obtained from `LargeBuffers` (0: heap or borrowed).
    private let largeBytes: Int

    /// Allocates `count` zeroed floats.
    public convenience init(count: Int) { self.init(allocating: count, zeroed: true) }

    /// Allocates `count` floats without initializing them: for outputs that are written whole before any read
    /// (a GEMM with beta = 0, a copy). Skips a memset of the whole buffer (100 MB for a 512-token prefill's logits).
    public convenience init(uninitializedCount count: Int) { self.init(allocating: count, zeroed: false) }

    private init(allocating count: Int, zeroed: Bool) {
        precondition(count >= 0, "negative element count \(count)")
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        if bytes >= LargeBuffers.threshold, let raw = LargeBuffers.obtain(bytes, zeroed: zeroed) {
            pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
            largeBytes = bytes
        } else {
            let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
            if zeroed { raw.initializeMemory(as: UInt8.self, repeating: 0, count: bytes) }
            pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
            largeBytes = 0
        }
        self.count = count
        owner = nil
    }

    /// Wraps memory that `owner` keeps alive; nothing is copied and nothing is freed here.
    public init(borrowing pointer: UnsafeMutablePointer<Float>, count: Int, owner: AnyObject) {
        self.pointer = pointer
        self.count = count
        self.owner = owner
        largeBytes = 0
    }

    deinit {
        guard owner == nil else { return }
        if largeBytes > 0 {
            LargeBuffers.release(UnsafeMutableRawPointer(pointer), bytes: largeBytes)
        } else {
            UnsafeMutableRawPointer(pointer).deallocate()
        }
    }

    /// Whether the memory belongs to another object (a memory-mapped file, say) rather than to this storage.
    public var isBorrowed: Bool { owner != nil }

    func copy() -> TensorStorage {
        let s = TensorStorage(count: count)
        s.pointer.update(from: pointer, count: count)
        return s
    }
}

// MARK: - Tensor

/// A contiguous, row-major tensor of `Float`s with value semantics (copy on write).
///
/// The last dimension is the fastest-varying. Shapes follow the legend of the architecture notes:
/// B batch, T positions, C width, H heads, K kv heads, D head width, F feed-forward width, V vocabulary, R LoRA rank.
public struct Tensor: @unchecked Sendable {
    public private(set) var shape: [Int]
    public private(set) var storage: TensorStorage

    /// A zero-filled tensor of `shape`.
    public init(zeros shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape)")
        self.shape = shape
        storage = TensorStorage(count: shape.reduce(1, *))
    }

    /// A tensor of `shape` whose elements are not initialized: the caller writes every one before any is read.
    public init(uninitialized shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape)")
        self.shape = shape
        storage = TensorStorage(uninitializedCount: shape.reduce(1, *))
    }

    /// A zero-filled tensor whose pages the kernel supplies on first touch (an anonymous mapping): until written it
    /// holds no resident memory, so a placeholder of any size is free. Meant to be shared and never written (a write
    /// copies it, as for any shared tensor).
    public init(zerosOnTouch shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape)")
        let count = shape.reduce(1, *)
        self.shape = shape
        if let mapping = ZeroMapping(bytes: count * MemoryLayout<Float>.stride) {
            storage = TensorStorage(borrowing: mapping.base.bindMemory(to: Float.self, capacity: Swift.max(count, 1)), count: count,
                                    owner: mapping)
        } else {
            storage = TensorStorage(count: count)
        }
    }

    /// A tensor of `shape` holding `data` (row-major); `data.count` must equal the product of `shape`.
    public init(shape: [Int], data: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape)")
        precondition(shape.reduce(1, *) == data.count,
                     "shape \(shape) holds \(shape.reduce(1, *)) elements, data has \(data.count)")
        self.shape = shape
        storage = TensorStorage(count: data.count)
        data.withUnsafeBufferPointer { storage.pointer.update(from: $0.baseAddress!, count: data.count) }
    }

    /// A tensor of `shape` filled with `value`.
    public init(repeating value: Float, shape: [Int]) {
        self.init(zeros: shape)
        storage.pointer.update(repeating: value, count: count)
    }

    /// Wraps existing storage (no copy); the storage must hold exactly the product of `shape` elements.
    public init(shape: [Int], storage: TensorStorage) {
        precondition(shape.reduce(1, *) == storage.count,
                     "shape \(shape) holds \(shape.reduce(1, *)) elements, storage has \(storage.count)")
        self.shape = shape
        self.storage = storage
    }

    /// Number of elements.
    @inlinable public var count: Int { storage.count }
    /// Number of dimensions.
    @inlinable public var rank: Int { shape.count }

    /// The elements as an array (a copy).
    public var scalars: [Float] {
        Array(UnsafeBufferPointer(start: storage.pointer, count: count))
    }

    /// Element at a full multi-index.
    public subscript(_ index: Int...) -> Float {
        get { storage.pointer[offset(of: index)] }
        set {
            let o = offset(of: index)
            makeUnique()
            storage.pointer[o] = newValue
        }
    }

    private func offset(of index: [Int]) -> Int {
        precondition(index.count == shape.count, "index \(index) for a tensor of shape \(shape)")
        var o = 0
        for (i, d) in zip(index, shape) {
            precondition(i >= 0 && i < d, "index \(index) out of bounds for shape \(shape)")
            o = o * d + i
        }
        return o
    }

    /// The same elements under another shape with the same element count (shares storage until written).
    public func reshaped(_ newShape: [Int]) -> Tensor {
        precondition(newShape.reduce(1, *) == count, "cannot reshape \(shape) (\(count) elements) to \(newShape)")
        return Tensor(shape: newShape, storage: storage)
    }

    /// Read-only access to the elements.
    @inlinable
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: storage.pointer, count: count))
    }

    /// Mutable access to the elements; copies first if the storage is shared.
    @inlinable
    public mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (UnsafeMutableBufferPointer<Float>) throws -> R
    ) rethrows -> R {
        makeUnique()
        return try body(UnsafeMutableBufferPointer(start: storage.pointer, count: count))
    }

    /// Mutable access to the elements *without* copy on write: every tensor sharing this storage sees the writes.
    /// Only for a caller that knows no sharer reads the elements meanwhile or expects the old values afterwards (the
    /// optimizer in backward updates a parameter that the model being run still holds but no longer reads).
    /// The storage must be owned (a borrowed mapping may be read-only).
    public func withUnsafeSharedMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        precondition(!storage.isBorrowed, "shared writes need owned storage")
        return try body(UnsafeMutableBufferPointer(start: storage.pointer, count: count))
    }

    /// Ensures this tensor is the only owner of its storage (copy on write).
    public mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
    }

    /// Whether no other tensor shares this one's storage, so writing to it would not copy.
    public mutating func isUnique() -> Bool { isKnownUniquelyReferenced(&storage) }

    /// Rows × columns when the tensor is read as a matrix whose columns are its last dimension.
    public var matrixShape: (rows: Int, cols: Int) {
        precondition(rank >= 1, "a scalar has no matrix shape")
        let cols = shape[rank - 1]
        return (cols == 0 ? 0 : count / cols, cols)
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let shown = scalars.prefix(8).map { "\($0)" }.joined(separator: ", ")
        return "Tensor(shape: \(shape), [\(shown)\(count > 8 ? ", …" : "")])"
    }
}

// MARK: - Zero pages on demand

/// An anonymous private mapping (zero pages supplied by the kernel on first touch), unmapped when released.
final class ZeroMapping: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
    let bytes: Int

    /// nil when `bytes` is 0 or the mapping fails (callers fall back to ordinary zeroed memory).
    init?(bytes: Int) {
        guard bytes > 0 else { return nil }
        let p = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let p, p != MAP_FAILED else { return nil }
        base = p
        self.bytes = bytes
    }

    deinit { munmap(base, bytes) }
}
