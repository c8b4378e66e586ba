import Foundation
import ModelFormats
import Tensors
import TestSupport
import Testing
import Tokenization

/// Seeded random truncations and byte flips of small GGUF and safetensors files. Each case must either read (a flip
/// in tensor data leaves a valid file) or fail with an error that names the file; a crash or a hang fails the run.
@Suite struct FormatFuzzTests {
    enum Mutation { case truncate, flipHeader, flipAnywhere }

    /// Mutates `original`: a random prefix, or 1-4 random bytes xor-ed with a random non-zero value, either inside
    /// the first `headerLength` bytes (where the structure is) or anywhere.
    static func mutate(_ original: [UInt8], _ kind: Mutation, headerLength: Int, _ rng: inout RandomGenerator) -> [UInt8] {
        var b = original
        switch kind {
        case .truncate:
            return Array(b.prefix(Int(rng.next() % UInt64(b.count))))
        case .flipHeader, .flipAnywhere:
            let range = kind == .flipHeader ? headerLength : b.count
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                let i = Int(rng.next() % UInt64(range))
                b[i] ^= UInt8(1 + rng.next() % 255)
            }
            return b
        }
    }

    static let kinds: [Mutation] = [.truncate, .flipHeader, .flipHeader, .flipAnywhere]

    @Test func ggufNeverCrashes() throws {
        let source = try GGUFFixture.gguf("llama.q8_0")
        let original = try bytes(of: source)
        let header = try ParsedGGUF(path: source).file.dataOffset
        var rng = RandomGenerator(seed: 0x6767_7566)
        let scratch = try Scratch()
        var failed = 0, read = 0
        let start = Date()
        for i in 0..<320 {
            let kind = Self.kinds[i % Self.kinds.count]
            let path = scratch.file("case-\(i).gguf")
            try Data(Self.mutate(original, kind, headerLength: header, &rng)).write(to: URL(fileURLWithPath: path))
            do {
                _ = try GGUFModelReader.read(path: path)
                read += 1
            } catch let e as ModelFormatError {
                #expect(e.description.contains(path), "case \(i) (\(kind)): \(e)")
                failed += 1
            } catch {
                Issue.record("case \(i) (\(kind)): unexpected error type \(type(of: error)): \(error)")
            }
            do { _ = try Tokenizer(gguf: path) } catch let e as TokenizerError {
                #expect(e.description.contains(path), "case \(i) (\(kind)) tokenizer: \(e)")
            } catch {
                Issue.record("case \(i) (\(kind)) tokenizer: unexpected error type \(type(of: error)): \(error)")
            }
            try? FileManager.default.removeItem(atPath: path)
        }
        // Every truncation fails, and most header flips do; flips in tensor data may leave a valid file.
        #expect(failed >= 80 + 60, "only \(failed) of 320 mutations were rejected (\(read) read)")
        #expect(Date().timeIntervalSince(start) < 120, "fuzzing took \(Date().timeIntervalSince(start)) s")
    }

    @Test func safetensorsNeverCrashes() throws {
        let source = try GGUFFixture.folder("llama-lora") + "/adapter_model.safetensors"
        let original = try bytes(of: source)
        let header = 8 + Int(original.prefix(8).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        var rng = RandomGenerator(seed: 0x7361_6665)
        let scratch = try Scratch()
        var failed = 0
        for i in 0..<320 {
            let kind = Self.kinds[i % Self.kinds.count]
            let path = scratch.file("case-\(i).safetensors")
            try Data(Self.mutate(original, kind, headerLength: header, &rng)).write(to: URL(fileURLWithPath: path))
            do {
                let file = try SafetensorsFile(path: path)
                for name in file.names { _ = try file.tensor(name) }
            } catch let e as ModelFormatError {
                #expect(e.description.contains(path), "case \(i) (\(kind)): \(e)")
                failed += 1
            } catch {
                Issue.record("case \(i) (\(kind)): unexpected error type \(type(of: error)): \(error)")
            }
            try? FileManager.default.removeItem(atPath: path)
        }
        #expect(failed >= 80 + 60, "only \(failed) of 320 mutations were rejected")
    }
}
