import Foundation

/// Everything that can go wrong while reading a tokenizer file or configuring a pipeline.
///
/// Each case names the file and the key or component involved, because a tokenizer that silently falls back to
/// a different behaviour produces plausible-looking but wrong ids, which is far worse than refusing to load.
public enum TokenizerError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file or folder does not exist or cannot be read.
    case unreadable(file: String, reason: String)
    /// The file is not valid JSON (for example truncated).
    case invalidJSON(file: String, reason: String)
    /// A required key is absent.
    case missingKey(file: String, key: String)
    /// A key holds a value of the wrong JSON type or an impossible value.
    case invalidValue(file: String, key: String, reason: String)
    /// A component type (normalizer, pre-tokenizer, model, decoder, post-processor, regex) that Whittle does not implement.
    case unsupported(file: String, key: String, component: String)
    /// A binary file (tokenizer.bin, GGUF) ends early or is malformed.
    case malformed(file: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(file, reason):
            return "\(file): cannot read: \(reason)"
        case let .invalidJSON(file, reason):
            return "\(file): not valid JSON (truncated or corrupt?): \(reason)"
        case let .missingKey(file, key):
            return "\(file): missing key '\(key)'"
        case let .invalidValue(file, key, reason):
            return "\(file): key '\(key)': \(reason)"
        case let .unsupported(file, key, component):
            return "\(file): key '\(key)': unsupported \(component)"
        case let .malformed(file, reason):
            return "\(file): malformed: \(reason)"
        }
    }
}

extension TokenizerError: LocalizedError {
    public var errorDescription: String? { description }
}
