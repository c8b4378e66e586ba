import FileSupport
import Foundation
import Tokenization

/// An Ollama `Modelfile` for a GGUF: `FROM ./<file>.gguf`, a `TEMPLATE` in Ollama's Go-template syntax equivalent to
/// the model's Jinja chat template, and `PARAMETER stop` lines for its end-of-turn tokens.
///
/// The chat template is recognised by rendering it (with Whittle's Jinja interpreter) on probe conversations and
/// comparing the text with each known turn format, not by matching its source, so reformatted or fine-tuned copies
/// of a template are recognised too. Recognised families:
/// - **ChatML** (SmolLM2, Qwen2/2.5, OpenHermes): `<|im_start|>{role}\n{content}<|im_end|>\n`, generation prompt
///   `<|im_start|>assistant\n`; a default system turn the template adds when there is none (SmolLM2's, Qwen2.5's)
///   is kept.
/// - **Llama-3** (3, 3.1, 3.2): `<|start_header_id|>{role}<|end_header_id|>\n\n{content}<|eot_id|>`, with the text
///   3.1/3.2 put before the system message (knowledge cutoff and a date — rendered with `date_string`, by default
///   26 Jul 2024, the templates' own fallback) and the default system turn when there is none. Message contents are not trimmed
///   (the Jinja templates `| trim` them).
/// - **Zephyr** (TinyLlama-Chat): `<|{role}|>\n{content}</s>\n`, generation prompt `<|assistant|>\n`.
/// - **Plain** (no chat template, a base model): `TEMPLATE """{{ .Prompt }}"""`, stop at the EOS token.
///
/// A template that renders none of these gets no TEMPLATE line, so Ollama falls back to its own detection from the
/// GGUF's `tokenizer.chat_template`; the file says so in a comment and the caller gets a warning. Tool calls and the
/// `tool` role are not rendered by the generated templates (Ollama's own templates add them per model).
/// A leading BOS token is left to the runtime when the GGUF adds it (`tokenizer.ggml.add_bos_token`), otherwise kept.
public struct OllamaModelfile: Sendable {
    public enum Family: String, Sendable { case chatml, llama3, zephyr, plain, unrecognised }

    public let text: String
    public let family: Family
    public let stops: [String]
    public let warnings: [String]
    /// The Jinja template prints a BOS token that the TEMPLATE leaves out because the runtime adds it.
    public var bosLeftToRuntime = false

    /// A turn format: header per role, the end-of-turn marker, text after it, and the generation prompt.
    struct TurnFormat {
        let family: Family
        let header: (String) -> String
        let endOfTurn: String
        let after: String
        /// Text the system header gets before the system message (Llama-3.1/3.2's date lines); found by probing.
        var systemPrefix = ""
        /// The system turn's content when the conversation has none, if the template adds one.
        var defaultSystem: String? = nil

        func turn(_ role: String, _ content: String) -> String { header(role) + content + endOfTurn + after }
        var generationPrompt: String { header("assistant") }
    }

    static func formats(eos: String?) -> [TurnFormat] {
        var out = [
            TurnFormat(family: .chatml, header: { "<|im_start|>\($0)\n" }, endOfTurn: "<|im_end|>", after: "\n"),
            TurnFormat(family: .llama3, header: { "<|start_header_id|>\($0)<|end_header_id|>\n\n" }, endOfTurn: "<|eot_id|>", after: ""),
        ]
        if let eos, !eos.isEmpty {
            out.append(TurnFormat(family: .zephyr, header: { "<|\($0)|>\n" }, endOfTurn: eos, after: "\n"))
        }
        return out
    }

    /// The Modelfile for `ggufFileName` (written beside it, so `FROM ./name`) from a tokenizer folder's chat
    /// template and special tokens. `addsBOS`: the GGUF's `tokenizer.ggml.add_bos_token`.
    public static func make(ggufFileName: String, tokenizerFolder: String, addsBOS: Bool) throws -> OllamaModelfile {
        let chat = try ChatTemplateConfig.loadIfPresent(folder: URL(fileURLWithPath: tokenizerFolder))
        var special = chat?.specialTokens ?? [:]
        if special.isEmpty, let tok = try? Tokenizer.load(path: tokenizerFolder) {
            special["bos_token"] = tok.specialTokens.bos
            special["eos_token"] = tok.specialTokens.eos
        }
        return try make(ggufFileName: ggufFileName, chatTemplate: try chat?.template().source, specialTokens: special, addsBOS: addsBOS)
    }

