import Tensors

/// The `orders` dataset (prompt_completion): a customer's free-English message → a one-line JSON object with
/// the keys `item, quantity, size, color, city, shipping` in that order. Size and shipping may be left out of
/// the message; then they are `"medium"` and `"standard"`.
///
/// Held out for test: every test record uses an (item, city) pair that never occurs in train or valid
/// (`isHeldOut(item:city:)`, 50 of the 500 pairs), and about half of the test records use one of the last
/// `heldOutTemplateCount` message templates, which train and valid never use.
public enum OrdersDataset {
    public static let seed: UInt64 = 20_261_102
    public static let sizes: [(split: Split, records: Int)] = [(.train, 2000), (.valid, 200), (.test, 200)]
    public static let shippingOptions = ["standard", "express", "overnight"]
    public static let defaultSize = "medium"
    public static let defaultShipping = "standard"
    public static let instruction = "Extract the order as JSON."

    /// One order: the facts the message states (or the defaults it leaves implicit).
    public struct Order: Sendable, Equatable {
        public var item: String
        public var quantity: Int
        public var size: String
        public var color: String
        public var city: String
        public var shipping: String

        /// The completion's JSON, keys in the fixed order, `", "` and `": "` separators.
        public var json: String {
            "{\"item\": \"\(item)\", \"quantity\": \(quantity), \"size\": \"\(size)\", \"color\": \"\(color)\", "
                + "\"city\": \"\(city)\", \"shipping\": \"\(shipping)\"}"
        }
    }

    /// A generated record with what went into it.
    public struct Example: Sendable {
        public var order: Order
        public var message: String
        public var template: Int
        public var sizeStated: Bool
        public var shippingStated: Bool
        public var prompt: String { "\(OrdersDataset.instruction)\nMessage: \(message)\nJSON:" }
        public var completion: String { " " + order.json }
    }

    /// The 50 (item, city) pairs reserved for test: for item i, cities (7i + 3) mod 20 and (7i + 13) mod 20.
    public static func isHeldOut(item: Int, city: Int) -> Bool {
        let n = Vocabulary.cities.count
        return city == (7 * item + 3) % n || city == (7 * item + 13) % n
    }

    public static var heldOutTemplateCount: Int { 5 }
    public static func isHeldOutTemplate(_ t: Int) -> Bool { t >= templates.count - heldOutTemplateCount }

    public static func generate() -> [(split: Split, examples: [Example])] {
        var seen = Set<String>()
        var out: [(split: Split, examples: [Example])] = []
        for (k, size) in sizes.enumerated() {
            var rng = RandomGenerator(seed: seed &+ UInt64(k))
            var examples: [Example] = []
            while examples.count < size.records {
                let e = example(&rng, test: size.split == .test)
                guard !seen.contains(e.message) else { continue }
                seen.insert(e.message)
                examples.append(e)
            }
            out.append((size.split, examples))
        }
        return out
    }

    public static func lines() -> [(split: Split, lines: [String])] {
        generate().map { ($0.split, $0.examples.map { JSONLine.promptCompletion(prompt: $0.prompt, completion: $0.completion) }) }
    }

    // MARK: - Drawing one record

    static func example(_ rng: inout RandomGenerator, test: Bool) -> Example {
        let nItems = Vocabulary.items.count, nCities = Vocabulary.cities.count
        var item = 0, city = 0
        repeat {
            item = rng.index(nItems)
            city = rng.index(nCities)
        } while isHeldOut(item: item, city: city) != test
        let heldTemplates = heldOutTemplateCount, trainTemplates = templates.count - heldTemplates
        let template = test && rng.chance(0.5) ? trainTemplates + rng.index(heldTemplates) : rng.index(trainTemplates)
        let quantity = rng.chance(0.3) ? 1 : rng.int(2, 12)
        let sizeStated = rng.chance(0.75)
        let shippingStated = rng.chance(0.7)
        let order = Order(
            item: Vocabulary.items[item].singular, quantity: quantity,
            size: sizeStated ? rng.pick(Vocabulary.sizes) : defaultSize,
            color: rng.pick(Vocabulary.colors), city: Vocabulary.cities[city],
            shipping: shippingStated ? rng.pick(shippingOptions) : defaultShipping)
        var w = MessageWords(order: order, noun: Vocabulary.items[item], sizeStated: sizeStated,
                             shippingStated: shippingStated, rng: rng)
        let message = w.fill(templates[template])
        rng = w.rng
        return Example(order: order, message: message, template: template, sizeStated: sizeStated, shippingStated: shippingStated)
    }

