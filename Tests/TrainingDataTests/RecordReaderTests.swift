import Foundation
import Testing
import Tokenization
import TrainingData
import TestSupport

func asset(_ relative: String) throws -> String { try sharedAsset(relative) }

/// Writes `bytes` to a fresh temporary file with the given extension.
func temporaryFile(_ name: String, _ bytes: [UInt8]) throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("whittle-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let url = dir.appendingPathComponent(name)
    try Data(bytes).write(to: url)
    return url.path
}
func temporaryFile(_ name: String, _ text: String) throws -> String { try temporaryFile(name, Array(text.utf8)) }

/// Non-blank lines of a file, counted independently of the reader.
/// Splits bytes on LF (a Swift Character treats CR LF as one, so String.split would not).
func nonBlankLines(_ path: String) throws -> [String] {
    try Data(contentsOf: URL(fileURLWithPath: path)).split(separator: 0x0A, omittingEmptySubsequences: true)
        .map { String(decoding: $0, as: UTF8.self).trimmingCharacters(in: CharacterSet(charactersIn: "\r")) }
        .filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
}

@Suite struct RealDatasetTests {
    @Test func gsm8kAsPromptCompletion() throws {
        let path = try asset("datasets/gsm8k/train.jsonl")
        let examples = try RecordConverter.readExamples(
            path: path, options: RecordOptions(keyMap: ["question": "prompt", "answer": "completion"]))
        let lines = try nonBlankLines(path)
        #expect(examples.count == lines.count)
        // Every record's line number points at a line whose JSON holds the same question.
        for (i, e) in examples.enumerated() where i % 997 == 0 {
            #expect(e.line == i + 1)
            guard case .promptCompletion(let prompt, let completion) = e.example else { Issue.record("not prompt/completion"); continue }
            let object = try JSONSerialization.jsonObject(with: Data(lines[i].utf8)) as! [String: String]
            #expect(prompt == object["question"] && completion == object["answer"], "line \(i + 1)")
        }
    }

    @Test func wikiSQLIsDetectedAsText() throws {
        let path = try asset("datasets/wikisql-mlx/valid.jsonl")
        let examples = try RecordConverter.readExamples(path: path)
        #expect(examples.count == (try nonBlankLines(path)).count)
        guard case .text(let t) = examples[0].example else { Issue.record("expected text"); return }
        #expect(t.hasPrefix("table: "))
    }

