import Foundation
import IDL

/// A bar chart over named categories, with one bar per category for each added group of
/// values (grouped bars side by side), e.g. test accuracy of several models, or accuracy and
/// certified accuracy per model.
///
/// The value axis always includes zero. NaN and ±∞ values draw no bar and are counted in
/// ``skippedNonFinite``.
///
/// ```swift
/// var chart = BarChart(title: "Test accuracy", yLabel: "accuracy (%)", categories: ["MLP", "implicit", "SIM"])
/// try chart.add(values: [84.6, 82.5, 84.1], label: "clean")
/// try chart.write(to: URL(fileURLWithPath: "results/accuracy.png"))
/// ```
public struct BarChart: Figure, Sendable {
    /// Title drawn above the chart.
    public var title: String
    /// Label under the category axis.
    public var xLabel: String
    /// Label of the value axis.
    public var yLabel: String
    /// The category names, one per bar position along x.
    public let categories: [String]
    /// Whether each bar's value is written above it (default false).
    public var showsValues: Bool = false
    /// Whether light horizontal grid lines are drawn (default true).
    public var showsGrid: Bool = true
    /// A fixed value range instead of the data's (it is widened to include zero).
    public var yRange: ClosedRange<Double>? = nil

    struct Group: Sendable {
        var values: [Double]
        var label: String
        var color: Color?
    }
    var groups: [Group] = []

