import Testing
import Tokenization
@testable import DatasetGenerators

@Suite struct OrdersDatasetTests {
    static let generated = OrdersDataset.generate()

    @Test func sizesAreAsStated() {
        #expect(Self.generated.map(\.examples.count) == [2000, 200, 200])
        #expect(OrdersDataset.templates.count >= 25 + OrdersDataset.heldOutTemplateCount)
    }

    /// The completion is JSON with the fixed key order and holds the generator's own order value.
    @Test func completionsAreTheOrderAsJSONInTheFixedKeyOrder() throws {
        for (split, examples) in Self.generated {
            for e in examples {
                let v = try parse(String(e.completion.dropFirst()))
                #expect(e.completion.first == " ")
                #expect(v.keys == ["item", "quantity", "size", "color", "city", "shipping"], "\(split)")
                let o = e.order
                #expect(v["item"] == .string(o.item) && v["quantity"] == .integer(o.quantity) && v["size"] == .string(o.size)
                        && v["color"] == .string(o.color) && v["city"] == .string(o.city) && v["shipping"] == .string(o.shipping),
                        "\(e.completion) vs \(o)")
                #expect(e.prompt == "Extract the order as JSON.\nMessage: \(e.message)\nJSON:")
            }
        }
    }

    /// The message states exactly the order's colour, city, item, quantity, and size / shipping when stated
    /// (otherwise none, and the defaults apply).
    @Test func messagesAgreeWithTheirOrders() {
        let sizeWords = Set(Vocabulary.sizes)
        let shipWords = ["express": "express", "overnight": "overnight", "standard": "standard", "regular": "standard"]
        for (_, examples) in Self.generated {
            for e in examples {
                let o = e.order
                let w = words(e.message)
                let lower = w.map { $0.lowercased() }
                #expect(lower.filter { Vocabulary.colors.contains($0) } == [o.color], "\(e.message)")
                #expect(w.filter { Vocabulary.cities.contains($0) } == [o.city], "\(e.message)")
                let noun = Vocabulary.items.first { $0.singular == o.item }!
                let text = " " + lower.joined(separator: " ") + " "
                #expect(text.contains(" \(noun.singular) ") || text.contains(" \(noun.plural) "), "\(e.message)")
                let q = o.quantity
                let quantityForms = [String(q), Vocabulary.numberWords[q]] + (q == 1 ? ["a", "an"] : [])
                let numbers = lower.filter { Int($0) != nil || Vocabulary.numberWords.contains($0) }
                #expect(numbers.count <= 1 && lower.contains { quantityForms.contains($0) }, "\(e.message)")
                if let n = numbers.first { #expect(quantityForms.contains(n), "\(e.message)") }
                let sizes = lower.filter { sizeWords.contains($0) }
                #expect(sizes == (e.sizeStated ? [o.size] : []), "\(e.message)")
                if !e.sizeStated { #expect(o.size == OrdersDataset.defaultSize) }
                let ships = Set(lower.compactMap { shipWords[$0] })
                #expect(ships == (e.shippingStated ? [o.shipping] : []), "\(e.message)")
                if !e.shippingStated { #expect(o.shipping == OrdersDataset.defaultShipping) }
            }
        }
    }

    @Test func testPairsAndTemplatesAreHeldOut() {
        let items = Vocabulary.items.map(\.singular), cities = Vocabulary.cities
        var heldOutPairs = 0
        for i in items.indices { for c in cities.indices where OrdersDataset.isHeldOut(item: i, city: c) { heldOutPairs += 1 } }
        #expect(heldOutPairs == 50)
        var trainMessages = Set<String>()
        var heldOutTemplatesInTest = 0
        for (split, examples) in Self.generated {
            for e in examples {
                let pairHeldOut = OrdersDataset.isHeldOut(item: items.firstIndex(of: e.order.item)!,
                                                          city: cities.firstIndex(of: e.order.city)!)
                let templateHeldOut = OrdersDataset.isHeldOutTemplate(e.template)
                if split == .test {
                    #expect(pairHeldOut, "test order \(e.order) uses a train pair")
                    #expect(!trainMessages.contains(e.message))
                    if templateHeldOut { heldOutTemplatesInTest += 1 }
                } else {
                    #expect(!pairHeldOut && !templateHeldOut, "\(split) uses held-out \(e.order) / template \(e.template)")
                    if split == .train { trainMessages.insert(e.message) }
                }
            }
        }
        #expect(heldOutTemplatesInTest > 60 && heldOutTemplatesInTest < 140)
    }
}
