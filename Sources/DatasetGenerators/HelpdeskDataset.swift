import Tensors

/// The `helpdesk` dataset (chat): the assistant of Spoke & Chain, a fictional bike workshop, answers questions
/// from a fixed knowledge base (opening hours, service prices and durations, parts in stock, policies) in
/// short templated sentences. Conversations have 1–3 user turns, each answered; follow-ups may refer back
/// ("And on Sunday?", "How long does that take?"); half open with a system message.
///
/// Held out for test: every question kind has phrasings that only test uses (the last one of each list); the
/// first user turn of every test conversation uses one, and train and valid never do.
public enum HelpdeskDataset {
    public static let seed: UInt64 = 20_261_103
    public static let sizes: [(split: Split, records: Int)] = [(.train, 1500), (.valid, 150), (.test, 150)]

    // MARK: - Knowledge base

    public static let shopName = "Spoke & Chain"
    public static let address = "14 Mill Lane, Bristol"
    public static let phone = "0117 496 0321"

    /// Opening hours per day; nil when closed.
    public static let hours: [(day: String, open: String?, close: String?)] = [
        ("Monday", nil, nil), ("Tuesday", "9:00", "18:00"), ("Wednesday", "9:00", "18:00"),
        ("Thursday", "9:00", "20:00"), ("Friday", "9:00", "18:00"), ("Saturday", "8:30", "17:00"),
        ("Sunday", "10:00", "14:00"),
    ]

    /// Services with their price in pounds and how long they take.
    public static let services: [(name: String, price: Int, duration: String)] = [
        ("puncture repair", 12, "30 minutes"), ("inner tube replacement", 15, "30 minutes"),
        ("tyre fitting", 20, "40 minutes"), ("brake adjustment", 15, "30 minutes"),
        ("brake pad replacement", 25, "45 minutes"), ("gear tuning", 20, "45 minutes"),
        ("chain replacement", 30, "one hour"), ("wheel truing", 25, "one hour"),
        ("spoke replacement", 18, "one hour"), ("cable replacement", 22, "one hour"),
        ("basic service", 45, "two hours"), ("full service", 90, "one day"),
        ("e-bike check", 50, "two hours"), ("bike fitting", 60, "90 minutes"), ("bike wash", 15, "40 minutes"),
    ]

    public enum Stock: Sendable, Equatable { case inStock, few(Int), out(nextDelivery: String) }

    /// Parts (plural nouns) and their stock.
    public static let stock: [(part: String, status: Stock)] = [
        ("inner tubes", .inStock), ("tyres", .inStock), ("chains", .inStock), ("brake pads", .inStock),
        ("brake cables", .inStock), ("bells", .inStock), ("front lights", .inStock),
        ("back lights", .out(nextDelivery: "Friday")), ("saddles", .few(2)), ("pedals", .out(nextDelivery: "Thursday")),
        ("mudguards", .inStock), ("bottle cages", .inStock), ("helmets", .few(3)), ("locks", .inStock),
        ("pumps", .out(nextDelivery: "Wednesday")),
    ]

