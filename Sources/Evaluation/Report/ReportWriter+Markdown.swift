import Foundation

// MARK: - report.md

extension ReportWriter {
    /// The report as GitHub Markdown: the same sentences and tables as report.html, without charts. User text in
    /// table cells is escaped (pipes, newlines, Markdown and HTML characters); longer texts are fenced code blocks.
    public static func markdown(_ report: EvaluationReport) -> String {
        MarkdownReport(report).render()
    }
}

struct MarkdownReport {
    let r: EvaluationReport
    init(_ r: EvaluationReport) { self.r = r }

    typealias N = ReportNumber

    func cell(_ s: String) -> String { ReportEscape.markdownCell(s) }
    func code(_ s: String) -> String { ReportEscape.markdownCode(s) }

    func table(_ header: [String], align: [Bool], _ rows: [[String]]) -> String {
        var s = "| " + header.joined(separator: " | ") + " |\n|"
        for right in align { s += right ? " ---: |" : " --- |" }
        s += "\n"
        for row in rows { s += "| " + row.joined(separator: " | ") + " |\n" }
        return s
    }

    func render() -> String {
        var parts: [String] = []
        parts.append(header())
        parts.append(headline())
        parts.append(summary())
        if let t = training() { parts.append(t) }
        if let s = samples() { parts.append(s) }
        if let b = bestAndWorst() { parts.append(b) }
        if let f = forgetting() { parts.append(f) }
        if let s = speed() { parts.append(s) }
        parts.append(provenance())
        parts.append("_Rendered by whittle \(cell(r.provenance.whittleVersion)) from report.json (schema \(code(r.schema))); "
                     + "`whittle report --from report.json --out DIR` renders it again. Charts are in report.html._\n")
        return parts.joined(separator: "\n")
    }

    var title: String { HTMLReport(r).title }

    func header() -> String {
        "# \(cell(title))\n\n\(N.count(r.data.examples)) example\(r.data.examples == 1 ? "" : "s") from \(code(r.data.path)) "
            + "(\(cell(r.data.format))) · \(cell(r.createdAt))\n"
    }

    func headline() -> String {
        var s = "## Headline\n\n"
        let comparisons = ReportFacts.orderedComparisons(r)
        for c in comparisons { s += "- **\(HTMLReport.verdict(c).word):** \(cell(c.sentence))\n" }
        for sentence in r.forgetting?.sentences ?? [] { s += "- **general text:** \(cell(sentence))\n" }
        if comparisons.isEmpty && (r.forgetting?.sentences.isEmpty ?? true) { s += "One model only: nothing to compare against.\n" }
        return s
    }

    func summary() -> String {
        var header = ["model", "kind", "loss (nats/token)", "perplexity"]
        header += r.metricNames.map { "\(cell(ReportName.metric($0))) (points /100)" }
        header.append("supervised tokens")
        var rows: [[String]] = []
        for (i, model) in r.models.enumerated() {
            guard r.summary.indices.contains(i) else {
                rows.append([cell(model.name), cell(model.kind)] + Array(repeating: "–", count: 3 + r.metricNames.count))
                continue
            }
            let sm = r.summary[i]
            var row = [cell(model.name), cell(model.kind), N.fixed(sm.loss, 3), N.perplexity(sm.perplexity)]
            row += r.metricNames.map { sm.metrics[$0].map { N.points($0) } ?? "–" }
            row.append(N.count(sm.supervisedTokens))
            rows.append(row)
        }
        var s = "## Summary\n\n" + table(header, align: [false, false] + Array(repeating: true, count: header.count - 2), rows)
        let ordered = ReportFacts.orderedComparisons(r)
        if let first = ordered.first {
            let conf = N.fixed(first.confidence * 100, 0) + "%"
            s += "\n### Difference vs \(cell(ReportFacts.modelName(r, 0)))\n\n"
            var drows: [[String]] = []
            for c in ordered {
                let points = c.metric != "loss"
                let f: (Double) -> String = points ? { N.signedPoints($0) } : { N.signed($0, 3) }
                drows.append([cell(ReportFacts.modelName(r, c.model)), cell(ReportName.metric(c.metric)),
                              f(c.difference) + (points ? " points" : " nats/token"), "\(f(c.ciLow)) to \(f(c.ciHigh))",
                              HTMLReport.verdict(c).word])
            }
            s += table(["model", "metric", "difference", "\(conf) CI", "verdict"], align: [false, false, true, true, false], drows)
            s += "\nDifference: mean paired difference (model − \(cell(ReportFacts.modelName(r, 0)))) over the same examples; "
            s += "loss lower is better, metrics higher is better. CI: percentile bootstrap over examples "
            s += "(\(N.count(first.resamples)) resamples); \"no clear difference\" means the interval includes 0.\n"
        }
        for m in r.models.indices.dropFirst() {
            let d = ReportFacts.lossDeltas(r, model: m)
            if let sum = ReportFacts.deltaSummary(d.values) {
                s += "\nPer-example loss, \(cell(ReportFacts.modelName(r, m))) − \(cell(ReportFacts.modelName(r, 0))): "
                s += "\(sum.improved) of \(sum.count) examples better, \(sum.worsened) worse, median Δ \(N.signed(sum.median, 3)) nats/token"
                s += d.leftOut > 0 ? " (\(d.leftOut) without supervised tokens left out).\n" : ".\n"
            }
        }
        return s
    }

