import Foundation

// MARK: - report.html

extension ReportWriter {
    /// A self-contained page (inline CSS and SVG; no scripts, fonts or network) that is also well-formed XML:
    /// void elements self-closed, every attribute quoted, only the five XML entities. Every user string is escaped.
    public static func html(_ report: EvaluationReport) -> String {
        HTMLReport(report).render()
    }
}

struct HTMLReport {
    let r: EvaluationReport
    init(_ r: EvaluationReport) { self.r = r }

    typealias E = ReportEscape
    typealias N = ReportNumber

    func render() -> String {
        var s = """
        <!DOCTYPE html>
        <html xmlns="http://www.w3.org/1999/xhtml" lang="en">
        <head>
        <meta charset="utf-8"/>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <meta name="generator" content="whittle \(E.html(r.provenance.whittleVersion))"/>
        <title>\(E.html(title))</title>
        <style>\(Self.css)</style>
        </head>
        <body>
        <main>

        """
        s += header()
        s += headline()
        s += summary()
        s += charts()
        s += samples()
        s += bestAndWorst()
        s += forgetting()
        s += speed()
        s += provenance()
        s += """
        <footer>Rendered by whittle \(E.html(r.provenance.whittleVersion)) from report.json (schema \
        <code>\(E.html(r.schema))</code>). Every number on this page is stored in report.json or derived from its \
        per-example values; <code>whittle report --from report.json --out DIR</code> renders it again.</footer>
        </main>
        </body>
        </html>

        """
        return s
    }

    var title: String {
        let names = r.models.map(\.name)
        guard let base = names.first else { return "Evaluation report" }
        return names.count > 1 ? "Evaluation: \(names.dropFirst().joined(separator: ", ")) vs \(base)" : "Evaluation: \(base)"
    }

    // MARK: - Header and headline

    func header() -> String {
        """
        <header>
        <h1>\(E.html(title))</h1>
        <p class="sub">\(N.count(r.data.examples)) example\(r.data.examples == 1 ? "" : "s") from \
        <code>\(E.html(r.data.path))</code> (\(E.html(r.data.format))) · \(E.html(r.createdAt))</p>
        </header>

        """
    }

    /// "better", "worse" or "no clear difference", from the sign and the interval (never from the sentence text).
    static func verdict(_ c: EvaluationReport.Comparison) -> (word: String, cls: String) {
        guard c.significant else { return ("no clear difference", "same") }
        let better = c.higherIsBetter ? c.difference > 0 : c.difference < 0
        return better ? ("better", "better") : ("worse", "worse")
    }

    func headline() -> String {
        var s = "<section id=\"headline\">\n<h2>Headline</h2>\n"
        let comparisons = ReportFacts.orderedComparisons(r)
        if comparisons.isEmpty && (r.forgetting?.sentences.isEmpty ?? true) {
            s += "<p class=\"note\">One model only: nothing to compare against.</p>\n"
        }
        if !comparisons.isEmpty {
            s += "<ul class=\"headline\">\n"
            for c in comparisons {
                let v = Self.verdict(c)
                s += "<li><span class=\"verdict \(v.cls)\">\(v.word)</span> \(E.html(c.sentence))</li>\n"
            }
            s += "</ul>\n"
        }
        if let f = r.forgetting, !f.sentences.isEmpty {
            s += "<ul class=\"headline forgetting\">\n"
            for sentence in f.sentences { s += "<li><span class=\"verdict general\">general text</span> \(E.html(sentence))</li>\n" }
            s += "</ul>\n"
        }
        return s + "</section>\n"
    }

    // MARK: - Summary

    func swatch(_ m: Int) -> String {
        "<span class=\"swatch\" style=\"background:\(ReportChart.color(model: m))\"></span>"
    }

    func differenceCell(_ c: EvaluationReport.Comparison?, points: Bool) -> String {
        guard let c else { return "" }
        let f: (Double) -> String = points ? { N.signedPoints($0) } : { N.signed($0, 3) }
        let v = Self.verdict(c)
        return "<div class=\"delta \(v.cls)\" title=\"\(E.html(c.sentence))\">Δ \(f(c.difference)) " +
            "<span class=\"ci\">[\(f(c.ciLow)), \(f(c.ciHigh))]</span></div>"
    }

