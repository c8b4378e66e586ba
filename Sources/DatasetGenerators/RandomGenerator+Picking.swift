import Tensors

// MARK: - Draws that are the same on every machine and Swift version

/// The generators draw only through these helpers, never through the standard library's
/// `randomElement(using:)` / `shuffled(using:)`, whose algorithms are not promised to stay the same across
/// Swift releases. Modulo bias (at most n / 2^64) is irrelevant for word lists of a few dozen entries.
extension RandomGenerator {
    /// Uniform in `0..<n` (n > 0).
    mutating func index(_ n: Int) -> Int {
        precondition(n > 0, "cannot draw from an empty range")
        return Int(next() % UInt64(n))
    }

    /// Uniform in `low...high`.
    mutating func int(_ low: Int, _ high: Int) -> Int { low + index(high - low + 1) }

    /// True with probability `p` (compared on 53-bit uniforms, so no floating-point formatting is involved).
    mutating func chance(_ p: Double) -> Bool { uniform() < p }

    mutating func pick<T>(_ items: [T]) -> T { items[index(items.count)] }

    /// Fisher–Yates, drawing from the last position down.
    mutating func shuffle<T>(_ items: inout [T]) {
        guard items.count > 1 else { return }
        for i in stride(from: items.count - 1, to: 0, by: -1) {
            items.swapAt(i, index(i + 1))
        }
    }

    /// `k` distinct elements in random order (all of them when `k >= count`).
    mutating func sample<T>(_ items: [T], _ k: Int) -> [T] {
        var copy = items
        shuffle(&copy)
        return Array(copy.prefix(k))
    }
}
