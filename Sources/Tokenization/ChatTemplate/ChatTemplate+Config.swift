import Foundation

/// The chat templates and special tokens a Hugging Face tokenizer folder declares.
///
/// `tokenizer_config.json` holds `chat_template` either as one string or as a list of `{"name", "template"}`
/// (e.g. "default" and "tool_use"); newer repositories put the default template in `chat_template.jinja` beside it,
/// which transformers prefers, so Whittle does too, and named ones in `additional_chat_templates/<name>.jinja`. Special tokens are strings or AddedToken objects
/// (`{"content": "<s>", ...}`).
public struct ChatTemplateConfig: Sendable {
    /// Templates by name, in file order; a single-string template is named "default".
    public let templates: [(name: String, source: String)]
    /// `bos_token`, `eos_token`, `unk_token`, `pad_token`, ... as the template sees them.
    public let specialTokens: [String: String]

    /// The special-token fields transformers passes to templates (when set).
    static let specialTokenKeys = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"]

    public init(templates: [(name: String, source: String)], specialTokens: [String: String]) {
        self.templates = templates
        self.specialTokens = specialTokens
    }

    /// Reads a tokenizer_config.json object (already parsed).
    public init(tokenizerConfig config: JinjaValue, separateTemplate: String? = nil) throws {
        guard case .dict(let d) = config else {
            throw ChatTemplateError(.input, "tokenizer_config.json must hold a JSON object")
        }
        var templates: [(String, String)] = []
        if let separateTemplate {
            templates.append(("default", separateTemplate))
        }
        switch d["chat_template"] {
        case .string(let s)?:
            if separateTemplate == nil { templates.append(("default", s)) }
        case .list(let items)?:
            for (i, item) in items.enumerated() {
                guard case .dict(let entry) = item, case .string(let name)? = entry["name"],
                      case .string(let source)? = entry["template"] else {
                    throw ChatTemplateError(.input, "chat_template[\(i)] must be an object with string \"name\" and \"template\"")
                }
                if separateTemplate != nil && name == "default" { continue }
                templates.append((name, source))
            }
        case nil, .none?:
            break
        case let other?:
            throw ChatTemplateError(.input, "chat_template must be a string or a list of {name, template}, got \(other.typeName)")
        }
        var tokens: [String: String] = [:]
        for key in Self.specialTokenKeys {
            switch d[key] {
            case .string(let s)?: tokens[key] = s
            case .dict(let added)?:
                guard case .string(let content)? = added["content"] else {
                    throw ChatTemplateError(.input, "\(key) is an AddedToken object without a string \"content\"")
                }
                tokens[key] = content
            case nil, .none?: break
            case let other?:
                throw ChatTemplateError(.input, "\(key) must be a string, an AddedToken object or null, got \(other.typeName)")
            }
        }
        self.init(templates: templates, specialTokens: tokens)
    }

    /// A folder's chat templates, or nil when it has none (no tokenizer_config.json, or one without a
    /// `chat_template` and no chat_template.jinja). A file that exists but cannot be read, parsed or compiled is an
    /// error, never a silent "no template".
    public static func loadIfPresent(folder: URL) throws -> ChatTemplateConfig? {
        let configURL = folder.appendingPathComponent("tokenizer_config.json")
        guard FileManager.default.fileExists(atPath: configURL.path) else { return nil }
        if !FileManager.default.fileExists(atPath: folder.appendingPathComponent("chat_template.jinja").path) {
            let text: String
            do { text = try String(contentsOf: configURL, encoding: .utf8) } catch {
                throw ChatTemplateError(.input, "cannot read \(configURL.path): \(error.localizedDescription)")
            }
            let config: JinjaValue
            do { config = try JinjaValue.parseJSON(text) } catch let e as JinjaJSONError {
                throw ChatTemplateError(.input, "\(configURL.path): \(e.description)")
            }
            guard case .dict(let d) = config else { throw ChatTemplateError(.input, "\(configURL.path) is not a JSON object") }
            switch d["chat_template"] {
            case nil, .none?: return nil
            default: break
            }
        }
        let result = try load(from: folder)
        _ = try result.template()   // compile now: a broken template fails here, naming its line
        return result
    }

