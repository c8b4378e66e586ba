/// Why a chat template could not be parsed or rendered. Every error names the construct and, when known, the
/// template line, so a user with an unusual template learns what Whittle refuses instead of getting wrong text.
public struct ChatTemplateError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// The template text is not valid Jinja (or uses syntax Whittle does not implement).
        case syntax
        /// Rendering failed the way jinja2 would fail (undefined attribute, bad types, unknown filter at run time).
        case render
        /// The template called `raise_exception(message)`; `message` is the template's own text.
        case raised
        /// The tokenizer_config.json or messages input is unusable.
        case input
    }

    public let kind: Kind
    public let message: String
    public var line: Int?

    public init(_ kind: Kind, _ message: String, line: Int? = nil) {
        self.kind = kind
        self.message = message
        self.line = line
    }

    public var description: String {
        let place = line.map { " (template line \($0))" } ?? ""
        switch kind {
        case .syntax: return "chat template syntax error\(place): \(message)"
        case .render: return "chat template render error\(place): \(message)"
        case .raised: return "chat template raised an exception\(place): \(message)"
        case .input: return "chat template input error: \(message)"
        }
    }
}

/// A render-time failure whose line is filled in by the statement that catches it.
func jinjaRenderError(_ message: String) -> ChatTemplateError { ChatTemplateError(.render, message) }
