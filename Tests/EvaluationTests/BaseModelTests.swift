import Foundation
import Evaluation
import ModelFormats
import Models
import TestSupport
import Testing
import Tokenization

/// The bundled base model Checkpoints/whittle-base: its tokenizer encodes like HF `tokenizers` (fixture from
/// Tests/Reference/gen_bpe_trainer.py, which reads the committed file) and equals what HF's trainer makes from the
/// committed corpus; the model loads, greedy generation repeats itself exactly, and pretraining bought something:
/// the loss on Datasets/general/test.jsonl is below that of the same architecture at random initialisation.
@Suite(.serialized) struct BaseModelTests {
    static let folder = repoRoot.appendingPathComponent("Checkpoints/whittle-base").path

    @Test func tokenizerEncodesLikeHF() throws {
        let f = try loadFixture("bpe_trainer/base_model_tokenizer.json")
        let tok = try Tokenizer.load(path: Self.folder)
        #expect(tok.vocabularySize == f["vocab_size"].int)
        for c in f["cases"].array {
            let text = c["text"].string
            #expect(tok.encode(text, addSpecialTokens: true) == c["ids"].array.map(\.int), "ids of \(text.debugDescription)")
        }
        // The generator checked that HF's BpeTrainer on the committed corpus writes the committed tokenizer.json byte
        // for byte; Whittle's trainer must too.
        #expect(f["hf_trained_equals_committed"].string == "yes")
        let committed = try String(contentsOfFile: Self.folder + "/tokenizer.json", encoding: .utf8)
        let texts = try RecordTexts.read(repoRoot.appendingPathComponent("Datasets/general/train.jsonl").path).map(\.text)
        let ours = BPETrainer(vocabularySize: f["vocab_size"].int, specialTokens: ["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
            .train(texts: texts)
        #expect(ours.tokenizerJSON() == committed, "Whittle's BPETrainer on Datasets/general/train.jsonl differs from the committed tokenizer.json")
    }

    @Test func generatesDeterministicallyAndBeatsRandomInit() throws {
        let m = try LoadedModel(folder: Self.folder)
        #expect(m.model.config.family == .llama && m.model.config.tieWordEmbeddings)
        let options = GenerationOptions(maxNewTokens: 24)
        let a = try TextGeneration.run(m, prompt: "Once upon a time", options: options)
        let b = try TextGeneration.run(m, prompt: "Once upon a time", options: options)
        #expect(a.generatedIDs == b.generatedIDs && !a.generatedIDs.isEmpty)
        let chat = try TextGeneration.run(m, prompt: "Hello! How are you?", chat: true, options: options)
        #expect(!chat.generatedIDs.isEmpty)

        let texts = try RecordTexts.read(repoRoot.appendingPathComponent("Datasets/general/test.jsonl").path).prefix(40)
        let trained = try Scoring.score(m, texts: Array(texts))
        let fresh = try LoadedModel(folder: Self.folder, randomInitSeed: 0)
        let initial = try Scoring.score(fresh, texts: Array(texts))
        #expect(trained.meanLoss < initial.meanLoss - 1, "test loss \(trained.meanLoss) vs \(initial.meanLoss) at random init")
    }
}