    func summary() -> String {
        var s = "<section id=\"summary\">\n<h2>Summary</h2>\n<table class=\"summary\">\n<thead><tr><th>model</th><th>kind</th>"
        s += "<th class=\"num\">loss<br/><span class=\"unit\">nats/token</span></th><th class=\"num\">perplexity</th>"
        for m in r.metricNames { s += "<th class=\"num\">\(E.html(ReportName.metric(m)))<br/><span class=\"unit\">points /100</span></th>" }
        s += "<th class=\"num\">supervised<br/>tokens</th></tr></thead>\n<tbody>\n"
        for (i, model) in r.models.enumerated() {
            s += "<tr><td>\(swatch(i))\(E.html(model.name))</td><td>\(E.html(model.kind))</td>"
            guard r.summary.indices.contains(i) else {
                s += "<td colspan=\"\(3 + r.metricNames.count)\" class=\"note\">no summary stored</td></tr>\n"
                continue
            }
            let sm = r.summary[i]
            s += "<td class=\"num\">\(N.fixed(sm.loss, 3))\(differenceCell(ReportFacts.comparison(r, model: i, metric: "loss"), points: false))</td>"
            s += "<td class=\"num\">\(N.perplexity(sm.perplexity))</td>"
            for m in r.metricNames {
                let value = sm.metrics[m].map { N.points($0) } ?? "–"
                s += "<td class=\"num\">\(value)\(differenceCell(ReportFacts.comparison(r, model: i, metric: m), points: true))</td>"
            }
            s += "<td class=\"num\">\(N.count(sm.supervisedTokens))</td></tr>\n"
        }
        s += "</tbody>\n</table>\n"
        if let c = r.comparisons.first {
            s += "<p class=\"note\">Δ: mean paired difference from \(E.html(ReportFacts.modelName(r, 0))) over the same "
            s += "examples (loss in nats/token, lower is better; metrics in points, higher is better), with its "
            s += "\(N.fixed(c.confidence * 100, 0))% percentile-bootstrap interval over examples (\(N.count(c.resamples)) resamples). "
            s += "Perplexity is e<sup>loss</sup>.</p>\n"
        }
        return s + "</section>\n"
    }

    // MARK: - Charts

    func figure(_ svg: String, caption: String) -> String {
        "<figure>\n\(svg)\n<figcaption>\(caption)</figcaption>\n</figure>\n"
    }