    /// - Parameter variables: extra template variables for the probes (the Llama-3.1/3.2 templates print
    ///   `date_string` into the system turn; pass the one the training data was rendered with).
    public static func make(ggufFileName: String, chatTemplate: String?, specialTokens: [String: String], addsBOS: Bool,
                            variables: [String: JinjaValue] = ["date_string": .string(probeDate)]) throws -> OllamaModelfile {
        let eos = specialTokens["eos_token"]
        var lines = ["# Ollama Modelfile written by Whittle.", "# Create the model with: ollama create <name> -f <this file>",
                     "FROM ./\(ggufFileName)", ""]
        guard let chatTemplate else {
            let stops = eos.map { [$0] } ?? []
            lines += ["# The model has no chat template: prompts are passed through as they are.", "TEMPLATE \"\"\"{{ .Prompt }}\"\"\""]
            lines += stops.map { "PARAMETER stop \(quote($0))" }
            return OllamaModelfile(text: lines.joined(separator: "\n") + "\n", family: .plain, stops: stops, warnings: [])
        }
        let template = try ChatTemplate(source: chatTemplate)
        let bos = specialTokens["bos_token"] ?? ""
        guard let (format, emitsBOS) = recognise(template, specialTokens: specialTokens, variables: variables, bos: bos, eos: eos) else {
            let note = "the chat template is not one Whittle recognises (ChatML, Llama-3, Zephyr): no TEMPLATE is written, so Ollama will try to detect it from the GGUF's tokenizer.chat_template; check `ollama show --template` and write a TEMPLATE by hand if it is wrong"
            lines += ["# NOTE: \(note).", "# The Jinja template travels inside the GGUF (tokenizer.chat_template)."]
            let stops = eos.map { [$0] } ?? []
            lines += stops.map { "PARAMETER stop \(quote($0))" }
            return OllamaModelfile(text: lines.joined(separator: "\n") + "\n", family: .unrecognised, stops: stops, warnings: [note])
        }
        var stops = [format.endOfTurn]
        if let eos, !eos.isEmpty, !stops.contains(eos) { stops.append(eos) }
        let go = goTemplate(format, leadingBOS: emitsBOS && !addsBOS ? bos : "")
        lines += ["# Chat format: \(format.family.rawValue) (recognised by rendering the model's Jinja chat template).",
                  "TEMPLATE \"\"\"\(go)\"\"\""]
        lines += stops.map { "PARAMETER stop \(quote($0))" }
        var result = OllamaModelfile(text: lines.joined(separator: "\n") + "\n", family: format.family, stops: stops, warnings: [])
        result.bosLeftToRuntime = emitsBOS && addsBOS
        return result
    }

    /// Writes `text` atomically.
    public func write(to path: String) throws {
        try AtomicFile.write(text, to: path)
    }

    // MARK: - Recognition

    /// The Llama-3.1/3.2 templates' own fallback date.
    public static let probeDate = "26 Jul 2024"

