import Tensors

// MARK: - Recall records: facts stated early, read back later

/// Short passages that state a few facts (who, how many, what size and colour of which thing, in which city, on
/// which day) and then read them back: questions answered from the passage, the facts restated in figures, a
/// sentence repeated word for word, a list said twice, or a day's weather written again as a key/value record.
/// Every value is drawn at random and each passage gives its people different colours, things and cities, so the
/// answer can only come from earlier in the same text. A model pretrained only on the template stories learns
/// which words are frequent, not how to find and copy a word it was just given; these records ask for exactly
/// that (the skill any extraction fine-tune relies on) without being any bundled task: no orders prompt or
/// format, no helpdesk facts.
extension GeneralCorpus {
    /// Share of the non-chat records that are recall records (the rest are prose stories). 0: off, and then no
    /// random draw is spent on it, so the committed corpus is byte-identical to the one without these records.
    ///
    /// Measured (issue 9): with 600 pretraining updates the base did not copy at any share tried; the default LoRA
    /// fine-tune then reached valid JSON but exact match 0 (colour and city at chance). At 0.6 with 2400 updates
    /// (and the JSON fact records, which also give the tokenizer one-token "Leeds"-style quoted values), LoRA on orders
    /// gets item, quantity, size, colour and shipping right 92–100% of the time, and full fine-tuning also the city.
    static let recallFraction = 0.6

    struct Fact {
        var name: String
        var count: Int
        var size: String?
        var color: String
        var item: Vocabulary.Noun
        var city: String
        var day: String?
        var verb: (past: String, base: String)
    }

    static let factVerbs: [(past: String, base: String)] = [
        ("bought", "buy"), ("sent", "send"), ("packed", "pack"), ("posted", "post"), ("found", "find"),
        ("carried", "carry"), ("wrapped", "wrap"), ("picked up", "pick up"), ("chose", "choose"), ("took", "take"),
    ]

    /// `n` facts about different people, colours, things and cities.
    static func drawFacts(_ rng: inout RandomGenerator, _ n: Int) -> [Fact] {
        let people = rng.sample(Vocabulary.people, n)
        let colors = rng.sample(Vocabulary.colors, n)
        let items = rng.sample(Vocabulary.items, n)
        let cities = rng.sample(Vocabulary.cities, n)
        var facts: [Fact] = []
        for i in 0..<n {
            let count = rng.int(1, 12)
            let size: String? = rng.chance(0.6) ? rng.pick(Vocabulary.sizes) : nil
            let day: String? = rng.chance(0.5) ? rng.pick(Vocabulary.days) : nil
            facts.append(Fact(name: people[i].name, count: count, size: size, color: colors[i], item: items[i],
                              city: cities[i], day: day, verb: rng.pick(factVerbs)))
        }
        return facts
    }

    /// "three large red mugs", "a blue lamp", "7 small green pens": the count in words, in digits or as an article.
    static func nounPhrase(_ f: Fact, _ rng: inout RandomGenerator, digits: Bool? = nil, size: Bool = true) -> String {
        var rest = [f.color, f.count == 1 ? f.item.singular : f.item.plural]
        if size, let s = f.size { rest.insert(s, at: 0) }
        let tail = rest.joined(separator: " ")
        let useDigits = digits ?? rng.chance(0.4)
        let q: String
        if useDigits { q = String(f.count) }
        else if f.count == 1 && rng.chance(0.5) { q = Vocabulary.article(before: rest[0]) }
        else { q = Vocabulary.numberWords[f.count] }
        return q + " " + tail
    }

    /// One sentence stating a fact; the city is always named, the day when the fact has one.
    static func factSentence(_ f: Fact, _ rng: inout RandomGenerator) -> String {
        let np = nounPhrase(f, &rng)
        let v = f.verb.past
        if let day = f.day {
            switch rng.index(4) {
            case 0: return "\(f.name) \(v) \(np) in \(f.city) on \(day)."
            case 1: return "On \(day), \(f.name) \(v) \(np) in \(f.city)."
            case 2: return "\(f.name) was in \(f.city) on \(day) and \(v) \(np)."
            default: return "In \(f.city) on \(day), \(f.name) \(v) \(np)."
            }
        }
        switch rng.index(4) {
        case 0: return "\(f.name) \(v) \(np) in \(f.city)."
        case 1: return "In \(f.city), \(f.name) \(v) \(np)."
        case 2: return "\(f.name) \(v) \(np) for a friend in \(f.city)."
        default: return "\(f.name) went to \(f.city) and \(v) \(np)."
        }
    }

