import Tensors
import Testing

/// Tensor storage: large buffers come from `LargeBuffers` (anonymous mappings, recently released ones reused), so a
/// reused buffer must still honour zeros; `zerosOnTouch` placeholders read as zeros and copy when written; shared
/// writes reach every sharer.
@Suite struct StorageTests {
    /// 2M floats (8 MB, past the 1 MiB threshold): a zeroed tensor is zero even when its memory held ones a moment ago.
    @Test func reusedLargeBuffersAreZeroed() {
        let shape = [1024, 2048]
        for round in 0..<3 {
            do {
                var dirty = Tensor(uninitialized: shape)
                dirty.withUnsafeMutableBufferPointer { $0.update(repeating: Float(round + 1)) }
                #expect(dirty.scalars.allSatisfy { $0 == Float(round + 1) })
            }
            let clean = Tensor(zeros: shape)
            #expect(clean.withUnsafeBufferPointer { $0.allSatisfy { $0 == 0 } }, "round \(round)")
        }
        // A copy of a large tensor (copy on write) holds the same values.
        var a = Tensor(shape: [600, 600], data: (0..<360_000).map { Float($0) })
        let b = a
        a.withUnsafeMutableBufferPointer { $0[7] = -1 }
        #expect(b.scalars[7] == 7 && a.scalars[7] == -1 && a.scalars[359_999] == 359_999)
    }

    @Test func zerosOnTouchReadsZeroAndCopiesOnWrite() {
        let placeholder = Tensor(zerosOnTouch: [512, 1024])
        var user = placeholder
        #expect(user.storage === placeholder.storage)
        user.withUnsafeMutableBufferPointer { $0[3] = 5 }
        #expect(user.storage !== placeholder.storage)
        #expect(placeholder.withUnsafeBufferPointer { $0.allSatisfy { $0 == 0 } })
        #expect(user.scalars[3] == 5 && user.scalars.filter { $0 != 0 }.count == 1)
    }

    @Test func sharedWritesReachEverySharer() {
        let a = Tensor(shape: [4], data: [1, 2, 3, 4])
        let b = a
        a.withUnsafeSharedMutableBufferPointer { $0[0] = 9 }
        #expect(b.scalars == [9, 2, 3, 4] && a.scalars == [9, 2, 3, 4])
    }
}