    @Test func banking77CSVWithMappedColumns() throws {
        let path = try asset("datasets/banking77/test.csv")
        let examples = try RecordConverter.readExamples(
            path: path, options: RecordOptions(keyMap: ["text": "prompt", "category": "completion"]))
        // Cross-check with Foundation's own split for rows without quotes.
        let lines = try nonBlankLines(path)
        #expect(examples.count >= 3000 && examples.count <= lines.count - 1)
        let firstFields = lines[1].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard case .promptCompletion(let p, let c) = examples[0].example else { Issue.record("expected prompt/completion"); return }
        if !lines[1].contains("\"") { #expect(p == firstFields.dropLast().joined(separator: ",") && c == firstFields.last!) }
        #expect(examples.allSatisfy { if case .promptCompletion(_, let c) = $0.example { !c.isEmpty && !c.contains(" ") } else { false } })
    }

    @Test func glaiveShareGPTWithToolsAndFunctionCalls() throws {
        let path = try asset("datasets/glaive-toolcall-sharegpt/glaive_toolcall_en_demo.json")
        let examples = try RecordConverter.readExamples(path: path)
        let reference = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [[String: Any]]
        #expect(examples.count == reference.count)
        var calls = 0, tools = 0
        for (e, ref) in zip(examples, reference) {
            guard case .chat(let turns, let t) = e.example else { Issue.record("expected chat at line \(e.line)"); continue }
            let conv = ref["conversations"] as! [[String: String]]
            #expect(turns.count == conv.count)
            for (turn, c) in zip(turns, conv) {
                switch c["from"]! {
                case "human": #expect(turn.role == "user" && turn.content == c["value"])
                case "gpt": #expect(turn.role == "assistant" && turn.content == c["value"])
                case "observation": #expect(turn.role == "tool" && turn.content == c["value"])
                case "function_call":
                    calls += 1
                    let call = try JSONSerialization.jsonObject(with: Data(c["value"]!.utf8)) as! [String: Any]
                    #expect(turn.role == "assistant" && turn.toolCalls?.arrayValue?.first?["function"]?["name"]?.stringValue == call["name"] as? String)
                default: Issue.record("unexpected speaker \(c["from"]!)")
                }
            }
            if t != nil { tools += 1 }
        }
        #expect(calls > 0 && tools > 0)
        // Record lines point at the opening brace of each element.
        let fileLines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        for e in examples.prefix(20) { #expect(fileLines[e.line - 1].trimmingCharacters(in: .whitespaces) == "{", "line \(e.line)") }
    }

    @Test func alpacaAndMappedResponseKey() throws {
        let identity = try RecordConverter.readExamples(path: try asset("datasets/llamafactory-identity/identity.json"))
        #expect(identity.allSatisfy { if case .alpaca = $0.example { true } else { false } })
        let path = try asset("datasets/gpteacher-codegen/codegen-instruct.json")
        // Without a mapping the keys (instruction, input, response) match no format: a clear error, not a guess.
        #expect(throws: DataError.self) { try RecordConverter.readExamples(path: path) }
        do { _ = try RecordConverter.readExamples(path: path) } catch {
            #expect(error.kind == .unknownFormat && error.line == 2 && error.description.contains("instruction, input, response"))
        }
        let mapped = try RecordConverter.readExamples(path: path, options: RecordOptions(keyMap: ["response": "output"]))
        let reference = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [[String: String]]
        #expect(mapped.count == reference.count)
        guard case .alpaca(let ins, let inp, let out) = mapped[0].example else { Issue.record("expected alpaca"); return }
        #expect(ins == reference[0]["instruction"] && inp == reference[0]["input"] && out == reference[0]["response"])
    }
}

@Suite struct MalformedInputTests {
    func error(_ name: String, _ text: String, options: RecordOptions = RecordOptions()) throws -> DataError? {
        try error(name, Array(text.utf8), options: options)
    }
    func error(_ name: String, _ bytes: [UInt8], options: RecordOptions = RecordOptions()) throws -> DataError? {
        let path = try temporaryFile(name, bytes)
        do { _ = try RecordConverter.readExamples(path: path, options: options); return nil } catch { return error }
    }

    @Test func badJSONNamesTheLine() throws {
        let e = try #require(try error("a.jsonl", "{\"text\": \"ok\"}\n\n{\"text\": \"broken}\n"))
        #expect(e.kind == .badJSON && e.line == 3, "\(e)")
        #expect(e.description.contains("a.jsonl:3"))
    }

    @Test func missingAndMistypedKeys() throws {
        let missing = try #require(try error("m.jsonl", "{\"prompt\": \"p\", \"completion\": \"c\"}\n{\"prompt\": \"p\"}\n",
                                              options: RecordOptions(format: .promptCompletion)))
        #expect(missing.kind == .missingKey && missing.line == 2 && missing.key == "completion", "\(missing)")
        let typed = try #require(try error("t.jsonl", "{\"text\": 42}\n"))
        #expect(typed.kind == .wrongType && typed.key == "text" && typed.description.contains("found a number"), "\(typed)")
        let mapped = try #require(try error("k.jsonl", "{\"question\": \"q\"}\n",
                                             options: RecordOptions(format: .promptCompletion, keyMap: ["question": "prompt", "answer": "completion"])))
        #expect(mapped.description.contains("answer") && mapped.description.contains("mapped to"), "\(mapped)")
    }

    @Test func emptyFilesAndNonObjects() throws {
        #expect(try error("e.jsonl", "")?.kind == .emptyFile)
        #expect(try error("b.jsonl", "\n  \n")?.kind == .emptyFile)
        #expect(try error("e.json", "[]")?.kind == .emptyFile)
        #expect(try error("e.csv", "")?.kind == .emptyFile)
        let arr = try #require(try error("n.jsonl", "[1, 2]\n"))
        #expect(arr.kind == .notAnObject && arr.line == 1)
    }

    @Test func invalidUTF8() throws {
        let e = try #require(try error("u.jsonl", Array("{\"text\": \"ok\"}\n{\"text\": \"".utf8) + [0xFF, 0xFE] + Array("\"}\n".utf8)))
        #expect(e.kind == .invalidUTF8 && e.line == 2, "\(e)")
    }

    @Test func csvProblems() throws {
        let wrong = try #require(try error("w.csv", "text,category\nhello,greet\nno category here\n"))
        #expect(wrong.kind == .badCSV && wrong.line == 3 && wrong.description.contains("1 fields"), "\(wrong)")
        let unclosed = try #require(try error("q.csv", "text,category\n\"open quote,greet\n"))
        #expect(unclosed.kind == .badCSV && unclosed.line == 2, "\(unclosed)")
        let column = try #require(try error("c.csv", "text,label\nhi,greet\n", options: RecordOptions(format: .promptCompletion, keyMap: ["text": "prompt", "category": "completion"])))
        #expect(column.kind == .missingKey && column.description.contains("category"), "\(column)")
        // Quoted fields with separators, doubled quotes and newlines.
        let path = try temporaryFile("ok.csv", "text,category\n\"a, \"\"b\"\"\nc\",x\n")
        let ok = try RecordConverter.readExamples(path: path, options: RecordOptions(keyMap: ["text": "prompt", "category": "completion"]))
        #expect(ok.count == 1 && ok[0].example == .promptCompletion(prompt: "a, \"b\"\nc", completion: "x"))
    }

    @Test func truncatedJSONArray() throws {
        let e = try #require(try error("t.json", "[\n  {\"text\": \"a\"},\n  {\"text\": \"b\"}\n"))
        #expect(e.kind == .badJSON && e.description.contains("not closed"), "\(e)")
        let cut = try #require(try error("c.json", "[\n  {\"text\": \"a\"},\n  {\"text\": \"b"))
        #expect(cut.kind == .badJSON, "\(cut)")
    }

    @Test func chatAndShareGPTValues() throws {
        let role = try #require(try error("r.jsonl", "{\"messages\": [{\"role\": \"robot\", \"content\": \"x\"}]}\n"))
        #expect(role.kind == .badValue && role.key == "messages[0].role", "\(role)")
        let empty = try #require(try error("e2.jsonl", "{\"messages\": []}\n"))
        #expect(empty.kind == .badValue)
        let speaker = try #require(try error("s.json", "[{\"conversations\": [{\"from\": \"bot\", \"value\": \"x\"}]}]"))
        #expect(speaker.kind == .badValue && speaker.key == "conversations[0].from", "\(speaker)")
        let call = try #require(try error("f.json", "[{\"conversations\": [{\"from\": \"function_call\", \"value\": \"not json\"}]}]"))
        #expect(call.kind == .badJSON && call.key == "conversations[0].value", "\(call)")
        let ambiguous = try #require(try error("a.jsonl", "{\"text\": \"t\", \"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}\n"))
        #expect(ambiguous.kind == .unknownFormat)
    }
}