    /// A question about one fact and its answer, taken from the fact.
    static func question(_ f: Fact, _ rng: inout RandomGenerator) -> (q: String, a: String) {
        let things = f.count == 1 ? f.item.singular : f.item.plural
        let were = f.count == 1 ? "was" : "were"
        var kinds = ["city", "color", "count", "item", "who"]
        if f.size != nil { kinds.append("size") }
        if f.day != nil { kinds.append("day") }
        switch rng.pick(kinds) {
        case "city":
            return rng.chance(0.5) ? ("Where did \(f.name) \(f.verb.base) the \(things)?", f.city)
                                   : ("Which city was \(f.name) in?", f.city)
        case "color":
            return ("What colour \(were) the \(things) that \(f.name) \(f.verb.past)?", f.color)
        case "count":
            let a = rng.chance(0.7) ? String(f.count) : Vocabulary.numberWords[f.count]
            return ("How many \(f.item.plural) did \(f.name) \(f.verb.base)?", a)
        case "item":
            return ("Which thing did \(f.name) \(f.verb.base) in \(f.city)?", f.item.singular)
        case "size":
            return ("What size \(were) the \(things)?", f.size ?? "")
        case "day":
            return ("On which day did \(f.name) \(f.verb.base) the \(things)?", f.day ?? "")
        default:
            return ("Who \(f.verb.past) the \(f.color) \(things)?", f.name)
        }
    }

    static func recall(_ rng: inout RandomGenerator) -> (text: String, words: Int) {
        let text: String
        switch rng.index(20) {
        case 0..<5: text = shortQuestions(&rng)
        case 5..<9: text = questionsAndAnswers(&rng)
        case 9..<12: text = restated(&rng)
        case 12..<14: text = repeated(&rng)
        case 14..<17: text = factRecords(&rng)
        default: text = weatherRecords(&rng)
        }
        return (text, wordCount(text))
    }

    /// Facts, then questions answered from them.
    static func questionsAndAnswers(_ rng: inout RandomGenerator) -> String {
        let facts = drawFacts(&rng, rng.int(3, 5))
        var lines = [facts.map { factSentence($0, &rng) }.joined(separator: " ")]
        var asked: [String] = []
        for _ in 0..<rng.int(3, 5) {
            let (q, a) = question(rng.pick(facts), &rng)
            if asked.contains(q) { continue }
            asked.append(q)
            lines.append("Q: \(q)\nA: \(a).")
        }
        return lines.joined(separator: "\n")
    }

    /// Several one-fact passages, each followed at once by one to three questions about it.
    static func shortQuestions(_ rng: inout RandomGenerator) -> String {
        let facts = drawFacts(&rng, rng.int(3, 5))
        var blocks: [String] = []
        for f in facts {
            var lines = [factSentence(f, &rng)]
            var asked: [String] = []
            for _ in 0..<rng.int(1, 3) {
                let (q, a) = question(f, &rng)
                if asked.contains(q) { continue }
                asked.append(q)
                lines.append("Q: \(q)\nA: \(a).")
            }
            blocks.append(lines.joined(separator: "\n"))
        }
        return blocks.joined(separator: "\n\n")
    }

    /// Facts in words, then the same facts as short lines with the counts in figures.
    static func restated(_ rng: inout RandomGenerator) -> String {
        let facts = drawFacts(&rng, rng.int(4, 6))
        if rng.chance(0.5) {
            // Each sentence followed at once by its facts in a fixed order, the count in figures.
            return facts.map { f -> String in
                let sentence = factSentence(f, &rng)
                let fields = [f.name, String(f.count), f.size ?? "any size", f.color, f.item.singular, f.city]
                return sentence + "\nIn short: " + fields.joined(separator: ", ") + "."
            }.joined(separator: "\n")
        }
        let passage = facts.map { factSentence($0, &rng) }.joined(separator: " ")
        let head = rng.pick(["In short:", "The notes say:", "Written down:", "To sum up:"])
        let lines = facts.map { f -> String in
            let s = f.size.map { "\($0) " } ?? ""
            switch rng.index(3) {
            case 0: return "\(f.name): \(f.count) \(s)\(f.color) \(f.item.singular), \(f.city)"
            case 1: return "\(f.name) - \(f.city) - \(f.count) x \(s)\(f.color) \(f.item.singular)"
            default: return "\(f.city): \(f.name), \(f.count), \(s)\(f.color), \(f.item.singular)"
            }
        }
        return passage + "\n" + head + "\n" + lines.joined(separator: "\n")
    }