    func training() -> String? {
        guard let t = r.training else { return nil }
        var s = "## Training\n\nRun folder \(code(t.runFolder)): \(N.count(t.steps.count)) logged updates"
        if let first = t.loss.first, let last = t.loss.last {
            s += ", training loss \(N.fixed(first, 3)) → \(N.fixed(last, 3)) nats/token"
        }
        if let best = zip(t.validSteps, t.validLoss).filter({ $0.1.isFinite }).min(by: { $0.1 < $1.1 }) {
            s += "; lowest validation loss \(N.fixed(best.1, 3)) at step \(best.0)"
            if let v0 = t.validLoss.first { s += " (\(N.fixed(v0, 3)) at step \(t.validSteps[0]))" }
        }
        if let peak = t.learningRate.max() { s += "; peak learning rate \(N.tick(peak, step: peak / 100))" }
        return s + ". Curves are charted in report.html.\n"
    }

    /// A text under a bold label: fenced; when long, the head first and the whole under <details>.
    func textBlock(_ label: String, _ text: String?, fromEnd: Bool = false) -> String {
        guard let text else { return "**\(label):** _(not generated)_\n" }
        if text.isEmpty { return "**\(label):** _(empty)_\n" }
        guard let head = fromEnd ? ReportTruncate.tail(text) : ReportTruncate.head(text) else { return "**\(label):**\n\n\(ReportEscape.markdownFence(text))\n" }
        return "**\(label):**\n\n\(ReportEscape.markdownFence(head))\n\n<details><summary>show all \(N.count(text.count)) characters</summary>\n\n"
            + ReportEscape.markdownFence(text) + "\n\n</details>\n"
    }

    func scoreRows(_ e: EvaluationReport.ExampleResult) -> String {
        var header = ["model", "loss (nats/token)", "Δ loss"]
        header += r.metricNames.map { cell(ReportName.metric($0)) }
        var rows: [[String]] = []
        for (m, model) in r.models.enumerated() {
            guard e.scores.indices.contains(m) else { rows.append([cell(model.name)] + Array(repeating: "–", count: header.count - 1)); continue }
            let sc = e.scores[m]
            var row = [cell(model.name), sc.tokens > 0 ? N.fixed(sc.meanLoss, 3) : "–", ReportFacts.lossDelta(e, model: m).map { N.signed($0, 3) } ?? ""]
            row += r.metricNames.map { sc.metrics[$0].map { N.examplePoints($0) } ?? "–" }
            rows.append(row)
        }
        return table(header, align: [false] + Array(repeating: true, count: header.count - 1), rows)
    }

    func example(_ index: Int, heading: String) -> String {
        guard r.examples.indices.contains(index) else { return "Example index \(index) is not in this report.\n" }
        let e = r.examples[index]
        var s = "### \(heading) \(code(e.id))\n\n"
        s += textBlock("Prompt", e.prompt, fromEnd: true) + "\n" + textBlock("Reference", e.reference) + "\n"
        for (m, model) in r.models.enumerated() {
            s += textBlock("\(cell(model.name)) output", e.scores.indices.contains(m) ? e.scores[m].output : nil) + "\n"
        }
        return s + scoreRows(e)
    }

    func samples() -> String? {
        guard !r.samples.isEmpty else { return nil }
        var s = "## Samples\n\nPrompt as the model saw it, reference, each model's greedy output; loss is the example's mean "
        s += "loss per supervised token, Δ against \(cell(ReportFacts.modelName(r, 0))), metrics in points out of 100.\n"
        for (k, i) in r.samples.enumerated() { s += "\n" + example(i, heading: "Sample \(k + 1) ·") }
        return s
    }

