import Testing
@testable import DatasetGenerators

@Suite struct GeneralCorpusTests {
    static let generated = GeneralCorpus.generate()

    static func isChat(_ t: String) -> Bool { t.hasPrefix("<|im_start|>") }

    @Test func sizesFitTheBudgets() {
        for ((split, texts), budget) in zip(Self.generated, GeneralCorpus.byteBudget) {
            let bytes = texts.reduce(0) { $0 + JSONLine.text($1).utf8.count + 1 }
            #expect(split == budget.split)
            #expect(bytes <= budget.bytes && bytes > budget.bytes * 97 / 100, "\(split): \(bytes) bytes")
        }
    }

    @Test func recordsAreFiftyToOneHundredFiftyWordsAndUnique() {
        var seen = Set<String>()
        for (split, texts) in Self.generated {
            for t in texts {
                let plain = t.replacing("<|im_start|>", with: " ").replacing("<|im_end|>", with: " ")
                    .replacing(" system\n", with: " ").replacing(" user\n", with: " ").replacing(" assistant\n", with: " ")
                let n = plain.split(whereSeparator: { $0 == " " || $0 == "\n" }).count
                #expect(GeneralCorpus.wordRange.contains(n), "\(split): \(n) words: \(t)")
                #expect(!seen.contains(t), "\(split) repeats a record")
                seen.insert(t)
            }
        }
    }

    /// About a fifth are chats, each exactly `<|im_start|>role\ncontent<|im_end|>\n` turns: an optional system
    /// turn, then user/assistant pairs.
    @Test func chatsAreChatMLWithAlternatingTurns() {
        for (split, texts) in Self.generated {
            let chats = texts.filter(Self.isChat)
            let fraction = Double(chats.count) / Double(texts.count)
            #expect(fraction > 0.15 && fraction < 0.25, "\(split): \(fraction)")
            for c in chats {
                #expect(c.hasSuffix("<|im_end|>\n"))
                let blocks = c.split(separator: "<|im_start|>", omittingEmptySubsequences: false).dropFirst()
                var roles: [String] = []
                for b in blocks {
                    #expect(b.hasSuffix("<|im_end|>\n") && b.filter { $0 == "\n" }.count == 2, "\(b)")
                    roles.append(String(b.prefix { $0 != "\n" }))
                }
                if roles.first == "system" { roles.removeFirst() }
                #expect(!roles.isEmpty && roles.count % 2 == 0)
                for (i, r) in roles.enumerated() { #expect(r == (i % 2 == 0 ? "user" : "assistant"), "\(c)") }
            }
        }
    }

    /// The corpus knows the domain words but not the domain tasks: no orders prompt or JSON, no helpdesk facts.
    @Test func noDomainTaskTextLeaksIn() {
        let all = Self.generated.flatMap(\.texts)
        let joined = all.joined(separator: "\n")
        for forbidden in ["Extract the order", "JSON", "\"item\"", "Spoke", "workshop", "pounds", "Mill Lane", "0117",
                          "in stock", "puncture repair", "warranty", "we are open", "we close", "we open"] {
            #expect(!joined.contains(forbidden), "general corpus contains '\(forbidden)'")
        }
        for item in Vocabulary.items { #expect(joined.contains(" \(item.singular)"), "\(item.singular) never appears") }
        for city in Vocabulary.cities { #expect(joined.contains(city)) }
        for color in Vocabulary.colors { #expect(joined.contains(" \(color) ")) }
    }
}