    /// Message templates. Slots: {hi} greeting or nothing; {thing} "three large blue mugs" (size only when
    /// stated); {Thing} the same capitalised; {count_noun} / {count_color} "three", "3", or for one also "a"/"an"
    /// agreeing with the next word (the noun / the colour); {Count_noun} / {Count_sized} (before size or noun)
    /// capitalised; {count_bare} "three" or "3";
    /// {noun} the item word agreeing with the quantity; {nouns} always plural; {color}; {city};
    /// {size_tail} ", size large" or nothing; {size_paren} " (large)" or nothing; {size_word} "large " or nothing;
    /// {ship} " Express, please." or nothing; {ship_inline} " by express delivery" or nothing;
    /// {ship_lead} "Express delivery: " or nothing; {thanks} " Thanks!" or nothing.
    /// The last `heldOutTemplateCount` are test-only.
    static let templates: [String] = [
        "{hi}Could you send {thing} to {city}?{ship}{thanks}",
        "{hi}I'd like to order {thing}, delivered to {city}.{ship}",
        "Please ship {thing} to {city}{ship_inline}.{thanks}",
        "{hi}I need {thing} in {city}.{ship}{thanks}",
        "Order for {city}: {thing}.{ship}",
        "{hi}Can I get {thing} sent to my address in {city}?{ship}",
        "Send {thing} to {city}, please.{ship}",
        "{hi}My shop in {city} needs {thing}.{ship}{thanks}",
        "{ship_lead}{Thing} to {city}, please.",
        "Delivery to {city}. I want {thing}.{ship}",
        "{hi}We are in {city} and would like {thing}.{ship}{thanks}",
        "{hi}Could I order {count_noun} {noun} in {color}{size_tail} for delivery to {city}?{ship}",
        "I'm after {thing}. The address is in {city}.{ship}",
        "{hi}Put me down for {thing}, going to {city}.{ship}",
        "Please could you post {thing} to {city}?{ship}{thanks}",
        "{city} address. {Thing}.{ship}",
        "{hi}I would love {thing} for my flat in {city}.{ship}{thanks}",
        "Can you deliver {thing} to {city}{ship_inline}?",
        "{hi}Looking to buy {thing}. Ship to {city}.{ship}",
        "{hi}The {color} {nouns} look great. I'll take {count_bare}{size_tail}, sent to {city}.{ship}",
        "{hi}For a gift: {thing}, to {city}.{ship}{thanks}",
        "{hi}I want to send {thing} to a friend in {city}.{ship}",
        "{hi}{Count_noun} {noun} please, {color}{size_tail}, to {city}.{ship}",
        "Hello, this is an order: {thing} for {city}.{ship}",
        "{hi}Is it possible to have {thing} shipped to {city}?{ship}{thanks}",
        "{hi}Ship {thing} to {city}{ship_inline}, thanks.",
        "{hi}We need {thing} at our office in {city}.{ship}",
        "{ship_lead}{Count_sized} {size_word}{noun}, colour {color}, to {city}.",
        // Test-only templates.
        "{hi}Could you arrange {thing} for delivery in {city}?{ship}{thanks}",
        "{hi}I'd like {count_color} {color} {noun}{size_paren} sent to {city}.{ship}",
        "To {city}, please: {thing}.{ship}{thanks}",
        "{hi}Our team in {city} is short of {nouns}. Please send {count_bare} in {color}{size_tail}.{ship}",
        "{hi}Any chance of {thing} reaching {city}{ship_inline}?{thanks}",
    ]
}

/// Fills the slots of one orders message; each slot's phrasing is drawn at its use.
struct MessageWords {
    var order: OrdersDataset.Order
    var noun: Vocabulary.Noun
    var sizeStated: Bool
    var shippingStated: Bool
    var rng: RandomGenerator
    private var countForm: Int? = nil   // 0 word, 1 digit, 2 article (quantity 1 only); fixed per message