    func charts() -> String {
        var figures: [String] = []
        if let t = r.training {
            let lossSeries = [
                ReportChart.Series(label: "training loss", x: t.steps.map(Double.init), y: t.loss,
                                   color: ReportChart.color(model: 1), dash: nil, markers: false),
                ReportChart.Series(label: "validation loss", x: t.validSteps.map(Double.init), y: t.validLoss,
                                   color: ReportChart.color(model: 2), dash: "7 4", markers: true),
            ].filter { !$0.x.isEmpty }
            if !lossSeries.isEmpty {
                let svg = ReportChart.lines(kind: "loss-curve", title: "Training and validation loss by step",
                                            description: "Loss in nats per token against optimizer step.", series: lossSeries,
                                            xTitle: "optimizer step", yTitle: "loss (nats/token)")
                figures.append(figure(svg, caption: "Training loss (each update's batch) and validation loss "
                                      + "(held-out set) by optimizer step, from <code>\(E.html(t.runFolder))/metrics.jsonl</code>."))
            }
            if !t.learningRate.isEmpty {
                let svg = ReportChart.lines(kind: "learning-rate", title: "Learning rate by step",
                                            description: "Learning rate against optimizer step.",
                                            series: [ReportChart.Series(label: "learning rate", x: t.steps.map(Double.init),
                                                                        y: t.learningRate, color: ReportChart.color(model: 0),
                                                                        dash: nil, markers: false)],
                                            xTitle: "optimizer step", yTitle: "learning rate", zeroBasedY: true)
                figures.append(figure(svg, caption: "Learning rate used at each optimizer step (schedule with warm-up)."))
            }
        }
        if !r.metricNames.isEmpty {
            let groups = r.metricNames.map { name in
                ReportChart.BarGroup(
                    label: ReportName.metric(name),
                    values: r.models.indices.map { i in r.summary.indices.contains(i) ? r.summary[i].metrics[name].map { $0 * 100 } : nil },
                    whiskers: r.models.indices.map { i -> (Double, Double)? in
                        guard i > 0, let c = ReportFacts.comparison(r, model: i, metric: name),
                              let base = r.summary.first?.metrics[name] else { return nil }
                        return ((base + c.ciLow) * 100, (base + c.ciHigh) * 100)
                    })
            }
            let conf = r.comparisons.first.map { N.fixed($0.confidence * 100, 0) + "%" } ?? "95%"
            let svg = ReportChart.groupedBars(kind: "metrics", title: "Task metrics by model",
                                              description: "Mean of each metric over examples, points out of 100.",
                                              models: r.models.map(\.name), groups: groups, yTitle: "points out of 100")
            var caption = "Mean of each task metric over the \(N.count(r.examples.count)) examples, in points out of 100."
            if r.models.count > 1 {
                caption += " Whiskers: the \(conf) bootstrap interval of the paired difference from "
                caption += "\(E.html(ReportFacts.modelName(r, 0))), drawn around the adapter's bar (base mean + interval); "
                caption += "a whisker clear of the dashed base level is a difference the interval supports."
            }
            figures.append(figure(svg, caption: caption))
        }
        let adapters = Array(r.models.indices.dropFirst())
        let deltas = adapters.map { ReportFacts.lossDeltas(r, model: $0) }
        let all = deltas.flatMap(\.values)
        if !all.isEmpty {
            for (m, d) in zip(adapters, deltas) where !d.values.isEmpty {
                // One binning for every adapter so their histograms compare bar for bar.
                let h = ReportFacts.histogram(d.values, lo: all.min(), hi: all.max())
                let sum = ReportFacts.deltaSummary(d.values)!
                let name = ReportFacts.modelName(r, m), base = ReportFacts.modelName(r, 0)
                let note = "\(sum.improved) of \(sum.count) examples better, \(sum.worsened) worse; median Δ \(N.signed(sum.median, 3))"
                let svg = ReportChart.histogram(kind: "loss-delta", title: "Per-example loss change, \(name) − \(base)",
                                                description: "Histogram of per-example mean loss per token, \(name) minus \(base).",
                                                histogram: h, color: ReportChart.color(model: m),
                                                xTitle: "Δ loss per token (nats), \(name) − \(base)", note: note)
                var caption = "Each example's mean loss per supervised token under \(E.html(name)) minus under "
                caption += "\(E.html(base)); left of the dashed zero line the adapter predicts the reference better. "
                caption += "Bins are \(N.tick(h.width, step: h.width)) nats wide."
                if d.leftOut > 0 { caption += " \(d.leftOut) example\(d.leftOut == 1 ? "" : "s") without supervised tokens (or a non-finite loss) not shown." }
                figures.append(figure(svg, caption: caption))
            }
        }
        guard !figures.isEmpty else { return "" }
        return "<section id=\"charts\">\n<h2>Charts</h2>\n<div class=\"figures\">\n" + figures.joined() + "</div>\n"
            + trainingNote() + "</section>\n"
    }

    func trainingNote() -> String {
        guard let t = r.training else { return "" }
        var parts: [String] = ["run folder <code>\(E.html(t.runFolder))</code>", "\(N.count(t.steps.count)) logged updates"]
        if let last = t.loss.last { parts.append("last training loss \(N.fixed(last, 3))") }
        if let best = zip(t.validSteps, t.validLoss).filter({ $0.1.isFinite }).min(by: { $0.1 < $1.1 }) {
            parts.append("lowest validation loss \(N.fixed(best.1, 3)) at step \(best.0)")
        }
        return "<p class=\"note\">Training: " + parts.joined(separator: " · ") + ".</p>\n"
    }

    // MARK: - Samples

