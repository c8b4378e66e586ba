/// Word lists shared by the generators, so the general corpus (what the bundled base model is pretrained on)
/// knows every item, colour, city, size and bike part the domain datasets use. Arrays only: their order is
/// part of the output, so adding a word changes the committed files (regenerate them and say so).
public enum Vocabulary {
    /// A countable noun with its plural.
    public struct Noun: Sendable, Equatable {
        public var singular: String
        public var plural: String
        init(_ singular: String, _ plural: String? = nil) {
            self.singular = singular
            self.plural = plural ?? singular + "s"
        }
    }

    /// The 25 items a customer can order (orders dataset); also objects in the general corpus.
    public static let items: [Noun] = [
        Noun("mug"), Noun("notebook"), Noun("backpack"), Noun("lamp"), Noun("umbrella"),
        Noun("scarf", "scarves"), Noun("hat"), Noun("water bottle"), Noun("cushion"), Noun("towel"),
        Noun("candle"), Noun("blanket"), Noun("jacket"), Noun("pen"), Noun("plate"),
        Noun("bowl"), Noun("vase"), Noun("clock"), Noun("wallet"), Noun("teapot"),
        Noun("poster"), Noun("apron"), Noun("kettle"), Noun("basket"), Noun("tote bag"),
    ]

    public static let colors = ["red", "blue", "green", "black", "white", "yellow", "grey", "pink", "purple", "orange"]

    public static let cities = [
        "Leeds", "York", "Bristol", "Manchester", "Glasgow", "Cardiff", "Belfast", "Edinburgh", "Liverpool", "Oxford",
        "Cambridge", "Brighton", "Norwich", "Bath", "Exeter", "Plymouth", "Aberdeen", "Sheffield", "Nottingham", "London",
    ]

    public static let sizes = ["small", "medium", "large"]

    public static let days = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]

    public static let months = ["January", "February", "March", "April", "May", "June", "July", "August",
                                "September", "October", "November", "December"]

    /// One to twelve as words; index 0 is "zero" so `numberWords[n]` is n.
    public static let numberWords = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
                                     "ten", "eleven", "twelve"]

    /// Bike parts, each with whether it is grammatically plural ("the pedals were").
    public static let bikeParts: [(name: String, plural: Bool)] = [
        ("chain", false), ("saddle", false), ("brake pads", true), ("bell", false), ("front light", false),
        ("back light", false), ("rear tyre", false), ("front tyre", false), ("inner tube", false), ("pedals", true),
        ("handlebars", true), ("gears", true), ("kickstand", false), ("mudguards", true), ("spokes", true),
        ("brake cable", false), ("bottle cage", false), ("chain guard", false),
    ]

    /// First names with their pronoun set (true: she/her, false: he/him).
    public static let people: [(name: String, she: Bool)] = [
        ("Anna", true), ("Ben", false), ("Clara", true), ("David", false), ("Ella", true), ("Finn", false),
        ("Grace", true), ("Harry", false), ("Isla", true), ("Jack", false), ("Katie", true), ("Leo", false),
        ("Maya", true), ("Noah", false), ("Olivia", true), ("Oscar", false), ("Priya", true), ("Ravi", false),
        ("Rosa", true), ("Sam", false), ("Tara", true), ("Tom", false), ("Uma", true), ("Victor", false),
        ("Wendy", true), ("Will", false), ("Yasmin", true), ("Zack", false), ("Nora", true), ("Omar", false),
        ("Lucy", true), ("Amir", false), ("Hannah", true), ("Joe", false), ("Mei", true), ("Daniel", false),
    ]

    /// "a" or "an" for the word that follows (the lists above need nothing subtler than the first letter).
    public static func article(before word: String) -> String {
        guard let first = word.first else { return "a" }
        return "aeiouAEIOU".contains(first) ? "an" : "a"
    }

    /// "three" or "3" style for n in 1...12.
    public static func number(_ n: Int, asWord: Bool) -> String { asWord ? numberWords[n] : String(n) }

    public static func capitalized(_ s: String) -> String {
        guard let first = s.first else { return s }
        return first.uppercased() + s.dropFirst()
    }
}
