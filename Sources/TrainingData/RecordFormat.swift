import Tokenization

/// The shapes of domain examples people bring (see Datasets/README.md for one-line examples of each).
public enum RecordFormat: String, Sendable, CaseIterable, Codable {
    /// `{"text": …}`: raw text, trained on every token.
    case text
    /// `{"prompt": …, "completion": …}`: trained on the completion.
    case promptCompletion = "prompt_completion"
    /// `{"instruction": …, "input": …, "output": …}` (input optional): trained on the output.
    case alpaca
    /// `{"messages": [{"role", "content"}, …], "tools": […]?}`: trained on assistant turns.
    case chat
    /// `{"conversations": [{"from", "value"}, …], "tools": …?}` with human / gpt / system / function_call /
    /// observation speakers: trained on assistant (gpt and function_call) turns.
    case sharegpt
}

/// One chat turn. `toolCalls` holds an assistant's function calls in the OpenAI / transformers shape
/// (`[{"type": "function", "function": {"name", "arguments"}}]`), which chat templates read.
public struct ChatTurn: Sendable, Equatable {
    public var role: String
    public var content: String
    public var toolCalls: JSONValue?

    public init(role: String, content: String, toolCalls: JSONValue? = nil) {
        self.role = role
        self.content = content
        self.toolCalls = toolCalls
    }
}

/// A domain example, before rendering and tokenization.
public enum Example: Sendable, Equatable {
    case text(String)
    case promptCompletion(prompt: String, completion: String)
    case alpaca(instruction: String, input: String, output: String)
    case chat(turns: [ChatTurn], tools: JSONValue?)
}

/// An example with the place it came from, for every later error.
public struct LocatedExample: Sendable, Equatable {
    public var file: String
    public var line: Int
    public var example: Example

    public init(file: String, line: Int, example: Example) {
        self.file = file
        self.line = line
        self.example = example
    }
}

/// How to read records: the format (or nil to detect it from the keys of each record) and a key mapping
/// from the file's names to the format's names (e.g. `["response": "output"]` for gpteacher, or CSV columns
/// `["category": "completion"]`).
public struct RecordOptions: Sendable, Equatable {
    public var format: RecordFormat?
    public var keyMap: [String: String]

    public init(format: RecordFormat? = nil, keyMap: [String: String] = [:]) {
        self.format = format
        self.keyMap = keyMap
    }
}

// MARK: - Detection and conversion

extension RecordFormat {
    /// The format whose required keys a record has (after mapping). Ambiguous or unknown keys are errors.
    public static func detect(keys: [String]) -> RecordFormat? {
        let k = Set(keys)
        let candidates: [RecordFormat] = [
            k.contains("messages") ? .chat : nil,
            k.contains("conversations") ? .sharegpt : nil,
            k.contains("instruction") && k.contains("output") ? .alpaca : nil,
            k.contains("prompt") && k.contains("completion") ? .promptCompletion : nil,
            k.contains("text") && !k.contains("prompt") && !k.contains("completion") ? .text : nil,
        ].compactMap { $0 }
        return candidates.count == 1 ? candidates[0] : nil
    }
}

public enum RecordConverter {
    /// Converts one raw record to an example, or throws a `DataError` naming its file, line and key.
    public static func convert(_ record: RawRecord, options: RecordOptions) throws(DataError) -> LocatedExample {
        let pairs = record.value.objectValue ?? []
        // Apply the key mapping (file name → format name). A mapped key that is absent is reported below
        // by the missing-key check, under both names.
        var mapped: [(key: String, value: JSONValue)] = []
        for (k, v) in pairs { mapped.append((options.keyMap[k] ?? k, v)) }
        let value = JSONValue.object(mapped)
        let keys = mapped.map(\.key)
        guard let format = options.format ?? RecordFormat.detect(keys: keys) else {
            throw DataError(.unknownFormat, file: record.file, line: record.line,
                            "cannot tell the record format from its keys (\(keys.joined(separator: ", "))); expected text, "
                            + "prompt+completion, instruction+output (alpaca), messages (chat) or conversations (sharegpt), "
                            + "or name the format and a key mapping in the recipe")
        }
        let ctx = Context(file: record.file, line: record.line, value: value, keyMap: options.keyMap)
        let example: Example
        switch format {
        case .text:
            example = .text(try ctx.string("text"))
        case .promptCompletion:
            example = .promptCompletion(prompt: try ctx.string("prompt"), completion: try ctx.string("completion"))
        case .alpaca:
            example = .alpaca(instruction: try ctx.string("instruction"), input: try ctx.string("input", optional: true),
                              output: try ctx.string("output"))
        case .chat:
            example = try ctx.chat()
        case .sharegpt:
            example = try ctx.shareGPT()
        }
        return LocatedExample(file: record.file, line: record.line, example: example)
    }

    /// Reads and converts a whole file (small files and tests; training streams with `RecordReader`).
    public static func readExamples(path: String, container: ContainerFormat? = nil,
                                    options: RecordOptions = RecordOptions()) throws(DataError) -> [LocatedExample] {
        var out: [LocatedExample] = []
        for r in try RecordReader.readAll(path: path, container: container) { out.append(try convert(r, options: options)) }
        return out
    }

    private struct Context {
        var file: String
        var line: Int
        var value: JSONValue
        var keyMap: [String: String]

        func fail(_ kind: DataError.Kind, _ key: String?, _ message: String) -> DataError {
            DataError(kind, file: file, line: line, key: key, message)
        }