    /// Text with its whitespace kept; long text shows its head (or, for prompts, its end, where a chat prompt keeps
    /// the question) and the whole of it under <details>.
    static func textBlock(_ text: String?, characters: Int = 600, lines: Int = 14, fromEnd: Bool = false) -> String {
        guard let text else { return "<pre class=\"text empty\">(not generated)</pre>" }
        if text.isEmpty { return "<pre class=\"text empty\">(empty)</pre>" }
        let cut = fromEnd ? ReportTruncate.tail(text, characters: characters, lines: lines)
                          : ReportTruncate.head(text, characters: characters, lines: lines)
        guard let head = cut else {
            return "<pre class=\"text\">\(E.html(text))</pre>"
        }
        return "<pre class=\"text\">\(E.html(head))</pre><details><summary>show all \(N.count(text.count)) characters</summary>"
            + "<pre class=\"text\">\(E.html(text))</pre></details>"
    }

    func scoreLine(_ e: EvaluationReport.ExampleResult, _ m: Int) -> String {
        guard e.scores.indices.contains(m) else { return "<p class=\"scores note\">no scores stored</p>" }
        let sc = e.scores[m]
        var parts = ["loss \(sc.tokens > 0 ? N.fixed(sc.meanLoss, 3) : "–") nats/token over \(sc.tokens) token\(sc.tokens == 1 ? "" : "s")"]
        if let d = ReportFacts.lossDelta(e, model: m) {
            parts.append("<span class=\"\(d < 0 ? "better" : d > 0 ? "worse" : "same")\">Δ \(N.signed(d, 3))</span>")
        }
        for name in r.metricNames {
            if let v = sc.metrics[name] { parts.append("\(E.html(ReportName.metric(name))) \(N.examplePoints(v))") }
        }
        for name in sc.metrics.keys.sorted() where !r.metricNames.contains(name) {
            parts.append("\(E.html(ReportName.metric(name))) \(N.examplePoints(sc.metrics[name]!))")
        }
        return "<p class=\"scores\">" + parts.joined(separator: " · ") + "</p>"
    }

    func example(_ index: Int, heading: String) -> String {
        guard r.examples.indices.contains(index) else {
            return "<p class=\"note\">Example index \(index) is not in this report (\(r.examples.count) examples).</p>\n"
        }
        let e = r.examples[index]
        var s = "<article class=\"sample\" id=\"example-\(index)\">\n"
        s += "<h3>\(E.html(heading)) <code>\(E.html(e.id))</code></h3>\n"
        s += "<div class=\"pair\"><div><h4>Prompt</h4>\(Self.textBlock(e.prompt, fromEnd: true))</div>"
        s += "<div><h4>Reference</h4>\(Self.textBlock(e.reference))</div></div>\n"
        s += "<div class=\"outputs\" style=\"grid-template-columns: repeat(\(max(1, r.models.count)), minmax(0, 1fr))\">\n"
        for (m, model) in r.models.enumerated() {
            let output = e.scores.indices.contains(m) ? e.scores[m].output : nil
            s += "<div class=\"output\"><h4>\(swatch(m))\(E.html(model.name))</h4>\(Self.textBlock(output))\(scoreLine(e, m))</div>\n"
        }
        return s + "</div>\n</article>\n"
    }

    func samples() -> String {
        guard !r.samples.isEmpty else { return "" }
        var s = "<section id=\"samples\">\n<h2>Samples</h2>\n"
        s += "<p class=\"note\">Prompts as the model saw them, the reference answer, and each model's greedy output. "
        s += "Loss is the example's mean loss per supervised token (of the reference); Δ is against "
        s += "\(E.html(ReportFacts.modelName(r, 0))); metrics are points out of 100.</p>\n"
        for (k, i) in r.samples.enumerated() { s += example(i, heading: "Sample \(k + 1) ·") }
        return s + "</section>\n"
    }

