import Testing
@testable import DatasetGenerators

@Suite struct HelpdeskDatasetTests {
    static let generated = HelpdeskDataset.generate()

    @Test func sizesAreAsStated() {
        #expect(Self.generated.map(\.conversations.count) == [1500, 150, 150])
    }

    /// Optional system message first, then user and assistant alternating, 1–3 user turns, ending with the
    /// assistant; every answer is the knowledge base's answer to the question asked.
    @Test func conversationsAlternateAndEndWithTheAssistant() {
        for (split, conversations) in Self.generated {
            for c in conversations {
                var roles = c.messages.map(\.role)
                if roles.first == .system { roles.removeFirst() }
                #expect(!roles.contains(.system), "\(split)")
                #expect(roles.count % 2 == 0 && (2...6).contains(roles.count), "\(split): \(roles)")
                for (i, r) in roles.enumerated() { #expect(r == (i % 2 == 0 ? .user : .assistant), "\(split): \(roles)") }
                #expect(c.messages.last?.role == .assistant)
                for t in c.turns {
                    #expect(t.assistant == HelpdeskDataset.answer(t.question))
                    #expect(!t.user.isEmpty)
                }
            }
        }
    }

    @Test func theLinesAreTheConversations() throws {
        let lines = HelpdeskDataset.lines()
        for ((_, conversations), (_, lines)) in zip(Self.generated, lines) {
            for (c, line) in zip(conversations, lines) {
                let v = try parse(line)
                let messages = v["messages"]?.arrayValue ?? []
                #expect(messages.map { $0.keys } == Array(repeating: ["role", "content"], count: c.messages.count))
                #expect(messages.map { $0["content"]?.stringValue } == c.messages.map(\.content))
                #expect(messages.map { $0["role"]?.stringValue } == c.messages.map(\.role.rawValue))
            }
        }
    }

    /// Train and valid never use a held-out phrasing; every test conversation opens with one.
    @Test func testPhrasingsAreHeldOut() {
        let heldOut = HelpdeskDataset.heldOutPhrasings
        #expect(heldOut.count == 11 + HelpdeskDataset.policies.count)
        var trainUsers = Set<String>()
        for (split, conversations) in Self.generated {
            for c in conversations {
                if split == .test {
                    #expect(heldOut.contains(c.turns[0].phrasing), "\(c.turns[0].phrasing)")
                    #expect(!trainUsers.contains(c.turns[0].user), "test question seen in train: \(c.turns[0].user)")
                } else {
                    for t in c.turns { #expect(!heldOut.contains(t.phrasing), "\(split): \(t.user)") }
                    if split == .train { for t in c.turns { trainUsers.insert(t.user) } }
                }
            }
        }
    }

    @Test func knowledgeBaseAnswers() {
        #expect(HelpdeskDataset.answer(.hours(day: 0)) == "We are closed on Monday.")
        #expect(HelpdeskDataset.answer(.isOpen(day: 6)) == "Yes, on Sunday we are open from 10:00 to 14:00.")
        #expect(HelpdeskDataset.answer(.price(service: 0)) == "A puncture repair costs 12 pounds.")
        #expect(HelpdeskDataset.answer(.duration(service: 12)) == "An e-bike check takes about two hours.")
        #expect(HelpdeskDataset.answer(.stock(part: 8)) == "Yes, but only two saddles are left.")
    }
}
