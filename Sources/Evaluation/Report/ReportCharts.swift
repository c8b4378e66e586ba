import Foundation

/// Inline SVG charts for report.html: no scripts, no fonts or styles from elsewhere, XML-well-formed, and readable
/// in greyscale (colours differ in lightness; series also differ in dash and markers).
enum ReportChart {
    // MARK: - Style

    /// Model colours by index (Okabe–Ito based, ordered so neighbours differ in lightness): base dark grey,
    /// then blue, orange, green, pink.
    static let modelColors = ["#3d3d3d", "#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9"]
    static func color(model m: Int) -> String { modelColors[m % modelColors.count] }

    static let width = 600.0
    static let font = "font-family=\"system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif\""

    struct Frame {
        var width = ReportChart.width
        var height = 320.0
        var left = 70.0
        var right = 20.0
        var top = 40.0
        var bottom = 52.0
        var plotWidth: Double { width - left - right }
        var plotHeight: Double { height - top - bottom }
    }

    static func n(_ x: Double) -> String {
        // SVG coordinates with 0.1 px resolution and no exponent.
        let r = (x * 10).rounded() / 10
        return r == r.rounded() ? String(Int(r)) : String(format: "%.1f", r)
    }

    static func open(_ kind: String, _ frame: Frame, title: String, description: String) -> String {
        """
        <svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="\(kind)" width="\(n(frame.width))" \
        height="\(n(frame.height))" viewBox="0 0 \(n(frame.width)) \(n(frame.height))" role="img" \(font) font-size="13">
        <title>\(ReportEscape.html(title))</title><desc>\(ReportEscape.html(description))</desc>
        <rect x="0" y="0" width="\(n(frame.width))" height="\(n(frame.height))" fill="#ffffff"/>

        """
    }

    /// Gridlines, ticks and labels of both axes, and the axis titles.
    static func axes(_ f: Frame, x: (lo: Double, hi: Double, ticks: [Double], label: (Double) -> String),
                     y: (lo: Double, hi: Double, ticks: [Double], label: (Double) -> String),
                     xTitle: String, yTitle: String, xCategorical: [(String, Double)]? = nil) -> String {
        var s = "<g class=\"axes\">\n"
        let px = { (v: Double) in f.left + (v - x.lo) / (x.hi - x.lo) * f.plotWidth }
        let py = { (v: Double) in f.top + (1 - (v - y.lo) / (y.hi - y.lo)) * f.plotHeight }
        for t in y.ticks {
            let yy = py(t)
            s += "<line x1=\"\(n(f.left))\" y1=\"\(n(yy))\" x2=\"\(n(f.left + f.plotWidth))\" y2=\"\(n(yy))\" stroke=\"#e3e3e3\" stroke-width=\"1\"/>\n"
            s += "<text x=\"\(n(f.left - 8))\" y=\"\(n(yy + 4))\" text-anchor=\"end\" fill=\"#333333\">\(ReportEscape.html(y.label(t)))</text>\n"
        }
        let base = f.top + f.plotHeight
        if let cats = xCategorical {
            for (label, at) in cats {
                s += "<text x=\"\(n(at))\" y=\"\(n(base + 20))\" text-anchor=\"middle\" fill=\"#333333\">\(ReportEscape.html(label))</text>\n"
            }
        } else {
            for t in x.ticks {
                let xx = px(t)
                s += "<line x1=\"\(n(xx))\" y1=\"\(n(base))\" x2=\"\(n(xx))\" y2=\"\(n(base + 5))\" stroke=\"#555555\" stroke-width=\"1\"/>\n"
                s += "<text x=\"\(n(xx))\" y=\"\(n(base + 19))\" text-anchor=\"middle\" fill=\"#333333\">\(ReportEscape.html(x.label(t)))</text>\n"
            }
        }
        s += "<line x1=\"\(n(f.left))\" y1=\"\(n(base))\" x2=\"\(n(f.left + f.plotWidth))\" y2=\"\(n(base))\" stroke=\"#555555\" stroke-width=\"1\"/>\n"
        s += "<line x1=\"\(n(f.left))\" y1=\"\(n(f.top))\" x2=\"\(n(f.left))\" y2=\"\(n(base))\" stroke=\"#555555\" stroke-width=\"1\"/>\n"
        s += "<text x=\"\(n(f.left + f.plotWidth / 2))\" y=\"\(n(f.height - 10))\" text-anchor=\"middle\" fill=\"#111111\" font-weight=\"600\">\(ReportEscape.html(xTitle))</text>\n"
        let cy = f.top + f.plotHeight / 2
        s += "<text x=\"16\" y=\"\(n(cy))\" text-anchor=\"middle\" fill=\"#111111\" font-weight=\"600\" transform=\"rotate(-90 16 \(n(cy)))\">\(ReportEscape.html(yTitle))</text>\n"
        return s + "</g>\n"
    }

