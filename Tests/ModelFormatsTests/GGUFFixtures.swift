import FileSupport
import Foundation
import ModelFormats
import Tensors
import TestSupport
import Testing
import Tokenization

/// The GGUF fixtures written by Tests/Reference/gen_gguf.py (gguf-py 0.19, transformers 5.23).
enum GGUFFixture {
    static let root = repoRoot.appendingPathComponent("Tests/Reference/fixtures/gguf").path

    /// (model, dtype) pairs that have a reference GGUF.
    static let files: [(String, String)] = [("llama", "f32"), ("llama", "f16"), ("llama", "q8_0"),
                                            ("gpt2", "f32"), ("gpt2", "f16"), ("gpt2", "q8_0"), ("qwen2", "q8_0")]
    static let names = files.map { "\($0.0).\($0.1)" }

    static func folder(_ model: String) throws -> String {
        let path = root + "/" + model
        guard FileManager.default.fileExists(atPath: path) else {
            Issue.record("missing fixture \(path): run Tests/Reference/make_fixtures.py --only gguf/\(model)")
            throw CocoaError(.fileNoSuchFile)
        }
        return path
    }

    static func gguf(_ name: String) throws -> String {
        let path = root + "/\(name).gguf"
        guard FileManager.default.fileExists(atPath: path) else {
            Issue.record("missing fixture \(path): run Tests/Reference/make_fixtures.py")
            throw CocoaError(.fileNoSuchFile)
        }
        return path
    }

    /// `<model>.expected.json`.
    static func expected(_ model: String) throws -> JSON { try loadFixture("gguf/\(model).expected.json") }

    static func logits(_ model: String, _ key: String) throws -> Tensor {
        try SafetensorsFile(path: root + "/\(model).logits.safetensors").tensor(key)
    }

    static func split(_ name: String) -> (model: String, dtype: String) {
        let parts = name.split(separator: ".")
        return (String(parts[0]), String(parts[1]))
    }
}


func sha256(_ bytes: [UInt8]) -> String { SHA256.hexDigest(bytes) }

func bytes(of path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }

/// A GGUF file parsed with its bytes kept, for tensor data.
struct ParsedGGUF {
    let file: GGUFFile
    let bytes: [UInt8]

    init(path: String) throws {
        bytes = try ModelFormatsTests.bytes(of: path)
        file = try bytes.withUnsafeBytes { try GGUFFile(bytes: $0, path: path) }
    }

    func raw(_ t: GGUFTensorInfo) -> [UInt8] { Array(bytes[(file.dataOffset + t.offset)..<(file.dataOffset + t.offset + t.byteCount)]) }

    func floats(_ t: GGUFTensorInfo) throws -> Tensor {
        try bytes.withUnsafeBytes { try GGUFModelReader.floats(t, of: file, bytes: $0) }
    }

    /// The encoded value of a key (what gguf-py's reader has as the field's parts after the type).
    func encoded(_ key: String) -> [UInt8] {
        var out: [UInt8] = []
        file[key]?.encode(into: &out)
        return out
    }
}

/// Float32 values as little-endian bytes (what gguf-py hashes after `astype("<f4")`).
func littleEndianBytes(_ t: Tensor) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(t.count * 4)
    for v in t.scalars { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
    return out
}

/// Every difference between two parsed GGUF files, for a readable failure when the bytes differ.
func ggufDifferences(_ a: ParsedGGUF, _ b: ParsedGGUF) -> [String] {
    var out: [String] = []
    let ka = a.file.metadata.map(\.key), kb = b.file.metadata.map(\.key)
    if ka != kb { out.append("metadata keys differ:\n    \(ka)\n    \(kb)") }
    for key in ka where Set(kb).contains(key) && a.file[key] != b.file[key] {
        out.append("key \(key): \(ModelInspection.render(a.file[key]!)) vs \(ModelInspection.render(b.file[key]!))")
    }
    let ta = a.file.tensors.map(\.name), tb = b.file.tensors.map(\.name)
    if ta != tb { out.append("tensor names/order differ:\n    \(ta)\n    \(tb)") }
    for t in a.file.tensors {
        guard let u = b.file.tensor(named: t.name) else { continue }
        if t.type != u.type || t.dimensions != u.dimensions || t.offset != u.offset {
            out.append("tensor \(t.name): \(t.type.name) \(t.dimensions) @\(t.offset) vs \(u.type.name) \(u.dimensions) @\(u.offset)")
        } else if a.raw(t) != b.raw(u) {
            let x = a.raw(t), y = b.raw(u)
            let first = zip(x, y).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? -1
            out.append("tensor \(t.name): data differs first at byte \(first) of \(x.count)")
        }
    }
    if a.file.dataOffset != b.file.dataOffset { out.append("data section at \(a.file.dataOffset) vs \(b.file.dataOffset)") }
    return out
}