    /// Policies: the questions that ask for each (the last is test-only) and the one answer.
    public static let policies: [(topic: String, questions: [String], answer: String)] = [
        ("returns", ["Can I return a part I bought?", "What is your returns policy?", "Do you take returns?",
                     "I bought the wrong part. Can I bring it back?"],
         "You can return unused parts within 30 days with the receipt."),
        ("booking", ["How do I book a repair?", "Can I book a service?", "Do I need to book?",
                     "What is the best way to book my bike in?"],
         "You can book on our website or by phone, at least one day ahead."),
        ("same day", ["Do you do same-day repairs?", "Can you fix my bike today?", "Can I get a repair done while I wait?",
                      "Is there any chance of a repair on the same day?"],
         "Same-day repairs are only for punctures; everything else needs a booking."),
        ("warranty", ["Is there a warranty on repairs?", "Do you guarantee your work?", "What if the repair fails?",
                      "How long is your work guaranteed for?"],
         "All repairs come with a three-month warranty."),
        ("payment", ["How can I pay?", "Do you take cards?", "Can I pay in cash?", "Which payment methods do you accept?"],
         "We take cards and cash, but not cheques."),
        ("address", ["Where are you?", "What is your address?", "Where is the workshop?", "How do I find your shop?"],
         "We are at 14 Mill Lane, Bristol."),
        ("phone", ["What is your phone number?", "How can I call you?", "Can I phone the workshop?",
                   "Which number should I ring?"],
         "You can call us on 0117 496 0321."),
        ("collection", ["How long do repairs take?", "When will my bike be ready?", "How soon can I collect my bike?",
                        "How many days will you keep my bike?"],
         "Most repairs are ready within two working days, and we keep bikes for collection for 14 days."),
        ("e-bikes", ["Do you repair e-bikes?", "Can you work on electric bikes?", "Do you service e-bikes?",
                     "Is my electric bike something you can fix?"],
         "Yes, we repair e-bikes; an e-bike check costs 50 pounds."),
        ("loan bike", ["Can I borrow a bike while mine is repaired?", "Do you have loan bikes?",
                       "Is there a bike I can use during the repair?", "Could you lend me a bike while you fix mine?"],
         "Yes, a loan bike costs 5 pounds a day while yours is in the workshop."),
    ]

    static let systemPrompts = [
        "You are the assistant of Spoke & Chain, a bike workshop in Bristol. Answer in one short sentence.",
        "You answer customers' questions for the Spoke & Chain bike workshop, using only the workshop's facts.",
        "You are Spoke & Chain's helpful assistant. Be brief and exact.",
    ]

    // MARK: - Questions (the last phrasing of each list is test-only)

    static let hoursQuestions = ["What are your opening hours on {day}?", "When are you open on {day}?",
                                 "What are your hours on {day}?", "Could you tell me when the workshop is open on {day}?"]
    static let openQuestions = ["What time do you open on {day}?", "When do you open on {day}?",
                                "How early do you open on {day}?", "At what time does the shop open on {day}?"]
    static let closeQuestions = ["What time do you close on {day}?", "When do you close on {day}?",
                                 "How late are you open on {day}?", "Until what time can I come in on {day}?"]
    static let isOpenQuestions = ["Are you open on {day}?", "Is the workshop open on {day}?", "Can I come in on {day}?",
                                  "Will you be open this {day}?"]
    static let priceQuestions = ["How much is {a_service}?", "What does {a_service} cost?",
                                 "What is the price of {a_service}?", "How much do you charge for {a_service}?"]
    static let durationQuestions = ["How long does {a_service} take?", "How long will {a_service} take?",
                                    "How much time does {a_service} need?", "If I book {a_service}, how long will it take?"]
    static let stockQuestions = ["Do you have {part} in stock?", "Have you got any {part}?", "Are there any {part} available?",
                                 "Are {part} in stock at the moment?"]

    // Follow-ups that refer back to the previous question.
    static let dayFollowUps = ["And on {day}?", "What about {day}?", "And {day}?", "How about {day}?"]
    static let serviceFollowUps = ["And {a_service}?", "What about {a_service}?", "And for {a_service}?", "How about {a_service}?"]
    static let thatDurationFollowUps = ["How long does that take?", "How long will it take?", "And how long does it take?",
                                        "How long would that take?"]
    static let partFollowUps = ["And {part}?", "What about {part}?", "Do you have {part} too?", "Any {part}?"]
    static let leadIns = ["", "", "Thanks. ", "Great, thanks. ", "OK. ", "Thank you! ", "One more question. "]

    // MARK: - Structured records

    /// What a user turn asks; the answer follows from the knowledge base alone.
    public enum Question: Sendable, Equatable {
        case hours(day: Int), opening(day: Int), closing(day: Int), isOpen(day: Int)
        case price(service: Int), duration(service: Int)
        case stock(part: Int)
        case policy(Int)
    }

    /// One user turn: what it asks and which phrasing list/index produced it (e.g. "price.3").
    public struct Turn: Sendable {
        public var question: Question
        public var phrasing: String
        public var user: String
        public var assistant: String
    }

