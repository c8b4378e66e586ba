import Foundation
import Testing
import Tensors

/// The repository root, found from this file's path (Tests/TestSupport/Fixtures.swift).
public let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// A JSON value decoded with JSONDecoder (whose number parsing rounds correctly, unlike JSONSerialization's here).
public enum JSON: Decodable, Sendable {
    case null, bool(Bool), number(Double), string(String), array([JSON]), object([String: JSON])

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let d = try? c.decode(Double.self) { self = .number(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSON].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSON].self)) }
    }

    public subscript(key: String) -> JSON { if case .object(let o) = self, let v = o[key] { v } else { .null } }
    public var array: [JSON] { if case .array(let a) = self { a } else { [] } }
    public var int: Int { Int(double) }
    public var string: String { if case .string(let s) = self { s } else { "" } }
    /// Numbers, and the strings the generator writes for non-finite values.
    public var double: Double {
        switch self {
        case .number(let d): d
        case .string("Infinity"): .infinity
        case .string("-Infinity"): -.infinity
        case .string("NaN"): .nan
        default: .nan
        }
    }
    public var doubles: [Double] { array.map(\.double) }
    public var floats: [Float] { array.map { Float($0.double) } }
}

/// Loads a fixture written by Tests/Reference/make_fixtures.py.
/// The shared assets folder beside the repository (`../shared/assets`).
public let sharedAssets = repoRoot.deletingLastPathComponent().appendingPathComponent("shared/assets")

/// A shared asset's path; a missing file is a recorded failure that names it.
public func sharedAsset(_ relative: String) throws -> String {
    let path = sharedAssets.appendingPathComponent(relative).path
    guard FileManager.default.fileExists(atPath: path) else {
        Issue.record("missing shared asset \(path) (../shared must sit beside the repository)")
        throw CocoaError(.fileNoSuchFile)
    }
    return path
}

public func loadFixture(_ relative: String) throws -> JSON {
    let url = repoRoot.appendingPathComponent("Tests/Reference/fixtures").appendingPathComponent(relative)
    guard let data = FileManager.default.contents(atPath: url.path) else {
        Issue.record("missing fixture \(url.path): run Tests/Reference/make_fixtures.py")
        throw CocoaError(.fileNoSuchFile)
    }
    return try JSONDecoder().decode(JSON.self, from: data)
}

/// Deterministic test data in [-1, 1).
public func randomArray(_ count: Int, seed: UInt64, scale: Double = 1) -> [Float] {
    var rng = RandomGenerator(seed: seed)
    return (0..<count).map { _ in Float(rng.uniform(-scale, scale)) }
}

/// Compares element by element with `|a − b| ≤ atol + rtol·|b|`; reports the worst element and its index.
public func expectClose(_ actual: [Float], _ expected: [Double], rtol: Double, atol: Double, _ what: String,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.count == expected.count, "\(what): \(actual.count) values, expected \(expected.count)",
            sourceLocation: sourceLocation)
    var worst = -1.0, worstIndex = -1
    for i in 0..<min(actual.count, expected.count) {
        let a = Double(actual[i]), b = expected[i]
        if a == b || (a.isNaN && b.isNaN) { continue }
        let excess = abs(a - b) - (atol + rtol * abs(b))
        if excess.isNaN || excess > worst { worst = excess.isNaN ? .infinity : excess; worstIndex = i }
    }
    if worstIndex >= 0 && worst > 0 {
        let a = actual[worstIndex], b = expected[worstIndex]
        Issue.record("\(what): element \(worstIndex) is \(a), expected \(b) (|Δ| = \(abs(Double(a) - b)), rtol \(rtol), atol \(atol))",
                     sourceLocation: sourceLocation)
    }
}

/// Criterion: max |Δ| over all elements ≤ `tolerance` · max |reference| (whole tensors; the message names the worst
/// element). Returns the max error relative to max |reference|, for reporting.
@discardableResult
public func expectRelativeMax(_ actual: Tensor, _ expected: Tensor, tolerance: Double, _ what: String,
                              sourceLocation: SourceLocation = #_sourceLocation) -> Double {
    #expect(actual.shape == expected.shape, "\(what): shape \(actual.shape), expected \(expected.shape)", sourceLocation: sourceLocation)
    guard actual.shape == expected.shape else { return .infinity }
    let a = actual.scalars, e = expected.scalars
    var maxRef = 0.0, maxErr = 0.0, worst = 0
    for i in e.indices {
        maxRef = max(maxRef, abs(Double(e[i])))
        let d = abs(Double(a[i]) - Double(e[i]))
        if d > maxErr || d.isNaN { maxErr = d.isNaN ? .infinity : d; worst = i }
    }
    #expect(maxErr <= tolerance * maxRef,
            "\(what): max |Δ| \(maxErr) at flat index \(worst) (got \(a[worst]), expected \(e[worst])) exceeds \(tolerance) × max |ref| \(maxRef)",
            sourceLocation: sourceLocation)
    return maxErr / max(maxRef, .leastNonzeroMagnitude)
}
