import Tensors

/// Fills `{slot}` placeholders in sentence templates. A record draws its characters, cities, day, colour,
/// item and so on once (so a story stays about the same person and place); a slot written `{*name}` draws
/// afresh at each use. `{^slot}` capitalises the filled word. Unknown slots are a programming error and stop
/// the generator (templates are code, not user input).
struct TemplateFiller {
    struct Person { var name: String; var she: Bool }

    var rng: RandomGenerator
    private(set) var person: Person
    private(set) var friend: Person
    private var city: String, city2: String
    private var day: String, day2: String
    private var month: String
    private var color: String, color2: String
    private var item: Vocabulary.Noun, item2: Vocabulary.Noun
    private var part: (name: String, plural: Bool)
    private var number: Int
    private var weather: String, vehicle: String
    private var time: String, time2: String

    init(rng: RandomGenerator) {
        self.rng = rng
        let people = self.rng.sample(Vocabulary.people, 2)
        person = Person(name: people[0].name, she: people[0].she)
        friend = Person(name: people[1].name, she: people[1].she)
        let cities = self.rng.sample(Vocabulary.cities, 2)
        city = cities[0]; city2 = cities[1]
        let d = self.rng.index(7)
        day = Vocabulary.days[d]; day2 = Vocabulary.days[(d + 1) % 7]
        month = self.rng.pick(Vocabulary.months)
        let colors = self.rng.sample(Vocabulary.colors, 2)
        color = colors[0]; color2 = colors[1]
        let items = self.rng.sample(Vocabulary.items, 2)
        item = items[0]; item2 = items[1]
        part = self.rng.pick(Vocabulary.bikeParts)
        number = self.rng.int(2, 12)
        weather = self.rng.pick(Self.lists["weather"]!)
        vehicle = self.rng.pick(["train", "bus", "coach"])
        time = ""; time2 = ""
        let hour = self.rng.int(6, 11)
        time = Self.clock(hour: hour, &self.rng)
        time2 = Self.clock(hour: hour + self.rng.int(1, 6), &self.rng)
    }

    /// A time of day in one of several spoken or written forms.
    static func clock(hour: Int, _ rng: inout RandomGenerator) -> String {
        let h12 = (hour - 1) % 12 + 1
        let word = Vocabulary.numberWords[h12]
        switch rng.index(6) {
        case 0: return "\(word) o'clock"
        case 1: return "half past \(word)"
        case 2: return "quarter past \(word)"
        case 3: return "quarter to \(Vocabulary.numberWords[h12 % 12 + 1])"
        case 4: return "\(h12):\(rng.pick(["00", "15", "30", "45"]))"
        default: return "\(h12):\(rng.pick(["05", "10", "20", "40", "50"]))"
        }
    }

    mutating func fill(_ template: String) -> String {
        var out = ""
        var i = template.startIndex
        while i < template.endIndex {
            let c = template[i]
            if c == "{", let close = template[i...].firstIndex(of: "}") {
                out += value(String(template[template.index(after: i)..<close]))
                i = template.index(after: close)
            } else {
                out.append(c)
                i = template.index(after: i)
            }
        }
        return out
    }

