import Tokenization

/// One JSON object per line, keys in the order given, written as Python's `json.dumps` writes them by
/// default (`", "` and `": "` separators, non-ASCII kept as UTF-8). Built by hand rather than with
/// `JSONSerialization`, whose key order is not defined, so the bytes depend only on the values.
public enum JSONLine {
    public static func object(_ pairs: [(String, String)]) -> String {
        "{" + pairs.map { JSONValue.quoted($0.0) + ": " + JSONValue.quoted($0.1) }.joined(separator: ", ") + "}"
    }

    public static func text(_ text: String) -> String { object([("text", text)]) }

    public static func promptCompletion(prompt: String, completion: String) -> String {
        object([("prompt", prompt), ("completion", completion)])
    }

    /// `{"messages": [{"role": …, "content": …}, …]}`.
    public static func chat(_ messages: [ChatMessage]) -> String {
        "{\"messages\": [" + messages.map { object([("role", $0.role.rawValue), ("content", $0.content)]) }
            .joined(separator: ", ") + "]}"
    }
}

/// A chat turn of a generated conversation.
public struct ChatMessage: Sendable, Equatable {
    public enum Role: String, Sendable { case system, user, assistant }
    public var role: Role
    public var content: String
    public init(_ role: Role, _ content: String) { self.role = role; self.content = content }
}