    func bestAndWorst() -> String? {
        guard r.models.count > 1, !(r.best.isEmpty && r.worst.isEmpty) else { return nil }
        let name = ReportFacts.modelName(r, 1), base = ReportFacts.modelName(r, 0)
        var s = "## Largest changes\n\nWhere \(cell(name))'s mean loss per token moved most against \(cell(base)) "
        s += "(Δ in nats/token, negative is better). Full texts are under each table.\n"
        for (label, list) in HTMLReport.changeHeadings(r) where !list.isEmpty {
            var rows: [[String]] = []
            var details = ""
            for i in list {
                guard r.examples.indices.contains(i) else { rows.append(["index \(i) not in report", "", "", "", "", ""]); continue }
                let e = r.examples[i]
                let loss = { (m: Int) in e.scores.indices.contains(m) && e.scores[m].tokens > 0 ? N.fixed(e.scores[m].meanLoss, 3) : "–" }
                let output = e.scores.indices.contains(1) ? e.scores[1].output : nil
                let short = { (t: String) in self.cell(ReportTruncate.head(t, characters: 80, lines: 2) ?? t) }
                let prompt = cell(ReportTruncate.tail(e.prompt, characters: 120, lines: 3) ?? e.prompt)
                rows.append([code(e.id), ReportFacts.lossDelta(e, model: 1).map { N.signed($0, 3) } ?? "–", loss(0), loss(1),
                             prompt, short(e.reference), output.map(short) ?? "_(not generated)_"])
                details += "\n<details><summary>\(ReportEscape.html(e.id))</summary>\n\n" + textBlock("Prompt", e.prompt, fromEnd: true) + "\n"
                    + textBlock("Reference", e.reference) + "\n"
                for (m, model) in r.models.enumerated() {
                    details += textBlock("\(cell(model.name)) output", e.scores.indices.contains(m) ? e.scores[m].output : nil) + "\n"
                }
                details += "</details>\n"
            }
            s += "\n### \(label)\n\n" + table(["example", "Δ loss", cell(base), cell(name), "prompt", "reference", "\(cell(name)) output"],
                                               align: [false, true, true, true, false, false, false], rows) + details
        }
        return s
    }

    func forgetting() -> String? {
        guard let f = r.forgetting else { return nil }
        var s = "## Forgetting check\n\n"
        for sentence in f.sentences { s += cell(sentence) + "\n\n" }
        var rows: [[String]] = []
        for (m, loss) in f.loss.enumerated() {
            rows.append([cell(ReportFacts.modelName(r, m)), N.fixed(loss, 3), N.perplexity(Foundation.exp(loss)),
                         m > 0 ? N.signed(loss - f.loss[0], 3) : ""])
        }
        s += table(["model", "loss on general text (nats/token)", "perplexity", "Δ vs \(cell(ReportFacts.modelName(r, 0)))"],
                   align: [false, true, true, true], rows)
        s += "\n\(N.count(f.texts)) texts, \(N.count(f.tokens)) tokens from \(code(f.path)) (SHA-256 \(code(f.sha256))).\n"
        return s
    }

    func speed() -> String? {
        guard !r.speed.isEmpty else { return nil }
        let rows = r.speed.enumerated().map { m, sp in
            [cell(ReportFacts.modelName(r, m)), N.count(sp.promptTokens), N.rate(sp.promptSeconds), N.rate(sp.promptTokensPerSecond),
             N.count(sp.generatedTokens), N.rate(sp.generationSeconds), N.rate(sp.generatedTokensPerSecond)]
        }
        return "## Speed\n\n" + table(["model", "prompt tokens", "seconds", "prompt tokens/s", "generated tokens", "seconds", "generated tokens/s"],
                                      align: [false, true, true, true, true, true, true], rows)
            + "\nPrompt tokens: tokens run through the model for scoring and prefill. Machine: \(cell(r.provenance.machine)).\n"
    }

    func provenance() -> String {
        let p = r.provenance
        var rows: [[String]] = [
            ["created", cell(r.createdAt)], ["whittle version", cell(p.whittleVersion)], ["machine", cell(p.machine)],
            ["command", code(p.command)],
        ]
        if let run = p.runFolder { rows.append(["run folder", code(run)]) }
        rows += [["base model SHA-256", code(p.baseModelSHA256)], ["tokenizer SHA-256", code(p.tokenizerSHA256)],
                 ["chat template SHA-256", p.templateSHA256.map(code) ?? "–"],
                 ["data", "\(code(r.data.path)) · \(cell(r.data.format)) · \(N.count(r.data.examples)) examples"],
                 ["data SHA-256", code(r.data.sha256)]]
        var s = "## Provenance\n\n" + table(["", ""], align: [false, false], rows)
        let mrows = r.models.enumerated().map { i, m in
            ["\(i)\(i == 0 ? " (baseline)" : "")", cell(m.name), cell(m.kind), code(m.path), m.adapterSHA256.map(code) ?? "",
             m.adapterScale.map { N.fixed($0, 4) } ?? ""]
        }
        s += "\n### Models\n\n" + table(["#", "name", "kind", "path", "adapter SHA-256", "LoRA scale"],
                                        align: [false, false, false, false, false, true], mrows)
        if let recipe = p.recipe {
            s += "\n<details><summary>resolved recipe</summary>\n\n\(ReportEscape.markdownFence(recipe, info: "yaml"))\n\n</details>\n"
        }
        return s
    }
}