    static func recognise(_ template: ChatTemplate, specialTokens: [String: String], variables: [String: JinjaValue],
                          bos: String, eos: String?) -> (TurnFormat, emitsBOS: Bool)? {
        func message(_ role: String, _ content: String) -> JinjaValue { .object(["role": .string(role), "content": .string(content)]) }
        func render(_ messages: [JinjaValue], _ generation: Bool) -> String? {
            try? template.render(messages: messages, addGenerationPrompt: generation, specialTokens: specialTokens,
                                 extra: variables).text
        }
        let s = "SYSTEM_PROBE_1", u1 = "USER_PROBE_1", a1 = "ASSISTANT_PROBE_1", u2 = "USER_PROBE_2"
        guard let withSystem = render([message("system", s), message("user", u1), message("assistant", a1), message("user", u2)], true),
              let plain = render([message("user", u1)], true),
              let closed = render([message("user", u1), message("assistant", a1)], false) else { return nil }
        // Try the text as rendered, then (when every rendering starts with it) without a leading BOS token: some
        // templates emit `{{ bos_token }}`, and SmolLM2's BOS *is* `<|im_start|>`, so stripping must not come first.
        var candidates = [(withSystem, plain, closed, false)]
        if !bos.isEmpty, [withSystem, plain, closed].allSatisfy({ $0.hasPrefix(bos) }) {
            candidates.append((String(withSystem.dropFirst(bos.count)), String(plain.dropFirst(bos.count)),
                               String(closed.dropFirst(bos.count)), true))
        }
        for (a, b, c, emitsBOS) in candidates {
            if let f = match(a, b, c, formats: formats(eos: eos), s: s, u1: u1, a1: a1, u2: u2) { return (f, emitsBOS) }
        }
        return nil
    }

    static func match(_ a: String, _ b: String, _ c: String, formats: [TurnFormat], s: String, u1: String, a1: String, u2: String) -> TurnFormat? {
        for var f in formats {
            // The system turn: header, an optional fixed prefix, then the message.
            let systemHeader = f.header("system")
            guard a.hasPrefix(systemHeader), let end = a.range(of: s + f.endOfTurn) else { continue }
            let prefixStart = a.index(a.startIndex, offsetBy: systemHeader.count)
            guard prefixStart <= end.lowerBound else { continue }
            f.systemPrefix = String(a[prefixStart..<end.lowerBound])
            let rest = f.turn("user", u1) + f.turn("assistant", a1) + f.turn("user", u2) + f.generationPrompt
            guard a == f.turn("system", f.systemPrefix + s) + rest else { continue }
            // Without a system message: nothing, or a default system turn.
            let tail = f.turn("user", u1) + f.generationPrompt
            if b == tail {
                f.defaultSystem = nil
            } else if b.hasPrefix(systemHeader), b.hasSuffix(tail) {
                let middle = b.dropFirst(systemHeader.count).dropLast(tail.count)
                guard middle.hasSuffix(f.endOfTurn + f.after) else { continue }
                let defaultSystem = String(middle.dropLast((f.endOfTurn + f.after).count))
                guard b == f.turn("system", defaultSystem) + tail else { continue }
                f.defaultSystem = defaultSystem
            } else {
                continue
            }
            // A finished conversation ends every turn, the assistant's included, with the end-of-turn marker.
            guard c == (f.defaultSystem.map { f.turn("system", $0) } ?? "") + f.turn("user", u1) + f.turn("assistant", a1) else { continue }
            return f
        }
        return nil
    }

    // MARK: - Go template

    /// The format as an Ollama template over `.System` and `.Messages` (system messages reach templates as
    /// `.System`; the final assistant prompt is added unless the last message is an assistant's to continue). Every
    /// character outside `{{ }}` is output, so the template has no layout whitespace.
    static func goTemplate(_ f: TurnFormat, leadingBOS: String) -> String {
        var t = leadingBOS
        t += "{{ if .System }}\(f.header("system"))\(f.systemPrefix){{ .System }}\(f.endOfTurn)\(f.after)"
        if let d = f.defaultSystem { t += "{{ else }}\(f.turn("system", d))" }
        t += "{{ end }}"
        t += "{{ range $i, $_ := .Messages }}{{ $last := eq (len (slice $.Messages $i)) 1 }}"
        t += "{{ if eq .Role \"user\" }}\(f.turn("user", "{{ .Content }}"))"
        t += "{{ else if eq .Role \"assistant\" }}\(f.header("assistant")){{ .Content }}{{ if not $last }}\(f.endOfTurn)\(f.after){{ end }}"
        t += "{{ end }}"
        t += "{{ if and (ne .Role \"assistant\") $last }}\(f.generationPrompt){{ end }}{{ end }}"
        return t
    }

    /// A Modelfile parameter value in double quotes (backslash and quote escaped).
    static func quote(_ s: String) -> String {
        "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