    public struct Conversation: Sendable {
        public var system: String?
        public var turns: [Turn]
        public var messages: [ChatMessage] {
            (system.map { [ChatMessage(.system, $0)] } ?? [])
                + turns.flatMap { [ChatMessage(.user, $0.user), ChatMessage(.assistant, $0.assistant)] }
        }
    }

    /// Phrasing ids that only test uses: "<list>.<last index>" for every list.
    public static var heldOutPhrasings: Set<String> {
        var s = Set<String>()
        for (name, list) in phrasingLists { s.insert("\(name).\(list.count - 1)") }
        return s
    }

    static let phrasingLists: [(String, [String])] = [
        ("hours", hoursQuestions), ("open", openQuestions), ("close", closeQuestions), ("isOpen", isOpenQuestions),
        ("price", priceQuestions), ("duration", durationQuestions), ("stock", stockQuestions),
        ("dayFollowUp", dayFollowUps), ("serviceFollowUp", serviceFollowUps), ("thatDuration", thatDurationFollowUps),
        ("partFollowUp", partFollowUps),
    ] + policies.map { ("policy:" + $0.topic, $0.questions) }

    /// The knowledge base's answer to a question.
    public static func answer(_ q: Question) -> String {
        func a(_ service: Int) -> String {
            let name = services[service].name
            return Vocabulary.capitalized(Vocabulary.article(before: name)) + " " + name
        }
        switch q {
        case .hours(let d), .opening(let d), .closing(let d), .isOpen(let d):
            let h = hours[d]
            guard let open = h.open, let close = h.close else {
                if case .isOpen = q { return "No, we are closed on \(h.day)." }
                return "We are closed on \(h.day)."
            }
            switch q {
            case .opening: return "On \(h.day) we open at \(open)."
            case .closing: return "On \(h.day) we close at \(close)."
            case .isOpen: return "Yes, on \(h.day) we are open from \(open) to \(close)."
            default: return "On \(h.day) we are open from \(open) to \(close)."
            }
        case .price(let s): return "\(a(s)) costs \(services[s].price) pounds."
        case .duration(let s): return "\(a(s)) takes about \(services[s].duration)."
        case .stock(let p):
            let part = stock[p].part
            switch stock[p].status {
            case .inStock: return "Yes, we have \(part) in stock."
            case .few(let n): return "Yes, but only \(Vocabulary.numberWords[n]) \(part) are left."
            case .out(let day): return "Sorry, \(part) are out of stock; more arrive on \(day)."
            }
        case .policy(let i): return policies[i].answer
        }
    }

    // MARK: - Generation

    public static func generate() -> [(split: Split, conversations: [Conversation])] {
        var seen = Set<String>()
        var out: [(split: Split, conversations: [Conversation])] = []
        for (k, size) in sizes.enumerated() {
            var rng = RandomGenerator(seed: seed &+ UInt64(k))
            var conversations: [Conversation] = []
            while conversations.count < size.records {
                let c = conversation(&rng, test: size.split == .test)
                let line = JSONLine.chat(c.messages)
                guard !seen.contains(line) else { continue }
                seen.insert(line)
                conversations.append(c)
            }
            out.append((size.split, conversations))
        }
        return out
    }

    public static func lines() -> [(split: Split, lines: [String])] {
        generate().map { ($0.split, $0.conversations.map { JSONLine.chat($0.messages) }) }
    }

    /// Which phrasings a turn may use: the held-out last one only (test's first turn), any (test's later turns),
    /// or any but the last (train and valid).
    enum PhrasingChoice { case heldOut, any, seen }

    static func phrasing(_ count: Int, _ choice: PhrasingChoice, _ rng: inout RandomGenerator) -> Int {
        switch choice {
        case .heldOut: count - 1
        case .any: rng.index(count)
        case .seen: rng.index(count - 1)
        }
    }

    static func conversation(_ rng: inout RandomGenerator, test: Bool) -> Conversation {
        let system: String? = rng.chance(0.5) ? rng.pick(systemPrompts) : nil
        let userTurns = rng.pick([1, 1, 2, 2, 2, 3, 3])
        var turns: [Turn] = []
        for i in 0..<userTurns {
            let choice: PhrasingChoice = !test ? .seen : i == 0 ? .heldOut : .any
            if let previous = turns.last, rng.chance(0.6), let t = followUp(to: previous.question, choice, &rng) {
                turns.append(t)
            } else {
                var t = fresh(choice, &rng)
                if i > 0 { t.user = rng.pick(leadIns) + t.user }
                turns.append(t)
            }
        }
        return Conversation(system: system, turns: turns)
    }

