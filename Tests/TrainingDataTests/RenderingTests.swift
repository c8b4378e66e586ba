import Testing
import TestSupport
import Tokenization
import TrainingData

@Suite struct RenderingTests {
    func gpt2() throws -> Tokenizer { try Tokenizer.load(path: try sharedAsset("tokenizers/gpt2")) }
    func located(_ e: Example) -> LocatedExample { LocatedExample(file: "d.jsonl", line: 4, example: e) }

    @Test func textTrainsEverythingAndEndsWithEOS() throws {
        let tok = try gpt2()
        let eos = Int32(try #require(tok.specialTokens.eosID))
        let r = try ExampleRenderer(tokenizer: tok).render(located(.text("SELECT name FROM t")))
        #expect(r.tokens == tok.encode32("SELECT name FROM t") + [eos])
        #expect(r.trained.allSatisfy { $0 } && r.file == "d.jsonl" && r.line == 4)
    }

    @Test func promptCompletionMasksThePrompt() throws {
        let tok = try gpt2()
        let eos = Int32(try #require(tok.specialTokens.eosID))
        let r = try ExampleRenderer(tokenizer: tok).render(located(.promptCompletion(prompt: "Q: 2+2?\nA:", completion: " 4")))
        let p = tok.encode32("Q: 2+2?\nA:"), c = tok.encode32(" 4", addSpecialTokens: false)
        #expect(r.tokens == p + c + [eos])
        #expect(r.trained == [Bool](repeating: false, count: p.count) + [Bool](repeating: true, count: c.count + 1))
        let all = try ExampleRenderer(tokenizer: tok, options: RenderOptions(trainOn: .everything))
            .render(located(.promptCompletion(prompt: "Q: 2+2?\nA:", completion: " 4")))
        #expect(all.trained.allSatisfy { $0 })
    }

    @Test func alpacaPromptFormat() throws {
        let tok = try gpt2()
        let renderer = try ExampleRenderer(tokenizer: tok, options: RenderOptions(promptFormat: .alpaca))
        let with = try renderer.render(located(.alpaca(instruction: "Translate", input: "bonjour", output: "hello")))
        let prompt = tok.decode(with.tokens.enumerated().filter { !with.trained[$0.offset] }.map { Int($0.element) })
        #expect(prompt.hasPrefix("Below is an instruction") && prompt.contains("### Input:\nbonjour") && prompt.hasSuffix("### Response:\n"))
        #expect(tok.decode(with.tokens.enumerated().filter { with.trained[$0.offset] }.map { Int($0.element) }) == "hello<|endoftext|>")
        let without = try renderer.render(located(.alpaca(instruction: "Say hi", input: "", output: "hi")))
        #expect(!tok.decode(without.tokens.map(Int.init)).contains("### Input"))
    }

    @Test func chatWithoutATemplateIsAnError() throws {
        let renderer = try ExampleRenderer(tokenizer: try gpt2())
        #expect { try renderer.render(located(.chat(turns: [ChatTurn(role: "user", content: "hi")], tools: nil))) } throws: {
            ($0 as? DataError)?.description.contains("d.jsonl:4") ?? false
        }
    }
}