    enum Mark { case line, swatch }

    struct LegendItem {
        var label: String
        var color: String
        var dash: String? = nil
        var marker = false
        var mark: Mark
    }

    /// A legend in one row above the plot, right-aligned.
    static func legend(_ f: Frame, _ items: [LegendItem]) -> String {
        // Approximate text widths (7.2 px per character at 13 px) are enough to lay out one row.
        let widths = items.map { 30 + Double($0.label.count) * 7.2 + 18 }
        var x = max(f.left, f.left + f.plotWidth - widths.reduce(0, +))
        let y = 20.0
        var s = "<g class=\"legend\">\n"
        for (item, w) in zip(items, widths) {
            switch item.mark {
            case .line:
                s += "<line x1=\"\(n(x))\" y1=\"\(n(y - 4))\" x2=\"\(n(x + 24))\" y2=\"\(n(y - 4))\" stroke=\"\(item.color)\" stroke-width=\"2.5\""
                s += item.dash.map { " stroke-dasharray=\"\($0)\"" } ?? ""
                s += "/>\n"
                if item.marker {
                    s += "<circle cx=\"\(n(x + 12))\" cy=\"\(n(y - 4))\" r=\"3.5\" fill=\"#ffffff\" stroke=\"\(item.color)\" stroke-width=\"2\"/>\n"
                }
            case .swatch:
                s += "<rect x=\"\(n(x + 4))\" y=\"\(n(y - 12))\" width=\"16\" height=\"14\" fill=\"\(item.color)\"/>\n"
            }
            s += "<text x=\"\(n(x + 30))\" y=\"\(n(y))\" fill=\"#111111\">\(ReportEscape.html(item.label))</text>\n"
            x += w
        }
        return s + "</g>\n"
    }

    // MARK: - Line chart

    struct Series {
        var label: String
        var x: [Double]
        var y: [Double]
        var color: String
        var dash: String?
        var markers: Bool
    }

    /// Lines over a shared x axis; non-finite points break the line (a diverged step shows as a gap).
    static func lines(kind: String, title: String, description: String, series: [Series], xTitle: String, yTitle: String,
                      yLabel: ((Double, Double) -> String)? = nil, zeroBasedY: Bool = false) -> String {
        let f = Frame()
        let xs = series.flatMap(\.x).filter(\.isFinite)
        let ys = series.flatMap(\.y).filter(\.isFinite)
        let xt = ReportFacts.ticks(xs.min() ?? 0, xs.max() ?? 1, count: 8)
        let xr = (lo: xs.min() ?? 0, hi: max(xs.max() ?? 1, (xs.min() ?? 0) + 1))
        let yt = ReportFacts.ticks(zeroBasedY ? min(0, ys.min() ?? 0) : (ys.min() ?? 0), ys.max() ?? 1, count: 5)
        let xTicks = xt.values.filter { $0 >= xr.lo - 1e-9 && $0 <= xr.hi + 1e-9 }
        // Small values (learning rates) read better as "2.0" on an axis titled "× 10⁻⁴" than as "0.0002" or "2e-4".
        let largest = yt.values.map(abs).max() ?? 0
        var scale = 1.0, axisTitle = yTitle
        if largest > 0 && largest < 1e-2 {
            let e = Int(floor(log10(largest)))
            scale = pow(10, Double(-e))
            axisTitle += " (× 10" + superscript(e) + ")"
        }
        var s = open(kind, f, title: title, description: description)
        s += axes(f, x: (xr.lo, xr.hi, xTicks, { ReportNumber.tick($0, step: xt.step) }),
                  y: (yt.lo, yt.hi, yt.values, { yLabel?($0, yt.step) ?? ReportNumber.tick($0 * scale, step: yt.step * scale) }),
                  xTitle: xTitle, yTitle: axisTitle)
        let px = { (v: Double) in f.left + (v - xr.lo) / (xr.hi - xr.lo) * f.plotWidth }
        let py = { (v: Double) in f.top + (1 - (v - yt.lo) / (yt.hi - yt.lo)) * f.plotHeight }
        for se in series {
            s += "<g class=\"series\" data-series=\"\(ReportEscape.html(se.label))\" data-points=\"\(min(se.x.count, se.y.count))\">\n"
            var run: [String] = []
            func flush() {
                if run.count > 1 {
                    s += "<polyline fill=\"none\" stroke=\"\(se.color)\" stroke-width=\"2\" stroke-linejoin=\"round\""
                    s += se.dash.map { " stroke-dasharray=\"\($0)\"" } ?? ""
                    s += " points=\"\(run.joined(separator: " "))\"/>\n"
                }
                run = []
            }
            for (x, y) in zip(se.x, se.y) {
                guard x.isFinite, y.isFinite else { flush(); continue }
                run.append("\(n(px(x))),\(n(py(y)))")
                if se.markers {
                    s += "<circle cx=\"\(n(px(x)))\" cy=\"\(n(py(y)))\" r=\"3.5\" fill=\"#ffffff\" stroke=\"\(se.color)\" stroke-width=\"2\"/>\n"
                }
            }
            flush()
            s += "</g>\n"
        }
        s += legend(f, series.map { LegendItem(label: $0.label, color: $0.color, dash: $0.dash, marker: $0.markers, mark: .line) })
        return s + "</svg>"
    }