    func bestAndWorst() -> String {
        guard r.models.count > 1, !(r.best.isEmpty && r.worst.isEmpty) else { return "" }
        let name = ReportFacts.modelName(r, 1), base = ReportFacts.modelName(r, 0)
        var s = "<section id=\"best-worst\">\n<h2>Largest changes</h2>\n"
        s += "<p class=\"note\">Examples where \(E.html(name))'s mean loss per token moved most against \(E.html(base)) "
        s += "(Δ in nats/token, negative is better).</p>\n"
        for (label, list) in Self.changeHeadings(r) where !list.isEmpty {
            s += "<h3>\(label)</h3>\n<table class=\"changes\">\n<thead><tr><th>example</th><th class=\"num\">Δ loss</th>"
            s += "<th class=\"num\">\(E.html(base))</th><th class=\"num\">\(E.html(name))</th><th>prompt</th><th>reference</th>"
            s += "<th>\(E.html(base)) output</th><th>\(E.html(name)) output</th></tr></thead>\n<tbody>\n"
            for i in list {
                guard r.examples.indices.contains(i) else {
                    s += "<tr><td colspan=\"8\" class=\"note\">example index \(i) is not in this report</td></tr>\n"
                    continue
                }
                let e = r.examples[i]
                let d = ReportFacts.lossDelta(e, model: 1)
                let loss = { (m: Int) in e.scores.indices.contains(m) && e.scores[m].tokens > 0 ? N.fixed(e.scores[m].meanLoss, 3) : "–" }
                let output = { (m: Int) in e.scores.indices.contains(m) ? e.scores[m].output : nil }
                s += "<tr><td><code title=\"\(E.html(e.id))\">\(E.html(ReportName.shortID(e.id)))</code></td>"
                s += "<td class=\"num \(d.map { $0 < 0 ? "better" : $0 > 0 ? "worse" : "same" } ?? "")\">\(d.map { N.signed($0, 3) } ?? "–")</td>"
                s += "<td class=\"num\">\(loss(0))</td><td class=\"num\">\(loss(1))</td>"
                s += "<td>\(Self.textBlock(e.prompt, characters: 160, lines: 4, fromEnd: true))</td>"
                s += "<td>\(Self.textBlock(e.reference, characters: 160, lines: 4))</td>"
                for m in [0, 1] { s += "<td>\(Self.textBlock(output(m), characters: 160, lines: 4))</td>" }
                s += "</tr>\n"
            }
            s += "</tbody>\n</table>\n"
        }
        return s + "</section>\n"
    }

    /// "Largest improvements" and "largest worsenings" only when the deltas have that sign; otherwise the
    /// headings say what the lists are (the best and worst of the examples), so a list of small gains is not called
    /// worsenings.
    static func changeHeadings(_ r: EvaluationReport) -> [(String, [Int])] {
        func deltas(_ list: [Int]) -> [Double] {
            list.compactMap { r.examples.indices.contains($0) ? ReportFacts.lossDelta(r.examples[$0], model: 1) : nil }
        }
        let best = deltas(r.best), worst = deltas(r.worst)
        return [
            (!best.isEmpty && best.allSatisfy { $0 < 0 } ? "Largest improvements" : "Best examples (most negative Δ first)", r.best),
            (!worst.isEmpty && worst.allSatisfy { $0 > 0 } ? "Largest worsenings" : "Worst examples (largest Δ first)", r.worst),
        ]
    }

    // MARK: - Forgetting, speed, provenance

    func forgetting() -> String {
        guard let f = r.forgetting else { return "" }
        var s = "<section id=\"forgetting\">\n<h2>Forgetting check</h2>\n"
        for sentence in f.sentences { s += "<p>\(E.html(sentence))</p>\n" }
        s += "<table>\n<thead><tr><th>model</th><th class=\"num\">loss on general text<br/><span class=\"unit\">nats/token</span></th>"
        s += "<th class=\"num\">perplexity</th><th class=\"num\">Δ vs \(E.html(ReportFacts.modelName(r, 0)))</th></tr></thead>\n<tbody>\n"
        for (m, loss) in f.loss.enumerated() {
            let delta = m > 0 && !f.loss.isEmpty ? N.signed(loss - f.loss[0], 3) : ""
            s += "<tr><td>\(swatch(m))\(E.html(ReportFacts.modelName(r, m)))</td><td class=\"num\">\(N.fixed(loss, 3))</td>"
            s += "<td class=\"num\">\(N.perplexity(Foundation.exp(loss)))</td><td class=\"num\">\(delta)</td></tr>\n"
        }
        s += "</tbody>\n</table>\n"
        s += "<p class=\"note\">\(N.count(f.texts)) texts, \(N.count(f.tokens)) tokens from <code>\(E.html(f.path))</code> "
        s += "(SHA-256 <code title=\"\(E.html(f.sha256))\">\(E.html(ReportName.shortHash(f.sha256)))</code>).</p>\n"
        return s + "</section>\n"
    }