    init(order: OrdersDataset.Order, noun: Vocabulary.Noun, sizeStated: Bool, shippingStated: Bool, rng: RandomGenerator) {
        self.order = order; self.noun = noun; self.sizeStated = sizeStated; self.shippingStated = shippingStated
        self.rng = rng
    }

    mutating func fill(_ template: String) -> String {
        var out = ""
        var i = template.startIndex
        while i < template.endIndex {
            if template[i] == "{", let close = template[i...].firstIndex(of: "}") {
                out += value(String(template[template.index(after: i)..<close]))
                i = template.index(after: close)
            } else {
                out.append(template[i])
                i = template.index(after: i)
            }
        }
        return out
    }

    private var nounForm: String { order.quantity == 1 ? noun.singular : noun.plural }

    /// "three", "3", or for one: "one", "1", "a"/"an" (the article agrees with `next`).
    private mutating func count(before next: String?) -> String {
        let q = order.quantity
        if countForm == nil { countForm = q == 1 && next != nil ? rng.index(3) : rng.index(2) }
        switch countForm! {
        case 0: return Vocabulary.numberWords[q]
        case 1: return String(q)
        default: return Vocabulary.article(before: next ?? "")
        }
    }

    private mutating func value(_ slot: String) -> String {
        let size = sizeStated ? order.size + " " : ""
        switch slot {
        case "hi": return rng.pick(["", "", "Hi! ", "Hello. ", "Good morning! ", "Hi there. ", "Hey! ", "Good afternoon. "])
        case "thing":
            let rest = size + order.color + " " + nounForm
            return count(before: rest) + " " + rest
        case "Thing":
            let rest = size + order.color + " " + nounForm
            return Vocabulary.capitalized(count(before: rest)) + " " + rest
        case "count_noun": return count(before: nounForm)
        case "count_color": return count(before: order.color)
        case "count_bare":
            if countForm == nil { countForm = rng.index(2) }
            return countForm == 1 ? String(order.quantity) : Vocabulary.numberWords[order.quantity]
        case "Count_noun": return Vocabulary.capitalized(count(before: nounForm))
        case "Count_sized": return Vocabulary.capitalized(count(before: sizeStated ? order.size : nounForm))
        case "noun": return nounForm
        case "nouns": return noun.plural
        case "color": return order.color
        case "city": return order.city
        case "size_word": return size
        case "size_tail": return sizeStated ? rng.pick([", size \(order.size)", ", in \(order.size)", ", \(order.size)"]) : ""
        case "size_paren": return sizeStated ? " (\(order.size))" : ""
        case "ship":
            guard shippingStated else { return "" }
            return " " + rng.pick(Self.shipSentences[order.shipping]!)
        case "ship_inline":
            guard shippingStated else { return "" }
            return " " + rng.pick(Self.shipInline[order.shipping]!)
        case "ship_lead":
            guard shippingStated else { return "" }
            return rng.pick(Self.shipLead[order.shipping]!)
        case "thanks": return rng.pick(["", " Thanks!", " Thank you.", " Cheers!", " Many thanks.", " Thanks a lot."])
        default: preconditionFailure("unknown orders template slot {\(slot)}")
        }
    }

    static let shipSentences: [String: [String]] = [
        "standard": ["Standard shipping is fine.", "Standard delivery, please.", "Regular post is fine.", "No rush, standard shipping."],
        "express": ["Express, please.", "Express shipping, please.", "I need it quickly, so express please.", "Please use express delivery."],
        "overnight": ["Overnight delivery, please.", "Please send it overnight.", "Overnight shipping if you can.", "I need it tomorrow, so overnight please."],
    ]
    static let shipInline: [String: [String]] = [
        "standard": ["with standard delivery", "by standard post", "by regular post"],
        "express": ["by express delivery", "with express shipping", "express"],
        "overnight": ["overnight", "by overnight delivery", "with overnight shipping"],
    ]
    static let shipLead: [String: [String]] = [
        "standard": ["Standard delivery: ", "Standard shipping. "],
        "express": ["Express delivery: ", "Express shipping. "],
        "overnight": ["Overnight delivery: ", "Overnight shipping. "],
    ]
}