        /// The name the user wrote for a format key, to report errors in their words.
        func display(_ key: String) -> String {
            if let original = keyMap.first(where: { $0.value == key })?.key { return "\(original)\" (mapped to \"\(key)" }
            return key
        }

        func string(_ key: String, optional: Bool = false) throws(DataError) -> String {
            guard let v = value[key] else {
                if optional { return "" }
                throw fail(.missingKey, display(key), "missing (record keys: \(value.keys.joined(separator: ", ")))")
            }
            if optional, case .null = v { return "" }
            guard case .string(let s) = v else {
                throw fail(.wrongType, display(key), "expected a string, found \(v.typeDescription)")
            }
            return s
        }

        func tools() throws(DataError) -> JSONValue? {
            guard let t = value["tools"] else { return nil }
            switch t {
            case .null: return nil
            case .array: return t
            case .string(let s):
                // ShareGPT files (e.g. glaive) store the tool list as a JSON string.
                if s.isEmpty { return nil }
                do {
                    let parsed = try JSONParser.parse(s)
                    guard case .array = parsed else { throw fail(.wrongType, "tools", "the JSON string holds \(parsed.typeDescription), expected an array of tools") }
                    return parsed
                } catch let e as JSONError {
                    throw fail(.badJSON, "tools", "the JSON string is not valid JSON (\(e))")
                } catch {
                    throw error as! DataError
                }
            default:
                throw fail(.wrongType, "tools", "expected an array of tools (or a JSON string of one), found \(t.typeDescription)")
            }
        }

        func chat() throws(DataError) -> Example {
            guard let m = value["messages"] else { throw fail(.missingKey, display("messages"), "missing") }
            guard let list = m.arrayValue else { throw fail(.wrongType, display("messages"), "expected an array, found \(m.typeDescription)") }
            if list.isEmpty { throw fail(.badValue, display("messages"), "the conversation is empty") }
            var turns: [ChatTurn] = []
            for (i, item) in list.enumerated() {
                let where_ = "messages[\(i)]"
                guard case .object = item else { throw fail(.wrongType, where_, "expected an object, found \(item.typeDescription)") }
                guard let role = item["role"]?.stringValue else {
                    throw fail(item["role"] == nil ? .missingKey : .wrongType, "\(where_).role", item["role"] == nil ? "missing" : "expected a string")
                }
                guard ["system", "user", "assistant", "tool"].contains(role) else {
                    throw fail(.badValue, "\(where_).role", "unknown role \"\(role)\"; expected system, user, assistant or tool")
                }
                let content: String
                switch item["content"] {
                case .string(let s)?: content = s
                case .null?, nil:
                    guard role == "assistant", item["tool_calls"] != nil else {
                        throw fail(item["content"] == nil ? .missingKey : .wrongType, "\(where_).content", "missing (only an assistant turn with tool_calls may omit it)")
                    }
                    content = ""
                case let other?:
                    throw fail(.wrongType, "\(where_).content", "expected a string, found \(other.typeDescription)")
                }
                turns.append(ChatTurn(role: role, content: content, toolCalls: item["tool_calls"]))
            }
            return .chat(turns: turns, tools: try tools())
        }

        func shareGPT() throws(DataError) -> Example {
            guard let c = value["conversations"] else { throw fail(.missingKey, display("conversations"), "missing") }
            guard let list = c.arrayValue else { throw fail(.wrongType, display("conversations"), "expected an array, found \(c.typeDescription)") }
            if list.isEmpty { throw fail(.badValue, display("conversations"), "the conversation is empty") }
            var turns: [ChatTurn] = []
            if case .string(let system)? = value["system"], !system.isEmpty { turns.append(ChatTurn(role: "system", content: system)) }
            for (i, item) in list.enumerated() {
                let where_ = "conversations[\(i)]"
                guard let from = item["from"]?.stringValue else { throw fail(.missingKey, "\(where_).from", "missing or not a string") }
                guard let text = item["value"]?.stringValue else { throw fail(.missingKey, "\(where_).value", "missing or not a string") }
                switch from {
                case "human", "user": turns.append(ChatTurn(role: "user", content: text))
                case "gpt", "assistant": turns.append(ChatTurn(role: "assistant", content: text))
                case "system": turns.append(ChatTurn(role: "system", content: text))
                case "observation", "tool": turns.append(ChatTurn(role: "tool", content: text))
                case "function_call":
                    // A call is JSON {"name", "arguments"}; templates expect it as an assistant tool call.
                    let call: JSONValue
                    do { call = try JSONParser.parse(text) } catch {
                        throw fail(.badJSON, "\(where_).value", "a function_call value must be JSON {\"name\", \"arguments\"} (\(error))")
                    }
                    guard call["name"]?.stringValue != nil else {
                        throw fail(.badValue, "\(where_).value", "the function_call has no string \"name\"")
                    }
                    let function = JSONValue.object([("name", call["name"]!), ("arguments", call["arguments"] ?? .object([]))])
                    turns.append(ChatTurn(role: "assistant", content: "",
                                          toolCalls: .array([.object([("type", .string("function")), ("function", function)])])))
                default:
                    throw fail(.badValue, "\(where_).from", "unknown speaker \"\(from)\"; expected human, gpt, system, function_call or observation")
                }
            }
            return .chat(turns: turns, tools: try tools())
        }
    }
}