    func speed() -> String {
        guard !r.speed.isEmpty else { return "" }
        var s = "<section id=\"speed\">\n<h2>Speed</h2>\n<table>\n<thead><tr><th>model</th>"
        s += "<th class=\"num\">prompt tokens</th><th class=\"num\">seconds</th><th class=\"num\">prompt tokens/s</th>"
        s += "<th class=\"num\">generated tokens</th><th class=\"num\">seconds</th><th class=\"num\">generated tokens/s</th></tr></thead>\n<tbody>\n"
        for (m, sp) in r.speed.enumerated() {
            s += "<tr><td>\(swatch(m))\(E.html(ReportFacts.modelName(r, m)))</td>"
            s += "<td class=\"num\">\(N.count(sp.promptTokens))</td><td class=\"num\">\(N.rate(sp.promptSeconds))</td>"
            s += "<td class=\"num\"><strong>\(N.rate(sp.promptTokensPerSecond))</strong></td>"
            s += "<td class=\"num\">\(N.count(sp.generatedTokens))</td><td class=\"num\">\(N.rate(sp.generationSeconds))</td>"
            s += "<td class=\"num\"><strong>\(N.rate(sp.generatedTokensPerSecond))</strong></td></tr>\n"
        }
        s += "</tbody>\n</table>\n<p class=\"note\">Prompt tokens: tokens run through the model for scoring and prefill. "
        s += "Measured while evaluating on \(E.html(r.provenance.machine)).</p>\n"
        return s + "</section>\n"
    }

    func hash(_ h: String?) -> String {
        guard let h else { return "–" }
        return "<code title=\"\(E.html(h))\">\(E.html(ReportName.shortHash(h)))</code>"
    }

    func provenance() -> String {
        let p = r.provenance
        var rows: [(String, String)] = [
            ("created", E.html(r.createdAt)),
            ("whittle version", E.html(p.whittleVersion)),
            ("machine", E.html(p.machine)),
            ("command", "<code class=\"wrap\">\(E.html(p.command))</code>"),
        ]
        if let run = p.runFolder { rows.append(("run folder", "<code>\(E.html(run))</code>")) }
        rows += [
            ("base model SHA-256", hash(p.baseModelSHA256)),
            ("tokenizer SHA-256", hash(p.tokenizerSHA256)),
            ("chat template SHA-256", hash(p.templateSHA256)),
            ("data", "<code>\(E.html(r.data.path))</code> · \(E.html(r.data.format)) · \(N.count(r.data.examples)) examples · SHA-256 \(hash(r.data.sha256))"),
        ]
        var s = "<section id=\"provenance\">\n<h2>Provenance</h2>\n<table class=\"provenance\">\n<tbody>\n"
        for (k, v) in rows { s += "<tr><th>\(k)</th><td>\(v)</td></tr>\n" }
        s += "</tbody>\n</table>\n<h3>Models</h3>\n<table>\n<thead><tr><th>#</th><th>name</th><th>kind</th><th>path</th>"
        s += "<th>adapter SHA-256</th><th class=\"num\">LoRA scale</th></tr></thead>\n<tbody>\n"
        for (i, m) in r.models.enumerated() {
            s += "<tr><td>\(i)\(i == 0 ? " (baseline)" : "")</td><td>\(swatch(i))\(E.html(m.name))</td><td>\(E.html(m.kind))</td>"
            s += "<td><code>\(E.html(m.path))</code></td><td>\(m.adapterSHA256 == nil ? "" : hash(m.adapterSHA256))</td>"
            s += "<td class=\"num\">\(m.adapterScale.map { N.fixed($0, 4) } ?? "")</td></tr>\n"
        }
        s += "</tbody>\n</table>\n"
        if let recipe = p.recipe {
            s += "<details><summary>resolved recipe (\(recipe.split(separator: "\n", omittingEmptySubsequences: false).count) lines)</summary>"
            s += "<pre class=\"text\">\(E.html(recipe))</pre></details>\n"
        }
        return s + "</section>\n"
    }

