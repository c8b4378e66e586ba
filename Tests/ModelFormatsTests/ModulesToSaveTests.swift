import Foundation
import ModelFormats
import Models
import Tensors
import TestSupport
import Testing

/// PEFT's `modules_to_save` beside a LoRA adapter: which parameters a pattern chooses, how a saved copy applies at a
/// weight, and the errors. (Reading, writing, unmerged and merged logits against peft run in the peft-case suites.)
@Suite struct ModulesToSaveTests {
    /// peft's suffix match: `norm` picks every norm, `layers.1` a whole layer, `lm_head` on a tied model the embedding
    /// matrix; a pattern that matches nothing is an error naming it.
    @Test func patternsChooseWhatPEFTChooses() throws {
        let tied = try PEFTCase("llama_tied_modules_to_save").config
        let untied = try PEFTCase("llama_untied_modules_to_save").config
        #expect(tied.tieWordEmbeddings && !untied.tieWordEmbeddings)
        let norms = try tied.savedParameterNames(modules: ["norm"])
        #expect(norms == tied.parameterShapes().map(\.name).filter { $0.hasSuffix("norm.weight") })
        #expect(norms.count == 2 * tied.numLayers + 1)
        #expect(try tied.savedParameterNames(modules: ["lm_head"]) == ["model.embed_tokens.weight"])
        #expect(try tied.savedParameterNames(modules: ["embed_tokens", "lm_head"]) == ["model.embed_tokens.weight"])
        #expect(try untied.savedParameterNames(modules: ["embed_tokens", "lm_head"]) == ["model.embed_tokens.weight", "lm_head.weight"])
        #expect(try tied.savedParameterNames(modules: ["layers.1"]) == tied.parameterShapes().map(\.name).filter { $0.hasPrefix("model.layers.1.") })
        do {
            _ = try tied.savedParameterNames(modules: ["embed_tokens", "wte"])
            Issue.record("expected an error")
        } catch {
            #expect(error.message.contains("\"wte\" matches no module"), "\(error)")
        }
        // A module both adapted and saved is refused.
        let spec = LoRASpec(rank: 2, alpha: 4, targetModules: ["q_proj"])
        do {
            _ = try tied.savedParameterNames(modules: ["layers.0"], lora: spec)
            Issue.record("expected an error")
        } catch {
            #expect(error.message.contains("model.layers.0.self_attn.q_proj.weight is also adapted"), "\(error)")
        }
    }

    /// At weight w a saved copy moves its parameter by w·(copy − base): weight 0 runs the base, 1 the copy as trained.
    @Test func savedModulesFollowTheAdapterWeight() throws {
        let c = try PEFTCase("llama_untied_modules_to_save")
        let adapter = try PEFTAdapter.read(from: c.adapterFolder, config: c.config)
        let name = "lm_head.weight"
        let base = try #require(c.baseParameters[name]), copy = try #require(adapter.savedModules[name])
        let full = try PEFTAdapter.savedReplacements([(adapter, 1)]) { c.baseParameters[$0] }
        #expect(full[name]?.scalars == copy.scalars)
        let none = try PEFTAdapter.savedReplacements([(adapter, 0)]) { c.baseParameters[$0] }
        #expect(none[name]?.scalars == base.scalars)
        let half = try PEFTAdapter.savedReplacements([(adapter, 0.5)]) { c.baseParameters[$0] }
        let h = try #require(half[name]).scalars, b = base.scalars, s = copy.scalars
        #expect(h.indices.allSatisfy { abs(h[$0] - (b[$0] + 0.5 * (s[$0] - b[$0]))) <= 1e-6 })
        // Weight 0 of the whole adapter is the base model.
        let ids = c.inputIDs.flatMap { $0 }
        let atZero = try PEFTAdapter.applying([AdapterChoice(path: c.adapterFolder, weight: 0)], config: c.config,
                                              parameters: c.baseParameters, modelPath: c.baseFolder)
        let plain = try makeLanguageModel(config: c.config, parameters: c.baseParameters)
        expectRelativeMax(try atZero.forward(tokens: ids, batch: c.inputIDs.count), try plain.forward(tokens: ids, batch: c.inputIDs.count),
                          tolerance: 1e-6, "weight 0 is the base")
    }

