import Tensors

/// The `general` dataset: simple English prose about everyday life (shops, weather, travel between the
/// domain's cities, kitchens, bikes, rooms, letters) plus about 20% small-talk chats rendered as ChatML text.
/// It is the pretraining corpus of the bundled base model and the general held-out text of the forgetting
/// check. It uses the domain vocabulary (items, colours, cities, bike parts, days, numbers) but never the
/// orders prompt or its JSON record (recall records write facts as JSON with other keys) nor any fact of the Spoke & Chain knowledge base.
public enum GeneralCorpus {
    public static let seed: UInt64 = 20_261_101

    /// Upper bounds on each split's file size in bytes (JSONL, newlines included); records are added until the
    /// next one would not fit.
    public static let byteBudget: [(split: Split, bytes: Int)] = [(.train, 2_500_000), (.valid, 100_000), (.test, 100_000)]

    public static let chatFraction = 0.23
    /// Words per record (prose: the sentences' words; chats: the messages' words).
    public static let wordRange = 50...150

    /// The record texts of every split. A text appears at most once across all splits (valid and test never
    /// repeat a train record), checked by exact string equality.
    public static func generate() -> [(split: Split, texts: [String])] {
        var seen = Set<String>()
        var out: [(split: Split, texts: [String])] = []
        for (k, budget) in byteBudget.enumerated() {
            var rng = RandomGenerator(seed: seed &+ UInt64(k))
            var texts: [String] = []
            var bytes = 0
            var misses = 0
            while misses < 1000 {   // 1000 rejections in a row: the templates are exhausted
                let (text, words) = record(&rng)
                guard wordRange.contains(words), !seen.contains(text) else { misses += 1; continue }
                let size = JSONLine.text(text).utf8.count + 1
                if bytes + size > budget.bytes { break }
                seen.insert(text)
                texts.append(text)
                misses = 0
                bytes += size
            }
            out.append((budget.split, texts))
        }
        return out
    }

    /// The JSONL lines of every split.
    public static func lines() -> [(split: Split, lines: [String])] {
        generate().map { ($0.split, $0.texts.map(JSONLine.text)) }
    }

    static func wordCount(_ s: String) -> Int {
        s.split(whereSeparator: { $0 == " " || $0 == "\n" }).count
    }

    /// A record's text and its word count (for chats, the words of the messages, not the ChatML markers).
    static func record(_ rng: inout RandomGenerator) -> (text: String, words: Int) {
        let isChat = rng.chance(chatFraction)
        if recallFraction > 0 && !isChat && rng.chance(recallFraction) { return recall(&rng) }   // no draw when off
        var filler = TemplateFiller(rng: rng)
        let record = isChat ? chat(&filler) : prose(&filler)
        rng = filler.rng
        return record
    }

    // MARK: - Prose

    static func prose(_ f: inout TemplateFiller) -> (text: String, words: Int) {
        let topic = f.rng.pick(topics)
        let target = f.rng.int(wordRange.lowerBound + 5, wordRange.upperBound - 10)
        var sentences = [f.fill(f.rng.pick(topic.openers))]
        var words = wordCount(sentences[0])
        let closer = f.fill(f.rng.pick(topic.closers))
        let closerWords = wordCount(closer)
        var middles = topic.middles
        f.rng.shuffle(&middles)
        for m in middles where words + closerWords < target {
            let s = f.fill(m)
            let w = wordCount(s)
            if words + w + closerWords > wordRange.upperBound { continue }
            sentences.append(s)
            words += w
        }
        sentences.append(closer)
        return (sentences.joined(separator: " "), words + closerWords)
    }

    // MARK: - Small-talk chats (ChatML text)

    static func chat(_ f: inout TemplateFiller) -> (text: String, words: Int) {
        var turns: [(role: String, content: String)] = []
        if f.rng.chance(0.3) { turns.append(("system", f.rng.pick(systemPrompts))) }
        let target = f.rng.int(wordRange.lowerBound + 5, wordRange.upperBound - 20)
        var exchanges = [f.rng.pick(smallTalk)]
        var extra = followUps
        f.rng.shuffle(&extra)
        if f.rng.chance(0.25) { exchanges.append(f.rng.pick(smallTalk)) }
        exchanges += extra.prefix(f.rng.int(0, 2))
        var words = 0
        for (i, e) in exchanges.enumerated() {
            let user = f.fill(f.rng.pick(e.user))
            let assistant = f.fill(f.rng.pick(e.assistant))
            let w = wordCount(user) + wordCount(assistant)
            if i > 0 && (words >= target || words + w > wordRange.upperBound) { break }
            turns.append(("user", user))
            turns.append(("assistant", assistant))
            words += w
        }
        let systemWords = turns.first.map { $0.role == "system" ? wordCount($0.content) : 0 } ?? 0
        return (turns.map { "<|im_start|>\($0.role)\n\($0.content)<|im_end|>\n" }.joined(), words + systemWords)
    }
}
