import Foundation
import Models
import Tokenization

/// What `whittle inspect PATH` prints: a description of a model folder, a PEFT adapter folder, a GGUF file or a
/// safetensors file. Reading is all validation the formats' own readers do, so a broken file is reported as an error.
public enum ModelInspection {
    /// Arrays longer than this are summarised (count and first elements).
    public static let arrayPreview = 6
    /// Strings longer than this are cut (with their length shown).
    public static let stringPreview = 120

    public static func describe(path: String) throws -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ModelFormatError(file: path, "no such file or folder")
        }
        if isDirectory.boolValue {
            if FileManager.default.fileExists(atPath: path + "/adapter_config.json") { return try adapterFolder(path) }
            return try modelFolder(path)
        }
        if path.lowercased().hasSuffix(".safetensors") { return try safetensors(path) }
        return try gguf(path)
    }

    // MARK: - Hugging Face folders

    static func modelFolder(_ folder: String) throws -> String {
        let config = try HFConfig.read(path: folder + "/config.json")
        var lines = ["Hugging Face model folder \(folder)"]
        lines.append("architecture: \(config.modelType) (\(config.family.rawValue) family), \(config.numLayers) layers, hidden \(config.hiddenSize), "
                     + "heads \(config.numHeads)/\(config.numKVHeads) of \(config.headDim), feed-forward \(config.intermediateSize), "
                     + "vocabulary \(config.vocabSize), context \(config.maxPositionEmbeddings), "
                     + (config.tieWordEmbeddings ? "tied embeddings" : "untied lm_head"))
        var count = 0
        var dtypes: [String: Int] = [:]
        for (file, names) in try HFFolder.openWeights(folder: folder) {
            for name in names {
                guard let e = file.entries[name] else { continue }
                let n = e.shape.reduce(1, *)
                count += n
                dtypes[e.dtype.rawValue, default: 0] += n
            }
        }
        lines.append("parameters: \(count) (\(formatted(count)))")
        lines.append("dtypes: " + dtypes.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        let expected = config.parameterShapes().reduce(0) { $0 + $1.shape.reduce(1, *) }
        if expected != count { lines.append("note: the configuration expects \(expected) parameters") }
        return lines.joined(separator: "\n")
    }

    static func adapterFolder(_ folder: String) throws -> String {
        let path = folder + "/adapter_config.json"
        guard let data = FileManager.default.contents(atPath: path) else { throw ModelFormatError(file: path, "cannot read") }
        let json: JSONValue
        do { json = try JSONParser.parse(String(decoding: data, as: UTF8.self), duplicateKeys: .lastWins) } catch {
            throw ModelFormatError(file: path, "invalid JSON: \(error.description)")
        }
        guard let object = json.objectValue else { throw ModelFormatError(file: path, "not a JSON object") }
        var lines = ["PEFT adapter folder \(folder)", "adapter_config.json keys:"]
        for (key, value) in object { lines.append("  \(key): \(preview(value.serialized()))") }
        return lines.joined(separator: "\n")
    }

    static func safetensors(_ path: String) throws -> String {
        let file = try SafetensorsFile(path: path)
        var lines = ["safetensors file \(path): \(file.entries.count) tensors"]
        for (k, v) in file.metadata.sorted(by: { $0.key < $1.key }) { lines.append("  __metadata__ \(k) = \(preview(v))") }
        for name in file.names {
            guard let e = file.entries[name] else { continue }
            lines.append("  \(name)  \(e.dtype.rawValue)  \(e.shape)")
        }
        return lines.joined(separator: "\n")
    }

    // MARK: - GGUF

    static func gguf(_ path: String) throws -> String {
        let file: GGUFFile
        do { file = try GGUFFile(path: path) } catch { throw ModelFormatError(gguf: error) }
        var lines = ["GGUF v\(file.version) file \(path): \(file.metadata.count) metadata keys, \(file.tensors.count) tensors, alignment \(file.alignment)"]
        lines.append("metadata:")
        for (key, value) in file.metadata { lines.append("  \(key) \(typeName(value)) = \(render(value))") }
        lines.append("tensors (name, type, shape row-major [ggml ne], bytes):")
        var total = 0
        for t in file.tensors {
            total += t.elementCount
            lines.append("  \(t.name)  \(t.type.name)  \(t.shape) [\(t.dimensions.map(String.init).joined(separator: ", "))]  \(t.byteCount)")
        }
        lines.append("elements: \(total) (\(formatted(total)))")
        return lines.joined(separator: "\n")
    }

    static func typeName(_ v: GGUFValue) -> String {
        if case .array(let element, _) = v { return "ARRAY[\(element.name)]" }
        return v.type.name
    }

    /// A value for display: scalars as they are, strings quoted (long ones cut), arrays summarised.
    public static func render(_ v: GGUFValue) -> String {
        switch v {
        case .string(let s): return preview(JSONValue.quoted(s))
        case .array(_, let items):
            let shown = items.prefix(arrayPreview).map(render).joined(separator: ", ")
            return items.count > arrayPreview ? "[\(shown), …] (\(items.count) elements)" : "[\(shown)]"
        case .float32(let f): return "\(f)"
        case .float64(let d): return "\(d)"
        case .bool(let b): return "\(b)"
        default: return v.asInt.map(String.init) ?? "\(v)"
        }
    }

    static func preview(_ s: String) -> String {
        s.count > stringPreview ? String(s.prefix(stringPreview)) + "… (\(s.utf8.count) bytes)" : s
    }

    static func formatted(_ n: Int) -> String {
        let d = Double(n)
        if d >= 1e9 { return String(format: "%.2fB", d / 1e9) }
        if d >= 1e6 { return String(format: "%.1fM", d / 1e6) }
        if d >= 1e3 { return String(format: "%.1fK", d / 1e3) }
        return "\(n)"
    }
}