    /// Loads from a tokenizer folder (tokenizer_config.json, plus chat_template.jinja when present) or from the
    /// tokenizer_config.json file itself.
    public static func load(from url: URL) throws -> ChatTemplateConfig {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw ChatTemplateError(.input, "no such file or folder: \(url.path)")
        }
        let folder = isDirectory.boolValue ? url : url.deletingLastPathComponent()
        let configURL = isDirectory.boolValue ? url.appendingPathComponent("tokenizer_config.json") : url
        let text: String
        do {
            text = try String(contentsOf: configURL, encoding: .utf8)
        } catch {
            throw ChatTemplateError(.input, "cannot read \(configURL.path): \(error.localizedDescription)")
        }
        let config: JinjaValue
        do {
            config = try JinjaValue.parseJSON(text)
        } catch let e as JinjaJSONError {
            throw ChatTemplateError(.input, "\(configURL.path): \(e.description)")
        }
        let jinjaURL = folder.appendingPathComponent("chat_template.jinja")
        let separate = try? String(contentsOf: jinjaURL, encoding: .utf8)
        var result = try ChatTemplateConfig(tokenizerConfig: config, separateTemplate: separate)
        // transformers 5 saves named templates as additional_chat_templates/<name>.jinja.
        let extraFolder = folder.appendingPathComponent("additional_chat_templates")
        if let names = try? FileManager.default.contentsOfDirectory(atPath: extraFolder.path) {
            var templates = result.templates
            for file in names.sorted() where file.hasSuffix(".jinja") {
                let name = String(file.dropLast(".jinja".count))
                guard !templates.contains(where: { $0.name == name }) else { continue }
                let source = try String(contentsOf: extraFolder.appendingPathComponent(file), encoding: .utf8)
                templates.append((name, source))
            }
            result = ChatTemplateConfig(templates: templates, specialTokens: result.specialTokens)
        }
        if result.templates.isEmpty {
            throw ChatTemplateError(.input, "\(configURL.path) has no chat_template (and there is no chat_template.jinja beside it)")
        }
        return result
    }

    /// The template transformers' `get_chat_template` would pick: `name` if given; otherwise "tool_use" when the
    /// conversation has tools and such a template exists, else "default".
    public func template(named name: String? = nil, forTools hasTools: Bool = false) throws -> ChatTemplate {
        var wanted = name ?? "default"
        if name == nil, hasTools, templates.contains(where: { $0.name == "tool_use" }) { wanted = "tool_use" }
        if let match = templates.first(where: { $0.name == wanted }) { return try ChatTemplate(source: match.source) }
        let known = templates.map(\.name).sorted().joined(separator: ", ")
        throw ChatTemplateError(.input, "no chat template named '\(wanted)' (available: \(known.isEmpty ? "none" : known))")
    }
}

/// A conversation to render: the messages and, optionally, tool schemas.
public struct ChatRequest: Sendable {
    public var messages: [JinjaValue]
    public var tools: [JinjaValue]?

    public init(messages: [JinjaValue], tools: [JinjaValue]? = nil) {
        self.messages = messages
        self.tools = tools
    }

    /// Parses a JSON array of messages, or an object `{"messages": [...], "tools": [...]}`.
    public init(json text: String) throws {
        let value: JinjaValue
        do {
            value = try JinjaValue.parseJSON(text)
        } catch let e as JinjaJSONError {
            throw ChatTemplateError(.input, e.description)
        }
        switch value {
        case .list(let items):
            self.init(messages: items)
        case .dict(let d):
            guard case .list(let items)? = d["messages"] else {
                throw ChatTemplateError(.input, "a conversation object needs a \"messages\" array")
            }
            var tools: [JinjaValue]?
            switch d["tools"] {
            case .list(let t)?: tools = t
            case nil, .none?: tools = nil
            case let other?: throw ChatTemplateError(.input, "\"tools\" must be an array, got \(other.typeName)")
            }
            self.init(messages: items, tools: tools)
        default:
            throw ChatTemplateError(.input, "expected a JSON array of messages or an object with \"messages\"")
        }
        for (i, m) in messages.enumerated() {
            guard case .dict = m else { throw ChatTemplateError(.input, "message \(i) must be a JSON object, got \(m.typeName)") }
        }
    }
}