    /// An empty bar chart over the given categories.
    public init(title: String = "", xLabel: String = "", yLabel: String = "", categories: [String]) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.categories = categories
    }

    /// Adds a group of bars, one value per category.
    /// - Throws: `IDLError.shapeMismatch` if `values.count != categories.count`.
    public mutating func add<V: BinaryFloatingPoint>(values: [V], label: String = "", color: Color? = nil) throws {
        guard values.count == categories.count else {
            throw IDLError.shapeMismatch(
                "bar group \"\(label)\": \(values.count) values for \(categories.count) categories")
        }
        groups.append(Group(values: values.map { Double($0) }, label: label, color: color))
    }

    /// Number of groups added.
    public var groupCount: Int { groups.count }
    /// Values left out because they are NaN or ±∞.
    public var skippedNonFinite: Int { groups.reduce(0) { $0 + $1.values.filter { !$0.isFinite }.count } }

    var legendEntries: [LegendEntry] {
        guard groups.count > 1 || !(groups.first?.label.isEmpty ?? true) else { return [] }
        return groups.enumerated().map { LegendEntry(label: $1.label, color: $1.color ?? Color.series($0), kind: .box) }
    }

    /// The bars: (left, right, base, top) in canvas coordinates, value, colour.
    func bars(_ area: PlotArea) -> [(x0: Double, x1: Double, base: Double, top: Double, value: Double, color: Color)] {
        let rect = area.rect
        let k = max(1, groups.count)
        let slot = 0.8 / Double(k)
        var out: [(x0: Double, x1: Double, base: Double, top: Double, value: Double, color: Color)] = []
        for (gi, g) in groups.enumerated() {
            let color = g.color ?? Color.series(gi)
            for (i, v) in g.values.enumerated() where v.isFinite {
                let x0 = Double(i) + 0.1 + Double(gi) * slot
                let p0 = area.point(x: x0, y: 0)
                let p1 = area.point(x: x0 + slot, y: v)
                let top = max(Double(rect.y), min(Double(rect.maxY), p1.y))
                let base = max(Double(rect.y), min(Double(rect.maxY), p0.y))
                let gap = k > 1 ? 0.5 : 0
                out.append((p0.x + gap, p1.x - gap, base, top, v, color))
            }
        }
        return out
    }

    func valueLabelSize(_ t: Theme) -> Double { groups.count > 2 ? t.sizes.annotation * 0.85 : t.sizes.annotation }

    func occupied(_ area: PlotArea, _ t: Theme) -> [Point] {
        var pts: [Point] = []
        for b in bars(area) {
            let mid = (b.x0 + b.x1) / 2
            var y = min(b.top, b.base)
            while y <= max(b.top, b.base) {
                pts.append(Point(mid, y))
                pts.append(Point(b.x0 + 1, y))
                pts.append(Point(b.x1 - 1, y))
                y += 4
            }
            if showsValues {
                let h = t.measure.capHeight(size: valueLabelSize(t)) + 4
                let dir = b.value >= 0 ? -1.0 : 1.0
                pts.append(Point(mid, b.top + dir * h / 2))
                pts.append(Point(mid, b.top + dir * h))
            }
        }
        return pts
    }

    func layout(width: Int, height: Int, _ m: Renderer) -> AxesLayout {
        let base = layout(width: width, height: height, m, topExtra: 0)
        if Legend.needsRowAbove(
            theme: base.theme, rect: base.area.rect, entries: legendEntries,
            occupied: occupied(base.area, base.theme))
        {
            var L = layout(
                width: width, height: height, m,
                topExtra: Legend.rowsHeight(base.theme, width: base.area.rect.width, entries: legendEntries))
            L.legendAbove = true
            return L
        }
        return base
    }

    func layout(width: Int, height: Int, _ measure: Renderer, topExtra: Int) -> AxesLayout {
        let t = Theme(width: width, height: height, measure: measure)
        var lo = 0.0
        var hi = 0.0
        for g in groups {
            for v in g.values where v.isFinite {
                lo = min(lo, v)
                hi = max(hi, v)
            }
        }
        if let r = yRange, r.lowerBound.isFinite, r.upperBound.isFinite, r.upperBound > r.lowerBound {
            lo = min(0, r.lowerBound)
            hi = max(0, r.upperBound)
        }
        if lo == hi { hi = 1 }
        let yTarget = max(2, min(8, (height - 6 * t.lineHeight) / (t.lineHeight * 3)))
        var yt = Ticks.linear(lo, hi, target: yTarget, pad: 0)
        // Headroom above the tallest bar (and below the lowest).
        if yRange == nil {
            if hi > 0 { yt.hi = hi + (showsValues ? 0.12 : 0.05) * (hi - lo) }
            if lo < 0 { yt.lo = lo - (showsValues ? 0.12 : 0.05) * (hi - lo) }
            yt = Ticks.linear(yt.lo, yt.hi, target: yTarget, pad: 0)
            if lo == 0 { yt.lo = 0 }
        }
        let frame = Frame(title: title, xLabel: xLabel, yLabel: yLabel, grid: showsGrid)
        let m = frame.margins(
            theme: t, yTickLabels: yt.labels, xTickLabels: categories.isEmpty ? [] : [""], topExtra: topExtra)
        let rect = PixelRect(
            x: min(m.left, width - 1), y: min(m.top, height - 1),
            width: max(1, width - m.left - m.right), height: max(1, height - m.top - m.bottom))
        let n = max(1, categories.count)
        let area = PlotArea(rect: rect, xRange: 0...Double(n), yRange: yt.lo...yt.hi, xScale: .linear, yScale: .linear)
        let xTicks = categories.enumerated().map { i, name in
            FrameTick(position: area.point(x: Double(i) + 0.5, y: 0).x, label: name)
        }
        let yTicks = zip(yt.major, yt.labels).map { FrameTick(position: area.point(x: 0, y: $0).y, label: $1) }
        return AxesLayout(theme: t, area: area, frame: frame, xTicks: xTicks, yTicks: yTicks, topExtra: topExtra)
    }

    /// Where the data area lies on a figure of this size (in points): x runs from 0 to the
    /// number of categories (category i is centred at i + 0.5), y is the value.
    public func plotArea(width: Int, height: Int) -> PlotArea {
        layout(width: width, height: height, .measuring()).area
    }

    /// Draws the chart in a `width`×`height`-point box.
    public func draw(on c: Renderer, width: Int, height: Int) {
        let L = layout(width: width, height: height, c)
        let t = L.theme
        let rect = L.area.rect
        let area = L.area
        L.frame.drawGrid(c, rect: rect, xTicks: [], yTicks: L.yTicks)
        for b in bars(area) {
            c.fillRect(x0: b.x0, y0: b.base, x1: b.x1, y1: b.top, b.color)
            if showsValues {
                let above = b.value >= 0
                let ty = above ? Int(b.top) - 3 : Int(b.top) + 3
                c.drawText(
                    Ticks.scientificOrPlain(b.value), x: Int((b.x0 + b.x1) / 2), y: ty, size: valueLabelSize(t),
                    color: .ink, align: .center, baseline: above ? .bottom : .top)
            }
        }
        // Zero line.
        let zy = Int(area.point(x: 0, y: 0).y.rounded(.down))
        if zy > rect.y && zy < rect.maxY { c.fill(PixelRect(x: rect.x, y: zy, width: rect.width, height: 1), .ink) }
        // Category labels: every one if they fit, else every second, third, …
        let slotW = Double(rect.width) / Double(max(1, categories.count))
        let widest = categories.map { t.width($0) }.max() ?? 0
        let every = max(1, Int((Double(widest + 2 * t.pad) / max(1, slotW)).rounded(.up)))
        let ticks = L.xTicks.enumerated().map { i, tk in
            FrameTick(position: tk.position, label: i % every == 0 ? tk.label : "", major: true)
        }
        L.frame.drawDecorations(c, theme: t, rect: rect, xTicks: ticks, yTicks: L.yTicks, topExtra: L.topExtra)
        if L.legendAbove {
            Legend.drawRows(c, theme: t, rect: rect, entries: legendEntries)
        } else {
            Legend.draw(c, theme: t, rect: rect, entries: legendEntries, occupied: occupied(area, t))
        }
    }
}

extension Ticks {
    /// A value label with 4 significant digits, scientific when very large or small.
    static func scientificOrPlain(_ v: Double) -> String {
        if v == 0 { return "0" }
        let a = abs(v)
        if a >= 1e5 || a < 1e-3 { return scientific(v) }
        let e = Int(log10(a).rounded(.down))
        return plain(v, decimals: max(0, 3 - e), trim: true, separateThousands: a >= 10_000)
    }
}
