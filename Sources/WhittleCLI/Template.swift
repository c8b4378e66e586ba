import ArgumentParser
import Foundation
import Tokenization

/// `whittle template`: shows exactly the text a tokenizer's chat template makes of a conversation, so a user can
/// check a training format before spending CPU hours on it.
struct Template: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Render a conversation with a tokenizer's chat template (as transformers' apply_chat_template).",
        discussion: """
        --tokenizer is a folder holding tokenizer_config.json (and optionally chat_template.jinja), or the \
        tokenizer_config.json file itself. --messages is a JSON file: an array of messages, or an object \
        {"messages": [...], "tools": [...]}. With tools, a template named "tool_use" is preferred, as in \
        transformers. The rendered text is printed as is, with no trailing newline added.
        """
    )

    @Option(help: "Tokenizer folder or tokenizer_config.json path.")
    var tokenizer: String

    @Option(help: "JSON file with the messages (or {\"messages\", \"tools\"}).")
    var messages: String

    @Flag(help: "Append the assistant header so the model continues as the assistant.")
    var addGenerationPrompt = false

    @Option(help: "Named template to use (default: \"tool_use\" when there are tools and it exists, else \"default\").")
    var templateName: String?

    func run() throws {
        let config = try ChatTemplateConfig.load(from: URL(fileURLWithPath: tokenizer))
        let messagesURL = URL(fileURLWithPath: messages)
        let text: String
        do {
            text = try String(contentsOf: messagesURL, encoding: .utf8)
        } catch {
            throw ValidationError("cannot read --messages \(messagesURL.path): \(error.localizedDescription)")
        }
        let request = try ChatRequest(json: text)
        let rendered = try config.template(named: templateName, forTools: request.tools != nil).render(
            messages: request.messages, tools: request.tools, addGenerationPrompt: addGenerationPrompt,
            specialTokens: config.specialTokens)
        FileHandle.standardOutput.write(Data(rendered.text.utf8))
    }
}