    static func superscript(_ n: Int) -> String {
        let digits: [Character] = ["⁰", "¹", "²", "³", "⁴", "⁵", "⁶", "⁷", "⁸", "⁹"]
        return (n < 0 ? "⁻" : "") + String(String(abs(n)).map { digits[Int(String($0))!] })
    }

    // MARK: - Grouped bars

    struct BarGroup {
        var label: String
        /// One value per model (points out of 100), nil when missing.
        var values: [Double?]
        /// Per model: the whisker's ends (points), nil for none (the baseline).
        var whiskers: [(Double, Double)?]
    }

    static func groupedBars(kind: String, title: String, description: String, models: [String], groups: [BarGroup],
                            yTitle: String) -> String {
        var f = Frame()
        f.height = 340
        // The axis runs to 112 with ticks to 100: room above a full bar for its value and whisker cap.
        let yt = (lo: 0.0, hi: 112.0, step: 20.0, values: stride(from: 0.0, through: 100, by: 20).map { $0 })
        var s = open(kind, f, title: title, description: description)
        let groupWidth = f.plotWidth / Double(max(1, groups.count))
        let barWidth = min(56, groupWidth * 0.7 / Double(max(1, models.count)))
        let centers = groups.indices.map { f.left + (Double($0) + 0.5) * groupWidth }
        s += axes(f, x: (0, 1, [], { _ in "" }), y: (yt.lo, yt.hi, yt.values, { ReportNumber.tick($0, step: yt.step) }),
                  xTitle: "metric", yTitle: yTitle, xCategorical: zip(groups, centers).map { ($0.label, $1) })
        let py = { (v: Double) in f.top + (1 - min(max(v, 0), 100) / yt.hi) * f.plotHeight }
        for (g, center) in zip(groups, centers) {
            let x0 = center - barWidth * Double(models.count) / 2
            s += "<g class=\"group\" data-metric=\"\(ReportEscape.html(g.label))\">\n"
            for (m, value) in g.values.enumerated() {
                guard let v = value, v.isFinite else { continue }
                let x = x0 + Double(m) * barWidth
                let top = py(v)
                s += "<rect class=\"bar\" data-model=\"\(m)\" x=\"\(n(x + 2))\" y=\"\(n(top))\" width=\"\(n(barWidth - 4))\" "
                s += "height=\"\(n(f.top + f.plotHeight - top))\" fill=\"\(color(model: m))\"><title>"
                s += "\(ReportEscape.html(models[m])): \(ReportNumber.fixed(v, 1)) points</title></rect>\n"
                // The value above the bar, clear of the whisker's cap.
                var labelY = top - 6
                if m < g.whiskers.count, let w = g.whiskers[m] { labelY = min(labelY, py(max(w.0, w.1)) - 6) }
                s += "<text x=\"\(n(x + barWidth / 2))\" y=\"\(n(labelY))\" text-anchor=\"middle\" font-size=\"12\" fill=\"#111111\">\(ReportNumber.fixed(v, 1))</text>\n"
            }
            // The baseline's level across the group: the line an adapter's whisker must clear.
            if let b = g.values.first ?? nil, b.isFinite, models.count > 1 {
                let yy = py(b)
                s += "<line class=\"baseline\" x1=\"\(n(x0))\" y1=\"\(n(yy))\" x2=\"\(n(x0 + barWidth * Double(models.count)))\" y2=\"\(n(yy))\" stroke=\"#3d3d3d\" stroke-width=\"1.5\" stroke-dasharray=\"5 3\"/>\n"
            }
            for (m, whisker) in g.whiskers.enumerated() {
                guard let w = whisker, w.0.isFinite, w.1.isFinite else { continue }
                let (a, b) = w
                let cx = x0 + (Double(m) + 0.5) * barWidth
                let (y1, y2) = (py(a), py(b))
                s += "<g class=\"whisker\" data-model=\"\(m)\" stroke=\"#111111\" stroke-width=\"1.6\">"
                s += "<line x1=\"\(n(cx))\" y1=\"\(n(y1))\" x2=\"\(n(cx))\" y2=\"\(n(y2))\"/>"
                s += "<line x1=\"\(n(cx - 7))\" y1=\"\(n(y1))\" x2=\"\(n(cx + 7))\" y2=\"\(n(y1))\"/>"
                s += "<line x1=\"\(n(cx - 7))\" y1=\"\(n(y2))\" x2=\"\(n(cx + 7))\" y2=\"\(n(y2))\"/></g>\n"
            }
            s += "</g>\n"
        }
        var items = models.enumerated().map { LegendItem(label: $1, color: color(model: $0), mark: .swatch) }
        if models.count > 1 { items.append(LegendItem(label: "base level", color: "#3d3d3d", dash: "5 3", mark: .line)) }
        s += legend(f, items)
        return s + "</svg>"
    }

