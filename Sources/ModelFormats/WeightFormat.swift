import Models
import Tensors

/// How an inference command holds a model's matrices in memory (`--weights`).
///
/// - `auto`: as the file stores them — BF16/F16 matrices stay 16-bit, F32 ones stay Float32 (GGUF files, whose
///   weights Whittle reads as Float32, and random-init models stay Float32).
/// - `f32`: everything Float32 (what training needs; the library default).
/// - `bf16` / `f16`: every matrix (Linear weights, embeddings) 16-bit; a matrix stored in another dtype is rounded to
///   nearest even on load. Norms, biases and adapters always stay Float32.
///
/// 16-bit matrices halve the bytes decoding reads per token and the weights' memory; products accumulate in Float32
/// and widening is exact, so logits equal the Float32 model's on the same (rounded) weights up to summation order.
public enum WeightFormat: String, Sendable, CaseIterable, CustomStringConvertible {
    case auto, f32, bf16, f16

    public var description: String { rawValue }

    /// Parses a command-line value; the error lists the choices.
    public init(parsing text: String) throws(ModelFormatError) {
        guard let f = WeightFormat(rawValue: text.lowercased()) else {
            throw ModelFormatError(file: "--weights", "'\(text)' is not a weight format; choose one of "
                                   + Self.allCases.map(\.rawValue).joined(separator: ", "))
        }
        self = f
    }

    /// The 16-bit kind to hold a matrix stored as `stored` (nil: a Float32 file tensor) in; nil = Float32.
    public func kind(stored: HalfKind?) -> HalfKind? {
        switch self {
        case .auto: stored
        case .f32: nil
        case .bf16: .bf16
        case .f16: .f16
        }
    }

    /// Float32 parameters (a GGUF file, a random init) held as this format asks: `bf16`/`f16` round every matrix,
    /// `auto` and `f32` keep Float32.
    public func apply(to parameters: [String: Tensor]) -> ModelWeights {
        switch kind(stored: nil) {
        case nil: ModelWeights(parameters: parameters)
        case let k?: ModelWeights.narrowing(parameters, to: k)
        }
    }
}