@Suite struct JSONParserTests {
    @Test func keepsKeyOrderAndNumberKinds() throws {
        let v = try JSONParser.parse(#"{"z": 1, "a": 1.0, "m": [true, null, "\u00e9\ud83d\ude00\n"], "e": -2.5e3}"#)
        #expect(v.keys == ["z", "a", "m", "e"])
        #expect(v["z"] == .integer(1) && v["a"] == .double(1.0) && v["e"] == .double(-2500))
        #expect(v["m"] == .array([.bool(true), .null, .string("é😀\n")]))
    }

    @Test func duplicateKeysAndHugeIntegers() throws {
        #expect(throws: JSONError.self) { try JSONParser.parse(#"{"a": 1, "a": 2}"#) }
        let python = try JSONParser.parse(#"{"a": 1, "b": 2, "a": 3}"#, duplicateKeys: .lastWins)
        #expect(python.keys == ["a", "b"] && python["a"] == .integer(3))
        #expect(throws: JSONError.self) { try JSONParser.parse("[12345678901234567890]") }
        #expect(try JSONParser.parse("[9223372036854775807, -0, 1E2]") == .array([.integer(Int.max), .integer(0), .double(100)]))
    }

    @Test func errorsSayWhere() {
        for (text, line, column) in [("{\"a\": }", 1, 7), ("{\n  \"a\": 1,\n  \"a\": 2\n}", 3, 3), ("[1, 2", 1, 1), ("01", 1, 1),
                                     ("\"\\ud800\"", 1, 2), ("{\"a\" 1}", 1, 6), ("tru", 1, 1), ("{} x", 1, 4)] {
            do {
                _ = try JSONParser.parse(text)
                Issue.record("accepted invalid JSON \(text)")
            } catch {
                #expect(error.line == line && error.column == column, "\(text): \(error)")
            }
        }
    }
}