    /// A sentence said and repeated, or a list given twice (the second time in figures).
    static func repeated(_ rng: inout RandomGenerator) -> String {
        let facts = drawFacts(&rng, rng.int(4, 6))
        let speaker = facts[0].name, listener = facts[1].name
        if rng.chance(0.5) {
            let said = facts.dropFirst().map { nounPhrase($0, &rng) + " to " + $0.city }.joined(separator: ", ")
            let (intro, verb) = rng.pick([("\(speaker) said", "Please send"), ("\(speaker) wrote on a card", "Send"),
                                          ("\(speaker) left a note", "Take")])
            let reply = rng.pick(["\(listener) read it back", "Repeat", "\(listener) repeated", "Again, word for word"])
            let quote = "\"\(verb) \(said).\""
            return "\(intro): \(quote)\n\(reply): \(quote)"
        }
        let list = facts.map { ($0, nounPhrase($0, &rng, digits: false)) }
        let words = list.map { "\($0.1) from \($0.0.city)" }.joined(separator: ", ")
        let figures = list.map { "\($0.0.count) \($0.0.size.map { "\($0) " } ?? "")\($0.0.color) "
            + "\($0.0.count == 1 ? $0.0.item.singular : $0.0.item.plural) from \($0.0.city)" }.joined(separator: ", ")
        return "\(speaker)'s list: \(words).\nThe same list in figures: \(figures)."
    }

    /// Facts in words, then each as a one-line JSON record (keys in one of a few fixed orders; values copied from
    /// the words: the city and colour as written, the count in figures, the thing in the singular). JSON is
    /// common in real pretraining text; here it also teaches the tokenizer and the model that a word said with a
    /// leading space (" Leeds") is written without one inside quotes ("Leeds").
    static func factRecords(_ rng: inout RandomGenerator) -> String {
        let facts = drawFacts(&rng, rng.int(3, 5))
        let layout = rng.index(3)
        let records = facts.map { f -> String in
            var fields: [(String, String)] = []
            switch layout {
            case 0:
                fields = [("name", "\"\(f.name)\""), ("city", "\"\(f.city)\""), ("thing", "\"\(f.item.singular)\""),
                          ("count", String(f.count)), ("colour", "\"\(f.color)\"")]
            case 1:
                fields = [("who", "\"\(f.name)\""), ("what", "\"\(f.item.singular)\""), ("how_many", String(f.count)),
                          ("color", "\"\(f.color)\""), ("where", "\"\(f.city)\"")]
            default:
                fields = [("person", "\"\(f.name)\""), ("count", String(f.count)), ("color", "\"\(f.color)\""),
                          ("object", "\"\(f.item.singular)\""), ("place", "\"\(f.city)\"")]
            }
            if let size = f.size { fields.insert(("size", "\"\(size)\""), at: 2) }
            if let day = f.day { fields.append(("day", "\"\(day)\"")) }
            return "{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}"
        }
        if rng.chance(0.5) {
            let passage = facts.map { factSentence($0, &rng) }.joined(separator: " ")
            return passage + "\n" + rng.pick(["As records:", "In the notebook:", "Records:", "The same as data:"]) + "\n"
                + records.joined(separator: "\n")
        }
        return zip(facts, records).map { factSentence($0.0, &rng) + "\n" + $0.1 }.joined(separator: "\n")
    }

    static let winds = ["north", "south", "east", "west", "north-east", "south-west"]

    /// A few days of weather in words, then the same days as key/value records.
    static func weatherRecords(_ rng: inout RandomGenerator) -> String {
        let cities = rng.sample(Vocabulary.cities, 3)
        let start = rng.index(7)
        var sentences: [String] = []
        var records: [String] = []
        for (k, city) in cities.enumerated() {
            let day = Vocabulary.days[(start + k) % 7]
            let sky = rng.pick(TemplateFiller.lists["weather"]!)
            let low = rng.int(1, 12), high = low + rng.int(1, 9)
            let wind = rng.pick(winds)
            let highText = rng.chance(0.5) ? String(high) : (high <= 12 ? Vocabulary.numberWords[high] : String(high))
            sentences.append(rng.chance(0.5)
                ? "On \(day) it was \(sky) in \(city), with a high of \(highText) degrees and a low of \(low), and the wind came from the \(wind)."
                : "\(city) had a \(sky) \(day): the wind was from the \(wind), the low was \(low) and the high \(highText) degrees.")
            records.append("{\"city\": \"\(city)\", \"day\": \"\(day)\", \"sky\": \"\(sky)\", \"low\": \(low), \"high\": \(high), \"wind\": \"\(wind)\"}")
        }
        return sentences.joined(separator: " ") + "\nAs records:\n" + records.joined(separator: "\n")
    }
}