    static func aService(_ s: Int) -> String {
        let name = services[s].name
        return Vocabulary.article(before: name) + " " + name
    }

    static func fill(_ template: String, day: Int? = nil, service: Int? = nil, part: Int? = nil) -> String {
        var s = template
        if let day { s = s.replacing("{day}", with: hours[day].day) }
        if let service { s = s.replacing("{a_service}", with: aService(service)) }
        if let part { s = s.replacing("{part}", with: stock[part].part) }
        return s
    }

    /// A question that needs no earlier turn.
    static func fresh(_ choice: PhrasingChoice, _ rng: inout RandomGenerator) -> Turn {
        let kind = rng.index(10)
        let q: Question, list: String, texts: [String]
        var day: Int?, service: Int?, part: Int?
        switch kind {
        case 0: day = rng.index(7); q = .hours(day: day!); list = "hours"; texts = hoursQuestions
        case 1: day = rng.index(7); q = .opening(day: day!); list = "open"; texts = openQuestions
        case 2: day = rng.index(7); q = .closing(day: day!); list = "close"; texts = closeQuestions
        case 3: day = rng.index(7); q = .isOpen(day: day!); list = "isOpen"; texts = isOpenQuestions
        case 4, 5: service = rng.index(services.count); q = .price(service: service!); list = "price"; texts = priceQuestions
        case 6: service = rng.index(services.count); q = .duration(service: service!); list = "duration"; texts = durationQuestions
        case 7, 8: part = rng.index(stock.count); q = .stock(part: part!); list = "stock"; texts = stockQuestions
        default:
            let p = rng.index(policies.count)
            q = .policy(p); list = "policy:" + policies[p].topic; texts = policies[p].questions
        }
        let k = phrasing(texts.count, choice, &rng)
        let user = fill(texts[k], day: day, service: service, part: part)
        return Turn(question: q, phrasing: "\(list).\(k)", user: user, assistant: answer(q))
    }

    /// A follow-up that refers back to `previous`, or nil when that kind has none (policies).
    static func followUp(to previous: Question, _ choice: PhrasingChoice, _ rng: inout RandomGenerator) -> Turn? {
        func otherThan(_ x: Int, _ n: Int) -> Int { (x + 1 + rng.index(n - 1)) % n }
        let k = phrasing(4, choice, &rng)
        switch previous {
        case .hours(let d), .opening(let d), .closing(let d), .isOpen(let d):
            let day = otherThan(d, 7)
            let q: Question
            switch previous {
            case .opening: q = .opening(day: day)
            case .closing: q = .closing(day: day)
            case .isOpen: q = .isOpen(day: day)
            default: q = .hours(day: day)
            }
            return Turn(question: q, phrasing: "dayFollowUp.\(k)", user: fill(dayFollowUps[k], day: day), assistant: answer(q))
        case .price(let s):
            if rng.chance(0.5) {
                let q = Question.duration(service: s)
                return Turn(question: q, phrasing: "thatDuration.\(k)", user: thatDurationFollowUps[k], assistant: answer(q))
            }
            let other = otherThan(s, services.count)
            let q = Question.price(service: other)
            return Turn(question: q, phrasing: "serviceFollowUp.\(k)", user: fill(serviceFollowUps[k], service: other), assistant: answer(q))
        case .duration(let s):
            let other = otherThan(s, services.count)
            let q = Question.duration(service: other)
            return Turn(question: q, phrasing: "serviceFollowUp.\(k)", user: fill(serviceFollowUps[k], service: other), assistant: answer(q))
        case .stock(let p):
            let other = otherThan(p, stock.count)
            let q = Question.stock(part: other)
            return Turn(question: q, phrasing: "partFollowUp.\(k)", user: fill(partFollowUps[k], part: other), assistant: answer(q))
        case .policy:
            return nil
        }
    }
}