    private mutating func value(_ raw: String) -> String {
        if raw.hasPrefix("^") { return Vocabulary.capitalized(value(String(raw.dropFirst()))) }
        let fresh = raw.hasPrefix("*")
        let name = fresh ? String(raw.dropFirst()) : raw
        func pronoun(_ p: Person, _ she: String, _ he: String) -> String { p.she ? she : he }
        switch name {
        case "name": return person.name
        case "he": return pronoun(person, "she", "he")
        case "him": return pronoun(person, "her", "him")
        case "his": return pronoun(person, "her", "his")
        case "himself": return pronoun(person, "herself", "himself")
        case "friend": return friend.name
        case "fhe": return pronoun(friend, "she", "he")
        case "fhim": return pronoun(friend, "her", "him")
        case "fhis": return pronoun(friend, "her", "his")
        case "city": return fresh ? rng.pick(Vocabulary.cities) : city
        case "city2": return city2
        case "day": return fresh ? rng.pick(Vocabulary.days) : day
        case "day2": return day2
        case "month": return fresh ? rng.pick(Vocabulary.months) : month
        case "time": return fresh ? Self.clock(hour: rng.int(7, 20), &rng) : time
        case "time2": return time2
        case "color": return fresh ? rng.pick(Vocabulary.colors) : color
        case "color2": return color2
        case "item": return fresh ? rng.pick(Vocabulary.items).singular : item.singular
        case "items": return fresh ? rng.pick(Vocabulary.items).plural : item.plural
        case "item2": return item2.singular
        case "items2": return item2.plural
        case "a_item":
            let w = fresh ? rng.pick(Vocabulary.items).singular : item.singular
            return Vocabulary.article(before: w) + " " + w
        case "a_item2": return Vocabulary.article(before: item2.singular) + " " + item2.singular
        case "a_color_item":
            let c = fresh ? rng.pick(Vocabulary.colors) : color
            let w = fresh ? rng.pick(Vocabulary.items).singular : item.singular
            return Vocabulary.article(before: c) + " " + c + " " + w
        case "a_size_item":
            let s = rng.pick(Vocabulary.sizes)
            let w = fresh ? rng.pick(Vocabulary.items).singular : item.singular
            return "a " + s + " " + w
        case "num_items":
            let n = fresh ? rng.int(2, 12) : number
            return Vocabulary.numberWords[n] + " " + (fresh ? rng.pick(Vocabulary.items).plural : item.plural)
        case "num_color_items":
            let n = fresh ? rng.int(2, 12) : number
            return Vocabulary.numberWords[n] + " " + (fresh ? rng.pick(Vocabulary.colors) : color) + " "
                + (fresh ? rng.pick(Vocabulary.items).plural : item.plural)
        case "weather": return fresh ? rng.pick(Self.lists["weather"]!) : weather
        case "vehicle": return vehicle
        case "num": return Vocabulary.numberWords[fresh ? rng.int(2, 12) : number]
        case "numd": return String(fresh ? rng.int(2, 12) : number)
        case "small_num": return Vocabulary.numberWords[rng.int(2, 5)]
        case "size": return rng.pick(Vocabulary.sizes)
        case "part": return fresh ? rng.pick(Vocabulary.bikeParts).name : part.name
        case "part_was": return part.plural ? "were" : "was"
        case "part_is": return part.plural ? "are" : "is"
        case "part_it": return part.plural ? "them" : "it"
        case "part_needs": return part.plural ? "need" : "needs"
        default:
            if let list = Self.lists[name] { return rng.pick(list) }
            preconditionFailure("unknown template slot {\(raw)}")
        }
    }

    /// Slots that always draw afresh from a word list.
    static let lists: [String: [String]] = [
        "weather": ["sunny", "rainy", "windy", "cloudy", "foggy", "cold", "warm", "bright", "grey", "mild"],
        "food": ["soup", "toast", "pasta", "a sandwich", "rice and beans", "a salad", "porridge", "an omelette",
                 "fish and chips", "a baked potato", "vegetable curry", "pancakes", "a cheese roll", "noodles"],
        "drink": ["tea", "coffee", "orange juice", "hot chocolate", "water", "lemonade", "apple juice", "milk"],
        "shop": ["the bakery", "the market", "the corner shop", "the bookshop", "the hardware shop",
                 "the flower shop", "the post office", "the chemist", "the green grocer", "the gift shop",
                 "the charity shop", "the supermarket"],
        "place": ["the park", "the library", "the station", "the river", "the harbour", "the museum", "the café",
                  "the town square", "the beach", "the garden centre", "the swimming pool", "the old bridge"],
        "season": ["spring", "summer", "autumn", "winter"],
        "animal": ["a dog", "a cat", "a robin", "two ducks", "a squirrel", "a horse", "a fox", "some pigeons", "a goat"],
        "job": ["a teacher", "a nurse", "a baker", "a driver", "a gardener", "a librarian", "a painter", "a cook",
                "a postman", "a builder", "a shop assistant", "a student"],
        "feeling": ["happy", "tired", "pleased", "calm", "excited", "sleepy", "hungry", "cheerful", "proud"],
        "room": ["kitchen", "hallway", "bedroom", "living room", "spare room", "garden shed", "attic"],
        "hobby": ["painting", "reading", "knitting", "baking", "gardening", "swimming", "running", "chess",
                  "playing the piano", "birdwatching", "cycling", "fishing"],
        "tool": ["a spanner", "a screwdriver", "a pump", "a cloth", "a small brush", "some oil", "a pair of pliers"],
        "meal": ["breakfast", "lunch", "dinner", "supper"],
        "distance": ["two miles", "three miles", "five miles", "ten miles", "half a mile", "a mile"],
        "book": ["a book about birds", "a detective story", "a cookbook", "a map of the coast", "a book of poems",
                 "a history of bridges", "a travel guide"],
    ]
}