    // MARK: - Style

    /// No '<' or '&' in here: the page must stay well-formed XML.
    static let css = """

    :root { color-scheme: light; }
    body { margin: 0; background: #f6f6f4; color: #1a1a1a; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; }
    main { max-width: 1220px; margin: 0 auto; padding: 24px 28px 48px; background: #ffffff; }
    h1 { font-size: 26px; margin: 0 0 4px; }
    h2 { font-size: 20px; margin: 36px 0 10px; padding-bottom: 4px; border-bottom: 2px solid #e2e2e2; }
    h3 { font-size: 16px; margin: 22px 0 8px; }
    h4 { font-size: 13px; margin: 0 0 4px; text-transform: uppercase; letter-spacing: 0.04em; color: #555555; }
    code { font: 13px/1.4 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; background: #f1f1ef; padding: 0 3px; border-radius: 3px; overflow-wrap: anywhere; }
    .sub { color: #555555; margin: 0; }
    .note { color: #555555; font-size: 13px; }
    ul.headline { list-style: none; padding: 0; margin: 6px 0; }
    ul.headline li { margin: 6px 0; font-size: 16px; }
    .verdict { display: inline-block; min-width: 9.5em; font-size: 12px; font-weight: 600; text-align: center; padding: 1px 6px; margin-right: 8px; border-radius: 3px; border: 1px solid #888888; }
    .verdict.better { background: #e3f1e8; border-color: #2e7d4f; color: #1d5a37; }
    .verdict.worse { background: #fbe6e3; border-color: #b03a2e; color: #8a2a20; }
    .verdict.same { background: #f0f0f0; color: #444444; }
    .verdict.general { background: #eef3fa; border-color: #4a6fa5; color: #2c4a75; }
    table { border-collapse: collapse; margin: 8px 0; font-size: 14px; }
    th, td { padding: 6px 10px; border-bottom: 1px solid #e4e4e4; text-align: left; vertical-align: top; }
    thead th { border-bottom: 2px solid #bbbbbb; font-weight: 600; }
    .num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
    .unit { font-weight: 400; color: #666666; font-size: 12px; }
    .delta { font-size: 12px; color: #444444; }
    .delta .ci { color: #666666; }
    .better { color: #1d5a37; }
    .worse { color: #8a2a20; }
    td.better, td.worse, .delta.better, .delta.worse { font-weight: 600; }
    .swatch { display: inline-block; width: 11px; height: 11px; margin-right: 6px; vertical-align: -1px; border-radius: 2px; }
    .figures { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 16px; }
    figure { margin: 0; padding: 10px; border: 1px solid #e4e4e4; border-radius: 6px; }
    figure svg { display: block; width: 100%; height: auto; }
    figcaption { font-size: 13px; color: #444444; margin-top: 6px; }
    pre.text { white-space: pre-wrap; overflow-wrap: anywhere; margin: 0; padding: 8px 10px; background: #f7f7f5; border: 1px solid #e6e6e3; border-radius: 4px; font: 13px/1.45 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
    pre.text.empty { color: #888888; font-style: italic; }
    details { margin-top: 4px; font-size: 13px; }
    details summary { cursor: pointer; color: #2c4a75; }
    details pre.text { margin-top: 4px; }
    article.sample { border: 1px solid #e2e2e2; border-radius: 6px; padding: 12px 14px; margin: 14px 0; }
    article.sample h3 { margin-top: 0; }
    .pair { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 12px; margin-bottom: 12px; }
    .outputs { display: grid; gap: 12px; }
    .scores { font-size: 13px; margin: 6px 0 0; color: #333333; }
    table.changes td { max-width: 240px; }
    table.changes td:first-child code { white-space: nowrap; overflow-wrap: normal; }
    table.changes pre.text { font-size: 12px; padding: 4px 6px; }
    table.provenance th { width: 13em; font-weight: 600; color: #444444; }
    code.wrap { white-space: pre-wrap; }
    footer { margin-top: 40px; font-size: 12px; color: #666666; border-top: 1px solid #e4e4e4; padding-top: 10px; }

    """
}