    /// Errors name the key or tensor: a modules_to_save entry that matches nothing, a saved copy missing from the file.
    /// (A tied model's embedding saved without ensure_weight_tying is no error: it unties, as peft runs it.)
    @Test func configErrorsNameTheKey() throws {
        let c = try PEFTCase("llama_tied_modules_to_save")
        let scratch = try Scratch()
        func edited(_ name: String, _ edit: (inout [String: Any]) -> Void) throws -> String {
            let folder = try scratch.copy(c.adapterFolder, as: name)
            let path = folder + "/adapter_config.json"
            var object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
            edit(&object)
            try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: path))
            return folder
        }
        #expect(try !PEFTAdapter.read(from: c.adapterFolder, config: c.config).untiesEmbeddings)
        let untying = try edited("untying") { $0["ensure_weight_tying"] = false }
        let untied = try PEFTAdapter.read(from: untying, config: c.config)
        #expect(untied.untiesEmbeddings && untied.savedModules["model.embed_tokens.weight"] != nil)
        let unknown = try edited("unknown") { $0["modules_to_save"] = ["embed_tokens", "score"] }
        do {
            _ = try PEFTAdapter.read(from: unknown, config: c.config)
            Issue.record("expected an error")
        } catch let e as ModelFormatError {
            #expect(e.description.contains("key 'modules_to_save'") && e.description.contains("\"score\" matches no module"), "\(e)")
        }
        // A saved copy missing from the weights file is listed with the other tensor problems.
        let fewer = try edited("fewer") { $0["modules_to_save"] = ["embed_tokens", "norm", "layers.0.mlp"] }
        do {
            _ = try PEFTAdapter.read(from: fewer, config: c.config)
            Issue.record("expected an error")
        } catch let e as ModelFormatError {
            #expect(e.description.contains("missing tensor base_model.model.model.layers.0.mlp.gate_proj.weight"), "\(e)")
        }
    }

    /// axolotl's `lora_modules_to_save: [embed_tokens, lm_head]` on a tied model (no ensure_weight_tying): two copies,
    /// run untied; the merge writes its own lm_head (peft's merged folder agrees, checked by the peft-case suites).
    @Test func savedCopiesWithoutTyingUntie() throws {
        let c = try PEFTCase("llama_tied_modules_to_save_untied")
        #expect(c.config.tieWordEmbeddings)
        let adapter = try PEFTAdapter.read(from: c.adapterFolder, config: c.config)
        #expect(adapter.untiesEmbeddings && Set(adapter.savedModules.keys) == ["model.embed_tokens.weight", "lm_head.weight"])
        let result = try LoRAMerge.merged(parameters: c.baseParameters, config: c.config, adapter: adapter)
        #expect(!result.config.tieWordEmbeddings && result.receipt.untiedLMHead)
        #expect(result.parameters["lm_head.weight"]?.scalars == adapter.savedModules["lm_head.weight"]?.scalars)
        #expect(result.receipt.entries.first { $0.name == "lm_head.weight" }?.base == "model.embed_tokens.weight")
    }

    /// A GGUF-LoRA carries deltas only: an adapter with saved modules is refused there, pointing at the merged export.
    @Test func ggufLoRARefusesSavedModules() throws {
        let c = try PEFTCase("llama_untied_modules_to_save")
        let scratch = try Scratch()
        do {
            _ = try ModelExport.run(model: c.baseFolder, adapters: [AdapterChoice(path: c.adapterFolder)], format: .ggufLoRA, dtype: "f32",
                                out: scratch.file("a.gguf"))
            Issue.record("expected an error")
        } catch let e as ModelFormatError {
            #expect(e.description.contains("modules_to_save") && e.description.contains("--format gguf"), "\(e)")
        }
        #expect(!FileManager.default.fileExists(atPath: scratch.file("a.gguf")))
    }
}
