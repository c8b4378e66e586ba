import ArgumentParser
import Evaluation
import Foundation
import ModelFormats
import Models

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate text from a model folder (config.json + safetensors + tokenizer files).",
        discussion: "Greedy by default (--temperature 0). Stops at the model's EOS ids, a --stop string, or --max-tokens."
    )

    @Option(help: "Hugging Face model folder or .gguf file.") var model: String
    @Option(help: "How the weights are held in memory: auto (a BF16/F16 file's matrices stay 16-bit, halving weight memory and bytes read per decoded token; F32 files and .gguf stay f32), f32, bf16, f16 (matrices rounded to nearest even when stored otherwise).") var weights: WeightFormat = .auto
    @Option(name: .customLong("adapter"), help: "A PEFT adapter folder to apply unmerged, DIR or DIR:WEIGHT (repeatable; adapters add up).")
    var adapters: [String] = []
    @Option(help: "The prompt text.") var prompt: String
    @Flag(help: "Render the prompt with the model's chat template (as a user turn, with the generation prompt).") var chat = false
    @Option(help: "A system message (with --chat).") var system: String?
    @Option(help: "New tokens at most.") var maxTokens = 128
    @Option(help: "0 = greedy.") var temperature = 0.0
    @Option(help: "0 = off.") var topK = 0
    @Option(help: "1 = off.") var topP = 1.0
    @Option(help: "0 = off.") var minP = 0.0
    @Option(help: "1 = off.") var repetitionPenalty = 1.0
    @Option(help: "Sampling seed.") var seed: UInt64 = 0
    @Option(name: .customLong("stop"), help: "Stop at this text (repeatable).") var stops: [String] = []
    @Flag(help: "Print JSON: prompt ids, generated ids, text, stop reason.") var json = false

    func run() throws {
        let m = try LoadedModel(folder: model, adapters: adapters.map { try AdapterChoice(parsing: $0) }, weights: weights)
        let options = GenerationOptions(maxNewTokens: maxTokens, temperature: temperature, topK: topK, topP: topP, minP: minP,
                                        repetitionPenalty: repetitionPenalty, seed: seed)
        let result = try TextGeneration.run(m, prompt: prompt, chat: chat, system: system, options: options, stopStrings: stops) { piece in
            if !json { FileHandle.standardOutput.write(Data(piece.utf8)) }
        }
        if json {
            struct Out: Encodable { var promptIDs: [Int]; var generatedIDs: [Int]; var text: String; var stopReason: String }
            print(try JSONOutput.encode(Out(promptIDs: result.promptIDs, generatedIDs: result.generatedIDs, text: result.text,
                                            stopReason: result.stopReason)))
        } else {
            print("")
        }
    }
}

struct Chat: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "An interactive multi-turn chat in the terminal, with the model's chat template.",
        discussion: "Type a message and press return; an empty line or end of input (Ctrl-D) ends the chat; /reset starts over."
    )

    @Option(help: "Hugging Face model folder or .gguf file (with a chat template).") var model: String
    @Option(help: "How the weights are held in memory: auto (a BF16/F16 file's matrices stay 16-bit, halving weight memory and bytes read per decoded token; F32 files and .gguf stay f32), f32, bf16, f16 (matrices rounded to nearest even when stored otherwise).") var weights: WeightFormat = .auto
    @Option(name: .customLong("adapter"), help: "A PEFT adapter folder to apply unmerged, DIR or DIR:WEIGHT (repeatable; adapters add up).")
    var adapters: [String] = []

    @Option(help: "A system message.") var system: String?
    @Option(help: "New tokens at most per reply.") var maxTokens = 256
    @Option(help: "0 = greedy.") var temperature = 0.7
    @Option(help: "1 = off.") var topP = 0.9
    @Option(help: "Sampling seed.") var seed: UInt64 = 0

    func run() throws {
        let m = try LoadedModel(folder: model, adapters: adapters.map { try AdapterChoice(parsing: $0) }, weights: weights)
        guard m.chat != nil else { throw ValidationError("\(model) has no chat template; use whittle generate") }
        var messages: [(role: String, content: String)] = system.map { [("system", $0)] } ?? []
        var turn: UInt64 = 0
        while true {
            FileHandle.standardOutput.write(Data("> ".utf8))
            guard let line = readLine(), !line.isEmpty else { break }
            if line == "/reset" { messages = system.map { [("system", $0)] } ?? []; continue }
            messages.append(("user", line))
            let options = GenerationOptions(maxNewTokens: maxTokens, temperature: temperature, topP: topP, seed: seed &+ turn)
            let r = try TextGeneration.reply(m, messages: messages, options: options) { piece in
                FileHandle.standardOutput.write(Data(piece.utf8))
            }
            print("")
            messages.append(("assistant", r.text))
            turn += 1
        }
    }
}

/// `--weights auto|f32|bf16|f16` (ArgumentParser's error lists the choices).
extension WeightFormat: ExpressibleByArgument {}
