import Foundation
import ModelFormats
import Tensors
import TestSupport
import Testing
import Tokenization

/// Each way a GGUF can be wrong is an error that names the file and the key or tensor.
@Suite struct GGUFErrorTests {
    /// Rewrites the llama F32 fixture through GGUFWriter with `edit` applied to its metadata and tensors.
    static func rewritten(_ scratch: Scratch, _ name: String,
                          metadata editMetadata: (inout [(key: String, value: GGUFValue)]) -> Void = { _ in },
                          tensors editTensors: (inout [(name: String, shape: [Int], values: Tensor)]) -> Void = { _ in }) throws -> String {
        let source = try ParsedGGUF(path: try GGUFFixture.gguf("llama.f32"))
        var metadata = source.file.metadata
        var tensors = try source.file.tensors.map { (name: $0.name, shape: $0.shape, values: try source.floats($0)) }
        editMetadata(&metadata)
        editTensors(&tensors)
        var w = GGUFWriter()
        for (k, v) in metadata { try w.set(k, v) }
        for t in tensors {
            let values = t.values
            try w.addTensor(name: t.name, shape: t.shape, type: .f32) { values }
        }
        let path = scratch.file(name)
        try w.write(to: path)
        return path
    }

    @Test func headerProblems() throws {
        let scratch = try Scratch()
        let good = try bytes(of: try GGUFFixture.gguf("llama.f32"))
        func write(_ b: [UInt8], _ name: String) throws -> String {
            let p = scratch.file(name)
            try Data(b).write(to: URL(fileURLWithPath: p))
            return p
        }
        var b = good
        b[0] = 0x48
        var path = try write(b, "magic.gguf")
        var m = describeError { _ = try GGUFModelReader.read(path: path) }
        #expect(m.contains(path) && m.contains("not a GGUF file"), "\(m)")
        b = good
        b[4] = 4
        path = try write(b, "version.gguf")
        m = describeError { _ = try GGUFModelReader.read(path: path) }
        #expect(m.contains("unsupported GGUF version 4"), "\(m)")
        b = good
        b[4] = 0; b[7] = 3
        path = try write(b, "bigendian.gguf")
        m = describeError { _ = try GGUFModelReader.read(path: path) }
        #expect(m.contains("big-endian"), "\(m)")
        b = good
        b[16] = 0xFF; b[20] = 0x7F  // kv_count
        path = try write(b, "counts.gguf")
        m = describeError { _ = try GGUFModelReader.read(path: path) }
        #expect(m.contains("kv_count") && m.contains("cannot fit"), "\(m)")
        path = try write(Array(good.prefix(good.count - 100)), "cut.gguf")
        m = describeError { _ = try GGUFModelReader.read(path: path) }
        #expect(m.contains("output_norm.weight") && m.contains("truncated"), "\(m)")
    }

    @Test func tensorProblemsNameTheTensor() throws {
        let scratch = try Scratch()
        var path = try Self.rewritten(scratch, "missing.gguf", tensors: { $0.removeAll { $0.name == "blk.1.attn_k.weight" } })
        var m = describeError { _ = try GGUFModelReader.read(path: path) }
        #expect(m.contains(path) && m.contains("missing tensor blk.1.attn_k.weight"), "\(m)")
        path = try Self.rewritten(scratch, "shape.gguf", tensors: { t in
            if let i = t.firstIndex(where: { $0.name == "blk.0.ffn_up.weight" }) { t[i].shape = [40, 64] }
        })
        m = describeError { _ = try GGUFModelReader.read(path: path) }
        #expect(m.contains("blk.0.ffn_up.weight has shape [40, 64]"), "\(m)")
        path = try Self.rewritten(scratch, "extra.gguf", tensors: { $0.append((name: "blk.0.attn_q.bias", shape: [32], values: Tensor(zeros: [32]))) })
        m = describeError { _ = try GGUFModelReader.read(path: path) }
        // A q bias switches on qkv biases, so k and v biases are now missing: named.
        #expect(m.contains("blk.0.attn_k.bias"), "\(m)")
        path = try Self.rewritten(scratch, "stray.gguf", tensors: { $0.append((name: "blk.0.mystery.weight", shape: [3], values: Tensor(zeros: [3]))) })
        m = describeError { _ = try GGUFModelReader.read(path: path) }
        #expect(m.contains("unexpected tensor blk.0.mystery.weight"), "\(m)")
    }

    @Test func metadataProblemsNameTheKey() throws {
        let scratch = try Scratch()
        func edited(_ name: String, _ key: String, _ value: GGUFValue?) throws -> String {
            try Self.rewritten(scratch, name, metadata: { md in
                if let value {
                    if let i = md.firstIndex(where: { $0.key == key }) { md[i].value = value } else { md.append((key, value)) }
                } else {
                    md.removeAll { $0.key == key }
                }
            })
        }
        let cases: [(String, GGUFValue?, String)] = [
            ("general.architecture", .string("mamba"), "'mamba' is not supported"),
            ("general.architecture", nil, "general.architecture"),
            ("llama.block_count", .uint32(1_000_000), "llama.block_count"),
            ("llama.attention.layer_norm_rms_epsilon", nil, "llama.attention.layer_norm_rms_epsilon"),
            ("llama.embedding_length", .string("wide"), "llama.embedding_length"),
            ("llama.rope.scaling.type", .string("yarn"), "'yarn' is not supported"),
            ("llama.attention.head_count_kv", .uint32(3), "head"),
            ("general.type", .string("adapter"), "adapter"),
        ]
        for (i, (key, value, expected)) in cases.enumerated() {
            let path = try edited("k\(i).gguf", key, value)
            let m = describeError { _ = try GGUFModelReader.read(path: path) }
            #expect(m.contains(path) && m.contains(expected), "\(key) → \(String(describing: value)): \(m)")
        }
    }

    /// An unknown ggml type id, and a known type Whittle does not decode, name the tensor.
    @Test func tensorTypes() throws {
        let scratch = try Scratch()
        var w = GGUFWriter()
        try w.set("general.architecture", .string("llama"))
        try w.addTensor(name: "t", shape: [32], type: .f32) { Tensor(zeros: [32]) }
        var b = w.headerBytes() + [UInt8](repeating: 0, count: 128)
        // Tensor info: u64 name length 1, "t", u32 n_dims, u64 ne[0], then the u32 type.
        let marker: [UInt8] = [1, 0, 0, 0, 0, 0, 0, 0, 0x74]
        let at = try #require((0...(b.count - marker.count)).first { Array(b[$0..<($0 + marker.count)]) == marker })
        b[at + marker.count + 4 + 8] = 99
        let path = scratch.file("type.gguf")
        try Data(b).write(to: URL(fileURLWithPath: path))
        let m = describeError { _ = try GGUFFile(path: path) }
        #expect(m.contains(path) && m.contains("tensor 't'") && m.contains("unknown ggml type 99"), "\(m)")

        let q4 = GGUFTensorInfo(name: "blk.0.attn_q.weight", dimensions: [32], type: try #require(GGMLType.withID(2)), offset: 0, byteCount: 18)
        let file = try ParsedGGUF(path: try GGUFFixture.gguf("llama.f32"))
        let m2 = describeError { _ = try file.floats(q4) }
        #expect(m2.contains("blk.0.attn_q.weight") && m2.contains("Q4_0 cannot be read"), "\(m2)")
    }
}