    // MARK: - Histogram

    static func histogram(kind: String, title: String, description: String, histogram h: ReportFacts.Histogram,
                          color: String, xTitle: String, note: String) -> String {
        var f = Frame()
        f.height = 300
        let maxCount = h.counts.max() ?? 0
        // Headroom above the tallest bar for its count.
        let yt = ReportFacts.ticks(0, Double(max(maxCount, 1)) * 1.12, count: min(5, max(maxCount, 1)))
        let yStep = max(1, yt.step.rounded())
        let yValues = stride(from: 0.0, through: yt.hi, by: yStep).map { $0 }
        let lo = h.edges.first ?? -1, hi = h.edges.last ?? 1
        let xt = ReportFacts.ticks(lo, hi, count: 8)
        var s = open(kind, f, title: title, description: description)
        s += axes(f, x: (lo, hi, xt.values.filter { $0 >= lo - 1e-12 && $0 <= hi + 1e-12 }, { ReportNumber.tick($0, step: xt.step) }),
                  y: (0, max(yt.hi, 1), yValues, { String(Int($0)) }), xTitle: xTitle, yTitle: "examples")
        let px = { (v: Double) in f.left + (v - lo) / (hi - lo) * f.plotWidth }
        let py = { (v: Double) in f.top + (1 - v / max(yt.hi, 1)) * f.plotHeight }
        s += "<g class=\"histogram\">\n"
        for (i, c) in h.counts.enumerated() {
            let x1 = px(h.edges[i]), x2 = px(h.edges[i + 1])
            let top = py(Double(c))
            s += "<rect class=\"bar\" data-count=\"\(c)\" x=\"\(n(x1 + 1))\" y=\"\(n(top))\" width=\"\(n(max(1, x2 - x1 - 2)))\" "
            s += "height=\"\(n(f.top + f.plotHeight - top))\" fill=\"\(color)\"><title>\(c) example\(c == 1 ? "" : "s") with Δ in ["
            s += "\(ReportNumber.tick(h.edges[i], step: h.width)), \(ReportNumber.tick(h.edges[i + 1], step: h.width)))</title></rect>\n"
            if c > 0 {
                s += "<text x=\"\(n((x1 + x2) / 2))\" y=\"\(n(top - 4))\" text-anchor=\"middle\" font-size=\"11\" fill=\"#111111\">\(c)</text>\n"
            }
        }
        s += "</g>\n"
        let z = px(0)
        s += "<line class=\"zero\" x1=\"\(n(z))\" y1=\"\(n(f.top - 4))\" x2=\"\(n(z))\" y2=\"\(n(f.top + f.plotHeight))\" stroke=\"#c0392b\" stroke-width=\"2\" stroke-dasharray=\"6 3\"/>\n"
        // Above the plot, so no bar hides them: which side is better, and the counts.
        // A side label that would run off the chart is left out: zero sits at that edge, so no bar is on that side.
        if z - 60 >= f.left {
            s += "<text x=\"\(n(z - 6))\" y=\"\(n(f.top - 8))\" text-anchor=\"end\" font-size=\"12\" fill=\"#111111\">← better</text>\n"
        }
        if z + 60 <= f.left + f.plotWidth {
            s += "<text x=\"\(n(z + 6))\" y=\"\(n(f.top - 8))\" text-anchor=\"start\" font-size=\"12\" fill=\"#111111\">worse →</text>\n"
        }
        s += "<text x=\"\(n(f.left))\" y=\"14\" fill=\"#333333\" font-size=\"12\">\(ReportEscape.html(note))</text>\n"
        return s + "</svg>"
    }
}
