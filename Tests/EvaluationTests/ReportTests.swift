import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import Evaluation

/// report.json round trips and names bad keys; report.html is well-formed XML with the expected charts and escapes
/// every user string; report.md carries every sentence and escapes table cells; metrics.jsonl curves are read with
/// file:line errors. The inputs are `ReportSample` reports; the expectations are computed from their data.
@Suite struct ReportTests {
    // MARK: - Helpers

    func tempDir() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("report-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    func jsonObject(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    /// Field names of a value as Swift stores them: what synthesized Codable encodes.
    func fieldNames(_ value: Any) -> Set<String> {
        Set(Mirror(reflecting: value).children.compactMap(\.label))
    }

    /// A small DOM from XMLParser, which proves well-formedness as a side effect.
    final class Node {
        let name: String
        let attributes: [String: String]
        var children: [Node] = []
        var text = ""
        init(_ name: String, _ attributes: [String: String]) { self.name = name; self.attributes = attributes }
        func all(_ name: String) -> [Node] { (self.name == name ? [self] : []) + children.flatMap { $0.all(name) } }
        var allText: String { text + children.map(\.allText).joined() }
    }

    final class DOMBuilder: NSObject, XMLParserDelegate {
        var stack: [Node] = [Node("#document", [:])]
        var error: Error?
        func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName qName: String?,
                    attributes attributeDict: [String: String] = [:]) {
            let node = Node(elementName, attributeDict)
            stack.last!.children.append(node)
            stack.append(node)
        }
        func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?) {
            stack.removeLast()
        }
        func parser(_ parser: XMLParser, foundCharacters string: String) {
            // Text goes into a text child so document order is kept for allText.
            let t = Node("#text", [:])
            t.text = string
            stack.last!.children.append(t)
        }
        func parser(_ parser: XMLParser, parseErrorOccurred parseError: Error) { error = parseError }
    }

    func parseHTML(_ html: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> Node {
        let builder = DOMBuilder()
        let parser = XMLParser(data: Data(html.utf8))
        parser.delegate = builder
        let ok = parser.parse()
        #expect(ok && builder.error == nil,
                "report.html is not well-formed XML: \(String(describing: builder.error ?? parser.parserError)) at line \(parser.lineNumber), column \(parser.columnNumber)",
                sourceLocation: sourceLocation)
        try #require(ok)
        return builder.stack[0]
    }

    func charts(_ dom: Node) -> [Node] { dom.all("svg") }

    /// Charts the page should have for `r`: loss and learning-rate curves with training, one metric chart with
    /// metrics, one loss-delta histogram per adapter.
    func expectedCharts(_ r: EvaluationReport) -> [String] {
        var kinds: [String] = []
        if r.training != nil { kinds += ["loss-curve", "learning-rate"] }
        if !r.metricNames.isEmpty { kinds.append("metrics") }
        kinds += Array(repeating: "loss-delta", count: r.models.count - 1)
        return kinds
    }

    // MARK: - report.json

    @Test func jsonRoundTripsThroughTheFile() throws {
        for adapters in [1, 2] {
            let report = ReportSample.make(adapters: adapters)
            let dir = try tempDir()
            let paths = try ReportWriter.write(report, to: dir + "/nested/report")
            #expect(paths.map { ($0 as NSString).lastPathComponent } == ["report.json", "report.md", "report.html"])
            let back = try ReportWriter.read(path: paths[0])
            #expect(back == report)
            // What `whittle report --from` does: the json alone renders the same files, byte for byte.
            #expect(try String(contentsOfFile: paths[1], encoding: .utf8) == ReportWriter.markdown(back))
            #expect(try String(contentsOfFile: paths[2], encoding: .utf8) == ReportWriter.html(back))
            #expect(try String(contentsOfFile: paths[0], encoding: .utf8) == ReportWriter.json(back))
            // No temporary files are left beside them.
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/nested/report").sorted()
                    == ["report.html", "report.json", "report.md"])
        }
    }

    @Test func jsonIsPrettySortedAndKeepsNonFiniteNumbers() throws {
        var report = ReportSample.make(training: true)
        report.training!.loss[10] = .nan
        report.training!.loss[11] = .infinity
        let text = try ReportWriter.json(report)
        #expect(text.hasSuffix("}\n"))
        #expect(text.contains("\n  \"comparisons\" : ["))
        let keys = text.split(separator: "\n").filter { $0.hasPrefix("  \"") }.map { $0.split(separator: "\"")[1] }
        #expect(keys == keys.sorted())
        let dir = try tempDir()
        try text.write(toFile: dir + "/report.json", atomically: true, encoding: .utf8)
        let back = try ReportWriter.read(path: dir + "/report.json")
        #expect(back.training!.loss[10].isNaN)
        #expect(back.training!.loss[11] == .infinity)
        // The diverged step is a gap in the curve, not a broken page.
        _ = try parseHTML(ReportWriter.html(back))
    }

    @Test func topLevelKeysAreTheSchemaFields() throws {
        let full = ReportSample.make(adapters: 2, training: true, forgetting: true)
        let fields = fieldNames(full)
        #expect(Set(try jsonObject(try ReportWriter.json(full)).keys) == fields)
        // Absent optionals are left out, not written as null.
        let bare = ReportSample.make(adapters: 1, training: false, forgetting: false)
        #expect(Set(try jsonObject(try ReportWriter.json(bare)).keys) == fields.subtracting(["training", "forgetting"]))
        // And the documented keys are exactly these (REPORT.md cannot drift from the type).
        #expect(try documentedKeys()["EvaluationReport"] == fields)
    }

    /// Every section of REPORT.md documents exactly the stored fields of its type.
    @Test func reportDocDocumentsEveryField() throws {
        let r = ReportSample.make(adapters: 1, training: true, forgetting: true)
        let instances: [String: Any] = [
            "EvaluationReport": r, "Provenance": r.provenance, "ModelEntry": r.models[0], "DataEntry": r.data,
            "ModelSummary": r.summary[0], "Comparison": r.comparisons[0], "ExampleResult": r.examples[0],
            "ExampleScore": r.examples[0].scores[0], "Forgetting": r.forgetting!, "SpeedEntry": r.speed[0],
            "TrainingCurves": r.training!,
        ]
        let documented = try documentedKeys()
        #expect(Set(documented.keys) == Set(instances.keys))
        for (type, value) in instances {
            #expect(documented[type] == fieldNames(value), "REPORT.md section \(type)")
        }
    }

    /// `## \`Type\` …` sections of REPORT.md and the backticked keys in the first column of their tables.
    func documentedKeys() throws -> [String: Set<String>] {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources/Evaluation/REPORT.md").path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var result: [String: Set<String>] = [:]
        var current: String?
        for line in text.split(separator: "\n") {
            if line.hasPrefix("## ") {
                let parts = line.split(separator: "`")
                current = line.hasPrefix("## `") && parts.count > 1 ? String(parts[1]) : nil
                if let c = current { result[c] = [] }
            } else if let c = current, line.hasPrefix("| `") {
                result[c]!.insert(String(line.split(separator: "`")[1]))
            }
        }
        return result
    }

    @Test func readingAnotherSchemaOrAMissingKeyIsAClearError() throws {
        let dir = try tempDir()
        let good = try jsonObject(try ReportWriter.json(ReportSample.make(adapters: 1)))
        func attempt(_ object: Any, _ name: String) throws -> ReportError? {
            let path = dir + "/" + name
            try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: path))
            do {
                _ = try ReportWriter.read(path: path)
                return nil
            } catch let e as ReportError {
                #expect(e.path == path)
                #expect(e.description.hasPrefix(path + ": "))
                return e
            }
        }
        var wrong = good
        wrong["schema"] = "whittle-eval-report/2"
        let e1 = try #require(try attempt(wrong, "wrong-schema.json"))
        #expect(e1.key == "schema" && e1.description.contains("whittle-eval-report/2") && e1.description.contains(EvaluationReport.currentSchema))

        var noSchema = good
        noSchema["schema"] = nil
        #expect(try attempt(noSchema, "no-schema.json")?.key == "schema")

        var missing = good
        missing["summary"] = nil
        let e3 = try #require(try attempt(missing, "missing.json"))
        #expect(e3.key == "summary" && e3.message == "missing")

        var nested = good
        var examples = nested["examples"] as! [[String: Any]]
        var scores = examples[3]["scores"] as! [[String: Any]]
        scores[1]["tokens"] = nil
        examples[3]["scores"] = scores
        nested["examples"] = examples
        #expect(try attempt(nested, "nested.json")?.key == "examples[3].scores[1].tokens")

        var mistyped = good
        var summary = mistyped["summary"] as! [[String: Any]]
        summary[0]["loss"] = "low"
        mistyped["summary"] = summary
        let e5 = try #require(try attempt(mistyped, "mistyped.json"))
        #expect(e5.key == "summary[0].loss")

        #expect(try attempt(["a", "b"], "array.json") != nil)
        #expect(throws: ReportError.self) { try ReportWriter.read(path: dir + "/absent.json") }
    }

    // MARK: - report.html

    @Test func htmlIsWellFormedWithOneChartPerExpectedPlot() throws {
        let cases: [EvaluationReport] = [
            ReportSample.make(adapters: 1, training: true),
            ReportSample.make(adapters: 1, training: false),
            ReportSample.make(adapters: 2, training: true),
            ReportSample.make(adapters: 2, training: false, forgetting: false),
            ReportSample.make(adapters: 0, training: false, forgetting: false),
            ReportSample.make(adapters: 1, training: true, metricNames: []),
        ]
        for r in cases {
            let html = ReportWriter.html(r)
            let dom = try parseHTML(html)
            let svgs = charts(dom)
            #expect(svgs.map { $0.attributes["data-chart"] ?? "?" } == expectedCharts(r),
                    "\(r.models.count) models, training \(r.training != nil), metrics \(r.metricNames)")
            // Every chart is labelled: a title, and text on both axes.
            for svg in svgs {
                #expect(!(svg.all("title").first?.allText.isEmpty ?? true))
                #expect(svg.all("text").count >= 4)
            }
            // Self-contained: nothing is fetched and nothing runs.
            #expect(dom.all("script").isEmpty && dom.all("link").isEmpty && dom.all("img").isEmpty)
            #expect(!html.replacingOccurrences(of: "http://www.w3.org/", with: "").contains("http"))
            // Every sentence and every model is on the page.
            let text = dom.allText
            for c in r.comparisons { #expect(text.contains(c.sentence)) }
            for s in r.forgetting?.sentences ?? [] { #expect(text.contains(s)) }
            for m in r.models { #expect(dom.all("tr").contains { $0.allText.contains(m.name) }) }
        }
    }

    @Test func histogramCountsEveryExampleOnce() throws {
        for adapters in [1, 2] {
            let r = ReportSample.make(adapters: adapters, examples: 31)
            let dom = try parseHTML(ReportWriter.html(r))
            let histograms = charts(dom).filter { $0.attributes["data-chart"] == "loss-delta" }
            #expect(histograms.count == adapters)
            for (k, h) in histograms.enumerated() {
                let bars = h.all("rect").filter { $0.attributes["class"] == "bar" }
                let counts = bars.compactMap { $0.attributes["data-count"].flatMap(Int.init) }
                #expect(counts.count == bars.count && !bars.isEmpty)
                #expect(counts.reduce(0, +) == r.examples.count)
                // Compare with the deltas computed here from the stored per-example sums.
                let deltas = r.examples.map { $0.scores[k + 1].lossSum / Double($0.scores[k + 1].tokens)
                                              - $0.scores[0].lossSum / Double($0.scores[0].tokens) }
                let h2 = ReportFacts.histogram(deltas, lo: nil, hi: nil)
                #expect(h2.counts.reduce(0, +) == deltas.count)
                #expect(h2.edges.contains(0), "zero is a bin edge")
                #expect(h.all("line").contains { $0.attributes["class"] == "zero" })
            }
        }
    }

    @Test func histogramBinsPutEachValueInItsBin() {
        let values = [-0.31, -0.3, -0.05, 0, 0, 0.02, 0.3, 0.7]
        let h = ReportFacts.histogram(values)
        #expect(h.counts.reduce(0, +) == values.count)
        for v in values {
            let i = h.edges.indices.dropLast().first { h.edges[$0] <= v && v < h.edges[$0 + 1] } ?? h.edges.count - 2
            #expect(h.counts[i] > 0, "\(v) in bin \(i) of \(h.edges)")
        }
        #expect(ReportFacts.histogram([]).counts.reduce(0, +) == 0)
        #expect(ReportFacts.histogram([0, 0, 0]).counts.reduce(0, +) == 3)
    }

    @Test func userTextIsEscapedEverywhere() throws {
        var r = ReportSample.make(adapters: 1, nastyText: true)
        r.models[1].name = "ad<b>apter</b> & \"co\" 'x' | y"
        r.data.path = "Datasets/<script>/test.jsonl"
        r.provenance.command = "whittle eval --data '</script><script>alert(1)</script>'"
        let html = ReportWriter.html(r)
        let dom = try parseHTML(html)
        #expect(dom.all("script").isEmpty)
        #expect(dom.all("b").isEmpty && dom.all("i").isEmpty)
        #expect(!html.contains("<script") && !html.contains("<b>") && !html.contains("<i>"))
        let text = dom.allText
        #expect(text.contains(r.examples[1].prompt.components(separatedBy: "\n").last!))
        #expect(text.contains("<script>alert(1)</script> | && </pre>"))
        #expect(text.contains(r.models[1].name))
        #expect(text.contains("Datasets/<script>/test.jsonl"))
        // Whitespace inside samples is kept: the tab and the newline of the reference survive.
        #expect(dom.all("pre").contains { $0.allText == r.examples[1].reference })
        // Only the five XML entities appear.
        let entities = html.matches(of: /&[a-zA-Z#0-9]+;/).map { String($0.output) }
        #expect(Set(entities).isSubset(of: ["&amp;", "&lt;", "&gt;", "&quot;", "&#39;"]))
    }

    @Test func longTextIsTruncatedWithTheWholeTextKept() throws {
        let r = ReportSample.make(adapters: 1)
        let long = r.examples[4].prompt
        #expect(long.count > 600)
        let dom = try parseHTML(ReportWriter.html(r))
        let article = try #require(dom.all("article").first { $0.attributes["id"] == "example-4" })
        let details = article.all("details")
        #expect(details.contains { $0.all("pre").contains { $0.allText == long } })
        #expect(article.all("pre").first!.allText.count < long.count)
    }

    @Test func hashesAreShortenedWithTheFullValueInATitle() throws {
        let r = ReportSample.make(adapters: 1)
        let dom = try parseHTML(ReportWriter.html(r))
        for hash in [r.provenance.baseModelSHA256, r.provenance.tokenizerSHA256, r.data.sha256, r.models[1].adapterSHA256!] {
            let codes = dom.all("code").filter { $0.attributes["title"] == hash }
            #expect(!codes.isEmpty, "\(hash)")
            #expect(codes.allSatisfy { $0.allText.count < hash.count })
        }
    }

    // MARK: - report.md

    /// Table rows of a Markdown text with the number of unescaped pipes in each.
    func tableRows(_ md: String) -> [(line: String, pipes: Int)] {
        md.split(separator: "\n").filter { $0.hasPrefix("|") }.map { line in
            var pipes = 0, escaped = false
            for c in line {
                if escaped { escaped = false; continue }
                if c == "\\" { escaped = true } else if c == "|" { pipes += 1 }
            }
            return (String(line), pipes)
        }
    }

    @Test func markdownHasEverySentenceAndARowPerModel() throws {
        for adapters in [0, 1, 2] {
            let r = ReportSample.make(adapters: adapters)
            let md = ReportWriter.markdown(r)
            for c in r.comparisons { #expect(md.contains(c.sentence), "\(c.sentence)") }
            for s in r.forgetting?.sentences ?? [] { #expect(md.contains(s)) }
            let summary = try #require(md.components(separatedBy: "## Summary").dropFirst().first?.components(separatedBy: "\n## ").first)
            for m in r.models {
                #expect(summary.split(separator: "\n").filter { $0.hasPrefix("| \(m.name) | \(m.kind) |") }.count == 1, "\(m.name)")
            }
            // Loss sentences come first for each model.
            if let first = r.comparisons.first(where: { $0.metric == "loss" }), let metric = r.comparisons.first(where: { $0.metric != "loss" && $0.model == first.model }) {
                #expect(md.range(of: first.sentence)!.lowerBound < md.range(of: metric.sentence)!.lowerBound)
            }
        }
    }

    @Test func markdownTableCellsEscapePipesAndNewlines() throws {
        var r = ReportSample.make(adapters: 1, nastyText: true)
        r.models[1].name = "adapter|v2\nsecond line"
        r.models[1].path = "runs/a|b"
        let md = ReportWriter.markdown(r)
        #expect(md.contains("adapter\\|v2<br>second line"))
        // Every table keeps its column count: no row has more unescaped pipes than its header.
        var header: Int?
        var previousWasTable = false
        for line in md.split(separator: "\n", omittingEmptySubsequences: false) {
            let isTable = line.hasPrefix("|")
            if isTable {
                let pipes = tableRows(String(line))[0].pipes
                if !previousWasTable { header = pipes } else { #expect(pipes == header, "\(line)") }
            }
            previousWasTable = isTable
        }
        // The nasty sample texts are in fenced blocks (literal); outside them no user HTML survives.
        #expect(md.contains("```text\n<script>alert(1)</script> | && </pre>\n```"))
        let outside = outsideFences(md)
        #expect(!outside.contains("<b>") && !outside.contains("<script") && !outside.contains("<i>"))
    }

    /// The Markdown with fenced code blocks removed (a fence closes with a line of at least as many backticks).
    func outsideFences(_ md: String) -> String {
        var out: [Substring] = []
        var fence: Int?
        for line in md.split(separator: "\n", omittingEmptySubsequences: false) {
            let ticks = line.prefix { $0 == "`" }.count
            if let open = fence {
                if ticks >= open && line.dropFirst(ticks).allSatisfy(\.isWhitespace) { fence = nil }
            } else if ticks >= 3 {
                fence = ticks
            } else {
                out.append(line)
            }
        }
        return out.joined(separator: "\n")
    }

    // MARK: - Training curves

    @Test func trainingCurvesAreReadFromMetricsJSONL() throws {
        let dir = try tempDir()
        let lines = [
            #"{"step":0,"valid_loss":7.24,"valid_ppl":1404.8,"elapsed_s":0.0}"#,
            #"{"step":1,"loss":7.27,"lr":0.0,"grad_norm":20.9,"tokens":2048,"supervised_tokens":900,"tokens_per_s":812.5,"epoch":0.01,"elapsed_s":2.5}"#,
            #"{"step":2,"loss":6.5,"lr":1e-4,"grad_norm":12.0,"tokens":2048}"#,
            "",
            #"{"step":3,"loss":null,"lr":2e-4}"#,
            #"{"step":3,"event":"checkpoint"}"#,
            #"{"step":4,"loss":5,"lr":2e-4}"#,
            #"{"step":4,"valid_loss":5.9,"valid_ppl":365.0,"elapsed_s":9.1}"#,
        ]
        try (lines.joined(separator: "\n") + "\n").write(toFile: dir + "/metrics.jsonl", atomically: true, encoding: .utf8)
        let t = try TrainingCurvesReader.read(runFolder: dir)
        #expect(t.runFolder == dir)
        #expect(t.steps == [1, 2, 3, 4])
        #expect(t.loss[0] == 7.27 && t.loss[1] == 6.5 && t.loss[2].isNaN && t.loss[3] == 5)
        #expect(t.learningRate == [0, 1e-4, 2e-4, 2e-4])
        #expect(t.validSteps == [0, 4])
        #expect(t.validLoss == [7.24, 5.9])
    }

    @Test func aMalformedMetricsLineNamesFileAndLine() throws {
        let cases: [(String, String?)] = [
            (#"{"step":2,"loss":6.5,"lr":1e-4"#, nil),
            (#"[1, 2]"#, nil),
            (#"{"step":"two","loss":6.5,"lr":1e-4}"#, "step"),
            (#"{"loss":6.5,"lr":1e-4}"#, "step"),
            (#"{"step":2,"loss":"high","lr":1e-4}"#, "loss"),
            (#"{"step":2,"loss":6.5}"#, "lr"),
            (#"{"step":-1,"valid_loss":6.5}"#, "step"),
        ]
        for (bad, key) in cases {
            let dir = try tempDir()
            let text = #"{"step":0,"valid_loss":7.24}"# + "\n" + #"{"step":1,"loss":7.27,"lr":0.0}"# + "\n" + bad + "\n"
            try text.write(toFile: dir + "/metrics.jsonl", atomically: true, encoding: .utf8)
            let error = try #require(throws: ReportError.self) { try TrainingCurvesReader.read(runFolder: dir) }
            #expect(error.path == dir + "/metrics.jsonl:3", "\(bad): \(error)")
            #expect(error.key == (key ?? ""), "\(bad): \(error)")
        }
        #expect(throws: ReportError.self) { try TrainingCurvesReader.read(runFolder: try tempDir()) }
    }

    // MARK: - Numbers

    @Test func numbersReadTheSameInBothReports() {
        #expect(ReportNumber.signed(-0.4123, 3) == "−0.412")
        #expect(ReportNumber.signed(0.4123, 3) == "+0.412")
        #expect(ReportNumber.signed(-0.0001, 3) == "0.000")
        #expect(ReportNumber.points(0.4125) == "41.3" || ReportNumber.points(0.4125) == "41.2")
        #expect(ReportNumber.fixed(.nan, 2) == "n/a")
        #expect(ReportNumber.count(1_234_567) == "1,234,567")
        #expect(ReportNumber.tick(2e-4, step: 5e-5) == "2.0e−4")
        #expect(ReportNumber.tick(0.25, step: 0.05) == "0.25")
        #expect(ReportFacts.ticks(1.43, 2.61).values.first! <= 1.43)
    }

    // MARK: - A look at the page

    /// Writes the sample reports to $WHITTLE_REPORT_PREVIEW (when set) for a look in a browser.
    @Test func previewWhenAsked() throws {
        guard let dir = ProcessInfo.processInfo.environment["WHITTLE_REPORT_PREVIEW"] else { return }
        _ = try ReportWriter.write(ReportSample.make(adapters: 1), to: dir + "/one")
        _ = try ReportWriter.write(ReportSample.make(adapters: 2), to: dir + "/two")
        _ = try ReportWriter.write(ReportSample.make(adapters: 0, training: false, forgetting: false), to: dir + "/base-only")
    }
}
