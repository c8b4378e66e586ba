import Foundation
import ModelFormats
import Models
import Tensors
import TestSupport
import Testing

/// The peft fixtures written by Tests/Reference/gen_peft.py (peft 0.21.2, transformers 5.23).
let peftCases = ["llama_all_linear", "llama_layers_rslora", "llama_tied_lm_head", "qwen2_regex", "gpt2_conv1d",
                 "llama_tied_modules_to_save", "llama_untied_modules_to_save",
                 "llama_tied_modules_to_save_untied"]

/// One fixture case: its folders, the base model's config and parameters, and what peft recorded.
struct PEFTCase {
    let name: String
    let folder: String
    let baseFolder: String
    let expected: JSON
    let config: ModelConfig
    let baseParameters: [String: Tensor]

    var adapterFolder: String { folder + "/adapter" }
    var mergedFolder: String { folder + "/merged" }
    var inputIDs: [[Int]] { expected["input_ids"].array.map { $0.array.map(\.int) } }

    init(_ name: String) throws {
        self.name = name
        folder = repoRoot.appendingPathComponent("Tests/Reference/fixtures/peft/\(name)").path
        guard FileManager.default.fileExists(atPath: folder + "/expected.json") else {
            Issue.record("missing fixture \(folder): run Tests/Reference/make_fixtures.py --only peft/\(name)")
            throw CocoaError(.fileNoSuchFile)
        }
        expected = try loadFixture("peft/\(name)/expected.json")
        baseFolder = repoRoot.appendingPathComponent("Tests/Reference/fixtures/models/\(expected["base"].string)").path
        config = try HFConfig.read(path: baseFolder + "/config.json")
        baseParameters = try HFFolder.readParameters(folder: baseFolder, config: config)
    }

    func logits(_ key: String) throws -> Tensor {
        try SafetensorsFile(path: folder + "/expected_logits.safetensors").tensor(key)
    }
}

/// A scratch folder removed when the value goes away.
final class Scratch {
    let path: String
    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("whittle-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// A path inside the folder.
    func file(_ name: String) -> String { path + "/" + name }

    /// Copies the files of `folder` into a new subfolder `name`; returns its path.
    func copy(_ folder: String, as name: String) throws -> String {
        let dst = path + "/" + name
        try FileManager.default.createDirectory(atPath: dst, withIntermediateDirectories: true)
        for f in try FileManager.default.contentsOfDirectory(atPath: folder) {
            try FileManager.default.copyItem(atPath: folder + "/" + f, toPath: dst + "/" + f)
        }
        return dst
    }
}

/// Runs `body`, expects a ModelFormatError, and returns its description (empty if none was thrown).
func formatError(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> String {
    do { try body() } catch let e as ModelFormatError { return e.description } catch {
        Issue.record("expected a ModelFormatError, got \(error)", sourceLocation: sourceLocation); return ""
    }
    Issue.record("expected an error, none was thrown", sourceLocation: sourceLocation)
    return ""
}


/// Reads a JSON file into Foundation objects.
func jsonObject(_ path: String) throws -> [String: Any] {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
}

/// Rewrites a JSON object file with `edit` applied.
func editJSON(_ path: String, _ edit: (inout [String: Any]) -> Void) throws {
    var object = try jsonObject(path)
    edit(&object)
    try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]).write(to: URL(fileURLWithPath: path))
}

/// JSON `true` (the fixtures' booleans).
func isTrue(_ j: JSON) -> Bool { if case .bool(true) = j { true } else { false } }
