import IDL

/// One data series of a ``LinePlot`` or ``ScatterPlot``.
struct XYSeries: Sendable {
    var x: [Double]
    var y: [Double]
    var label: String
    var color: Color?
    var line: Bool
    var markers: Bool?
    var pointLabels: [String]
    var marker: MarkerShape = .circle
    var dash: [Double] = []
    /// Half-lengths of vertical error bars (y ± e at each point), or empty for none.
    var yErrors: [Double] = []
}

/// The engine shared by line and scatter plots: ranges, ticks, layout, drawing.
struct XYChart: Sendable {
    var title = ""
    var xLabel = ""
    var yLabel = ""
    var logX = false
    var logY = false
    var grid = true
    var xRange: ClosedRange<Double>? = nil
    var yRange: ClosedRange<Double>? = nil
    var series: [XYSeries] = []
    var inset: ZoomInset? = nil

    func isFinitePoint(_ x: Double, _ y: Double) -> Bool { x.isFinite && y.isFinite }
    func isShowable(_ x: Double, _ y: Double) -> Bool {
        isFinitePoint(x, y) && (!logX || x > 0) && (!logY || y > 0)
    }

    var nonFiniteCount: Int {
        series.reduce(0) { n, s in n + zip(s.x, s.y).filter { !isFinitePoint($0, $1) }.count }
    }
    var nonPositiveCount: Int {
        series.reduce(0) { n, s in
            n + zip(s.x, s.y).filter { isFinitePoint($0, $1) && ((logX && $0 <= 0) || (logY && $1 <= 0)) }.count
        }
    }

    mutating func add(
        x: [Double], y: [Double], label: String, color: Color?, line: Bool, markers: Bool?,
        pointLabels: [String], marker: MarkerShape = .circle, dashed: Bool = false, yErrors: [Double] = []
    ) throws {
        guard x.count == y.count else {
            throw IDLError.shapeMismatch("series \"\(label)\": \(x.count) x values but \(y.count) y values")
        }
        guard yErrors.isEmpty || yErrors.count == y.count else {
            throw IDLError.shapeMismatch("series \"\(label)\": \(yErrors.count) error bars for \(y.count) points")
        }
        if let bad = yErrors.first(where: { !($0 >= 0) }) {
            throw IDLError.invalidArgument(
                "series \"\(label)\": error bars must be ≥ 0 (a standard deviation), got \(bad)")
        }
        guard pointLabels.isEmpty || pointLabels.count == x.count else {
            throw IDLError.shapeMismatch("series \"\(label)\": \(pointLabels.count) point labels for \(x.count) points")
        }
        series.append(
            XYSeries(
                x: x, y: y, label: label, color: color, line: line, markers: markers, pointLabels: pointLabels,
                marker: marker, dash: dashed ? [7, 4] : [], yErrors: yErrors))
    }

    func markers(_ s: XYSeries) -> Bool {
        let n = zip(s.x, s.y).filter { isShowable($0, $1) }.count
        return s.markers ?? (!s.line || n <= 30)
    }

    var legendEntries: [LegendEntry] {
        series.enumerated().map { k, s in
            LegendEntry(
                label: s.label, color: s.color ?? Color.series(k),
                kind: s.line ? (markers(s) ? .lineAndMarker : .line) : .marker, marker: s.marker, dash: s.dash)
        }
    }

    func mapped(_ s: XYSeries, _ area: PlotArea) -> [Point] {
        zip(s.x, s.y).map { x, y in isShowable(x, y) ? area.point(x: x, y: y) : Point(.nan, .nan) }
    }

    /// Points the legend should not cover: data points, samples along lines, point labels.
    func occupied(_ area: PlotArea, _ t: Theme, labels: Bool = true) -> [Point] {
        var occupied: [Point] = []
        for s in series {
            let pts = mapped(s, area)
            if s.line {
                for (a, b) in zip(pts, pts.dropFirst()) where a.x.isFinite && b.x.isFinite {
                    let n = Int(min(200, max(abs(b.x - a.x), abs(b.y - a.y)) / 6))
                    for i in 0..<max(1, n) {
                        let f = Double(i) / Double(max(1, n))
                        occupied.append(Point(a.x + f * (b.x - a.x), a.y + f * (b.y - a.y)))
                    }
                }
            }
            occupied += pts.filter { $0.x.isFinite }
        }
        guard labels, series.contains(where: { !$0.pointLabels.isEmpty }) else { return occupied }
        let lines = occupied
        for s in series where !s.pointLabels.isEmpty {
            for box in labelBoxes(s, mapped(s, area), area.rect, t, taken: lines) {
                for dx in stride(from: 0, through: box.width, by: 6) {
                    occupied.append(Point(Double(box.x + dx), Double(box.y + box.height / 2)))
                }
            }
        }
        return occupied
    }

    /// Where each point label goes: of the places around its point (the four corners, left,
    /// right), the one that covers the fewest `taken` points (lines, markers, the labels
    /// placed before it) and stays inside `rect`.
    func labelBoxes(_ s: XYSeries, _ pts: [Point], _ rect: PixelRect, _ t: Theme, taken: [Point]) -> [PixelRect] {
        var boxes: [PixelRect] = []
        var taken = taken
        let size = t.sizes.annotation
        let h = Int(t.measure.capHeight(size: size).rounded(.up))
        let gap = 2 + 2 * t.s
        for (p, text) in zip(pts, s.pointLabels) where p.x.isFinite && !text.isEmpty {
            let w = t.width(text, size: size)
            let px = Int(p.x)
            let py = Int(p.y)
            let candidates = [
                PixelRect(x: px + gap, y: py - gap - h, width: w, height: h),
                PixelRect(x: px + gap, y: py + gap, width: w, height: h),
                PixelRect(x: px - gap - w, y: py - gap - h, width: w, height: h),
                PixelRect(x: px - gap - w, y: py + gap, width: w, height: h),
                PixelRect(x: px + 2 * gap, y: py - h / 2, width: w, height: h),
                PixelRect(x: px - 2 * gap - w, y: py - h / 2, width: w, height: h),
            ]
            var best = candidates[0]
            var bestScore = Int.max
            for box in candidates {
                let grown = PixelRect(x: box.x - 2, y: box.y - 2, width: box.width + 4, height: box.height + 4)
                var score = taken.reduce(0) { $0 + (grown.contains(Int($1.x), Int($1.y)) ? 1 : 0) }
                if box.x < rect.x || box.maxX > rect.maxX || box.y < rect.y || box.maxY > rect.maxY { score += 1000 }
                if score < bestScore {
                    bestScore = score
                    best = box
                }
            }
            boxes.append(best)
            for dy in stride(from: 0, through: best.height, by: 3) {
                for dx in stride(from: 0, through: best.width, by: 3) {
                    taken.append(Point(Double(best.x + dx), Double(best.y + dy)))
                }
            }
        }
        return boxes
    }

    func layout(width: Int, height: Int, _ m: Renderer) -> AxesLayout {
        let base = layout(width: width, height: height, m, topExtra: 0)
        // With an inset, the legend goes above the chart: the inset takes the freest corner.
        if (inset != nil && legendEntries.contains { !$0.label.isEmpty })
            || Legend.needsRowAbove(
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

    func axis(_ lo: Double, _ hi: Double, log: Bool, fixed: ClosedRange<Double>?, target: Int) -> AxisTicks {
        if let r = fixed, r.lowerBound.isFinite, r.upperBound.isFinite, r.upperBound > r.lowerBound,
            !log || r.lowerBound > 0
        {
            return log
                ? Ticks.log(r.lowerBound, r.upperBound, target: target, pad: 0)
                : Ticks.linear(r.lowerBound, r.upperBound, target: target, pad: 0)
        }
        return log ? Ticks.log(lo, hi, target: target, pad: 0.04) : Ticks.linear(lo, hi, target: target, pad: 0.05)
    }

    func layout(width: Int, height: Int, _ measure: Renderer, topExtra: Int) -> AxesLayout {
        let t = Theme(width: width, height: height, measure: measure)
        var xlo = Double.infinity
        var xhi = -Double.infinity
        var ylo = Double.infinity
        var yhi = -Double.infinity
        for s in series {
            for (k, (x, y)) in zip(s.x, s.y).enumerated() where isShowable(x, y) {
                let e = k < s.yErrors.count && s.yErrors[k].isFinite ? s.yErrors[k] : 0
                xlo = min(xlo, x)
                xhi = max(xhi, x)
                ylo = min(ylo, logY && y - e <= 0 ? y : y - e)
                yhi = max(yhi, y + e)
            }
        }
        let frame = Frame(title: title, xLabel: xLabel, yLabel: yLabel, grid: grid)
        let yTarget = max(2, min(8, (height - 6 * t.lineHeight) / (t.lineHeight * 3)))
        let yt = axis(ylo, yhi, log: logY, fixed: yRange, target: yTarget)
        var xTarget = max(2, min(10, width / (t.lineHeight * 5)))
        var xt = axis(xlo, xhi, log: logX, fixed: xRange, target: xTarget)
        var m = frame.margins(theme: t, yTickLabels: yt.labels, xTickLabels: xt.labels, topExtra: topExtra)
        // Fewer x ticks until their labels fit side by side.
        for _ in 0..<8 {
            let plotW = max(1, width - m.left - m.right)
            let widest = xt.labels.map { t.width($0) }.max() ?? 0
            let spacing = xt.major.count > 1 ? Double(plotW) / Double(xt.major.count) : Double(plotW)
            if Double(widest + 2 * t.pad) <= spacing || xTarget <= 2 { break }
            xTarget -= 1
            xt = axis(xlo, xhi, log: logX, fixed: xRange, target: xTarget)
            m = frame.margins(theme: t, yTickLabels: yt.labels, xTickLabels: xt.labels, topExtra: topExtra)
        }
        let rect = PixelRect(
            x: min(m.left, width - 1), y: min(m.top, height - 1),
            width: max(1, width - m.left - m.right), height: max(1, height - m.top - m.bottom))
        let area = PlotArea(
            rect: rect, xRange: xt.lo...xt.hi, yRange: yt.lo...yt.hi,
            xScale: logX ? .log : .linear, yScale: logY ? .log : .linear)
        func xs(_ v: Double) -> Double { area.point(x: v, y: yt.lo).x }
        func ys(_ v: Double) -> Double { area.point(x: xt.lo, y: v).y }
        let xTicks =
            zip(xt.major, xt.labels).map { FrameTick(position: xs($0), label: $1) }
            + xt.minor.map { FrameTick(position: xs($0), label: "", major: false) }
        let yTicks =
            zip(yt.major, yt.labels).map { FrameTick(position: ys($0), label: $1) }
            + yt.minor.map { FrameTick(position: ys($0), label: "", major: false) }
        return AxesLayout(theme: t, area: area, frame: frame, xTicks: xTicks, yTicks: yTicks, topExtra: topExtra)
    }

    func draw(on c: Renderer, width: Int, height: Int) {
        let L = layout(width: width, height: height, c)
        let t = L.theme
        let rect = L.area.rect
        L.frame.drawGrid(c, rect: rect, xTicks: L.xTicks, yTicks: L.yTicks)
        let inside = PixelRect(x: rect.x - 2, y: rect.y - 2, width: rect.width + 4, height: rect.height + 4)
        let lineAndMarkerPoints =
            series.contains { !$0.pointLabels.isEmpty } ? occupied(L.area, t, labels: false) : []
        for (k, s) in series.enumerated() {
            let color = s.color ?? Color.series(k)
            let pts = mapped(s, L.area)
            // Error bars: a vertical segment from y − e to y + e with short caps.
            for (k, e) in s.yErrors.enumerated() where e > 0 && e.isFinite && pts[k].x.isFinite {
                let lo = s.y[k] - e
                guard !logY || lo > 0 else { continue }
                let top = L.area.point(x: s.x[k], y: s.y[k] + e)
                let bottom = L.area.point(x: s.x[k], y: lo)
                let cap = t.markerRadius + 1
                c.strokePolyline([top, bottom], color: color, width: 1, clip: rect)
                for end in [top, bottom] {
                    c.strokePolyline(
                        [Point(end.x - cap, end.y), Point(end.x + cap, end.y)], color: color, width: 1, clip: rect)
                }
            }
            if s.line { c.strokePolyline(pts, color: color, width: t.lineWidth, dash: s.dash, clip: rect) }
            if markers(s) {
                let r = s.line ? t.markerRadius - 0.5 : t.markerRadius
                for p in pts where p.x.isFinite && inside.contains(Int(p.x), Int(p.y)) {
                    c.marker(s.marker, center: p, radius: r + 1, color: .white)
                    c.marker(s.marker, center: p, radius: r, color: color)
                }
            }
            // With an inset, the point labels go there, where the points are spread out.
            let shown = zip(pts, inset == nil ? s.pointLabels : []).filter { $0.0.x.isFinite && !$0.1.isEmpty }
            for ((p, text), box) in zip(shown, labelBoxes(s, pts, rect, t, taken: lineAndMarkerPoints))
            where inside.contains(Int(p.x), Int(p.y)) {
                c.drawText(text, x: box.x, y: box.y, size: t.sizes.annotation, color: Color(hex: 0x4D4D4D))
            }
        }
        L.frame.drawDecorations(c, theme: t, rect: rect, xTicks: L.xTicks, yTicks: L.yTicks, topExtra: L.topExtra)
        var taken = occupied(L.area, t)
        if let inset, let box = drawInset(inset, on: c, L) {
            for y in stride(from: box.y, through: box.maxY, by: 4) {
                for x in stride(from: box.x, through: box.maxX, by: 4) { taken.append(Point(Double(x), Double(y))) }
            }
        }
        if L.legendAbove {
            Legend.drawRows(c, theme: t, rect: rect, entries: legendEntries)
        } else {
            Legend.draw(c, theme: t, rect: rect, entries: legendEntries, occupied: taken)
        }
    }
}

extension XYChart {
    /// Draws the zoomed copy of the chart in the corner of the data area that covers the least
    /// data, and outlines the zoomed region on the main chart; returns the inset's box.
    func drawInset(_ inset: ZoomInset, on c: Renderer, _ L: AxesLayout) -> PixelRect? {
        let rect = L.area.rect
        let t = L.theme
        let w = Int(Double(rect.width) * inset.size)
        let h = Int(Double(rect.height) * inset.size)
        guard w >= 60, h >= 50 else { return nil }
        let m = t.pad
        let taken = occupied(L.area, t, labels: false)
        let region = [
            L.area.point(x: inset.x.lowerBound, y: inset.y.lowerBound),
            L.area.point(x: inset.x.upperBound, y: inset.y.upperBound),
        ]
        let marked = PixelRect(
            x: Int(min(region[0].x, region[1].x)), y: Int(min(region[0].y, region[1].y)),
            width: Int(abs(region[1].x - region[0].x)), height: Int(abs(region[1].y - region[0].y)))
        var best: PixelRect? = nil
        var bestCount = Int.max
        for (x, y) in [
            (rect.maxX - m - w, rect.maxY - m - h), (rect.x + m, rect.maxY - m - h), (rect.maxX - m - w, rect.y + m),
            (rect.x + m, rect.y + m),
        ] {
            let box = PixelRect(x: x, y: y, width: w, height: h)
            var n = taken.reduce(0) { $0 + (box.contains(Int($1.x), Int($1.y)) ? 1 : 0) }
            let overlapsRegion =
                box.x < marked.maxX && marked.x < box.maxX && box.y < marked.maxY && marked.y < box.maxY
            if overlapsRegion { n += 10_000 }
            if n < bestCount {
                bestCount = n
                best = box
            }
        }
        guard let box = best else { return nil }
        // The zoomed region on the main chart.
        c.stroke(
            PixelRect(x: marked.x - 1, y: marked.y - 1, width: marked.width + 2, height: marked.height + 2),
            Color.midGray, width: 0.75)
        // The inset: the same series over the zoomed ranges, without legend or axis labels.
        c.fill(box, .white)
        c.stroke(box, Color(hex: 0xCCCCCC))
        var zoomed = self
        zoomed.inset = nil
        zoomed.title = ""
        zoomed.xLabel = ""
        zoomed.yLabel = ""
        zoomed.xRange = inset.x
        zoomed.yRange = inset.y
        for k in zoomed.series.indices {
            zoomed.series[k].label = ""
            if zoomed.series[k].color == nil { zoomed.series[k].color = Color.series(k) }
        }
        c.translated(x: Double(box.x), y: Double(box.y)) {
            zoomed.draw(on: c, width: box.width, height: box.height)
        }
        return box
    }
}

/// A magnified copy of a chart's data over smaller ranges, drawn inside the chart in the corner
/// that covers the least data (a grey outline marks the magnified region on the chart), so a
/// narrow band of values stays readable beside the full range; point labels move into it.
public struct ZoomInset: Sendable, Equatable {
    /// The x range magnified.
    public var x: ClosedRange<Double>
    /// The y range magnified.
    public var y: ClosedRange<Double>
    /// The inset's width and height as a share of the data area (default 0.5).
    public var size: Double

    /// An inset magnifying `x` × `y`, taking `size` of the data area's width and height.
    public init(x: ClosedRange<Double>, y: ClosedRange<Double>, size: Double = 0.5) {
        self.x = x
        self.y = y
        self.size = min(0.7, max(0.2, size.isFinite ? size : 0.5))
    }
}

/// A line chart of one or more series, e.g. training and test loss against the epoch.
///
/// Series get the Tableau-10 colours in order unless a colour is given. Points with a NaN
/// or infinite coordinate are **skipped and counted** in ``skippedNonFinite`` (the line is
/// broken there); with `logY` the points with y ≤ 0 are likewise skipped, broken and counted
/// in ``skippedNonPositive`` — no error is thrown for either. Series of at most 30 points get
/// markers, so a single point is still visible.
///
/// ```swift
/// var plot = LinePlot(title: "Training loss", xLabel: "epoch", yLabel: "loss", logY: true)
/// plot.add(y: trainLoss, label: "train")
/// plot.add(y: testLoss, label: "test")
/// try plot.write(to: URL(fileURLWithPath: "results/loss.png"))
/// ```
public struct LinePlot: Figure, Sendable {
    var chart = XYChart()

    /// Title drawn above the chart.
    public var title: String {
        get { chart.title }
        set { chart.title = newValue }
    }
    /// Label under the x axis.
    public var xLabel: String {
        get { chart.xLabel }
        set { chart.xLabel = newValue }
    }
    /// Label beside the y axis (drawn rotated).
    public var yLabel: String {
        get { chart.yLabel }
        set { chart.yLabel = newValue }
    }
    /// Whether the y axis is logarithmic (base 10).
    public var logY: Bool {
        get { chart.logY }
        set { chart.logY = newValue }
    }
    /// Whether the x axis is logarithmic (base 10).
    public var logX: Bool {
        get { chart.logX }
        set { chart.logX = newValue }
    }
    /// Whether light grid lines are drawn at the major ticks (default true).
    public var showsGrid: Bool {
        get { chart.grid }
        set { chart.grid = newValue }
    }
    /// A fixed x range instead of the data's (ignored if empty, non-finite, or not positive on a log axis).
    public var xRange: ClosedRange<Double>? {
        get { chart.xRange }
        set { chart.xRange = newValue }
    }
    /// A fixed y range instead of the data's.
    public var yRange: ClosedRange<Double>? {
        get { chart.yRange }
        set { chart.yRange = newValue }
    }

    /// An empty line chart.
    public init(title: String = "", xLabel: String = "", yLabel: String = "", logY: Bool = false) {
        chart.title = title
        chart.xLabel = xLabel
        chart.yLabel = yLabel
        chart.logY = logY
    }

    /// Adds a series.
    /// - Parameters:
    ///   - x: the x coordinates.
    ///   - y: the y coordinates (as many as `x`).
    ///   - label: the legend text (series with an empty label are left out of the legend).
    ///   - color: the line colour (default: the next Tableau-10 colour).
    ///   - markers: draw a marker at each point (default: only for series of at most 30 points).
    ///   - marker: the markers' shape (default a disc).
    ///   - dashed: draw the line dashed (to tell apart series that overlap).
    ///   - yErrors: half-lengths of vertical error bars (e.g. a standard deviation over seeds),
    ///     one per point, or `[]` for none.
    /// - Throws: `IDLError.shapeMismatch` if `x` and `y` (or `yErrors`, when given) differ in
    ///   length; `IDLError.invalidArgument` for a negative or NaN error bar.
    public mutating func add<X: BinaryFloatingPoint, Y: BinaryFloatingPoint>(
        x: [X], y: [Y], label: String = "", color: Color? = nil, markers: Bool? = nil,
        marker: MarkerShape = .circle, dashed: Bool = false, yErrors: [Double] = []
    ) throws {
        try chart.add(
            x: x.map { Double($0) }, y: y.map { Double($0) }, label: label, color: color,
            line: true, markers: markers, pointLabels: [], marker: marker, dashed: dashed, yErrors: yErrors)
    }

    /// Adds a series with integer x coordinates (e.g. epochs); the parameters are those of the
    /// floating-point `add(x:y:…)`.
    /// - Throws: `IDLError.shapeMismatch` if `x` and `y` differ in length.
    public mutating func add<X: BinaryInteger, Y: BinaryFloatingPoint>(
        x: [X], y: [Y], label: String = "", color: Color? = nil, markers: Bool? = nil,
        marker: MarkerShape = .circle, dashed: Bool = false
    ) throws {
        try chart.add(
            x: x.map { Double($0) }, y: y.map { Double($0) }, label: label, color: color,
            line: true, markers: markers, pointLabels: [], marker: marker, dashed: dashed)
    }

    /// Adds a series plotted against 1, 2, …, n (e.g. a loss per epoch).
    public mutating func add<Y: BinaryFloatingPoint>(
        y: [Y], label: String = "", color: Color? = nil, markers: Bool? = nil,
        marker: MarkerShape = .circle, dashed: Bool = false
    ) {
        try! chart.add(
            x: (0..<y.count).map { Double($0 + 1) }, y: y.map { Double($0) }, label: label,
            color: color, line: true, markers: markers, pointLabels: [], marker: marker, dashed: dashed)
    }

    /// Number of series added.
    public var seriesCount: Int { chart.series.count }
    /// Points left out because a coordinate is NaN or ±∞.
    public var skippedNonFinite: Int { chart.nonFiniteCount }
    /// Points left out because they are ≤ 0 on a logarithmic axis.
    public var skippedNonPositive: Int { chart.nonPositiveCount }
    /// All points left out (``skippedNonFinite`` + ``skippedNonPositive``).
    public var skippedPoints: Int { skippedNonFinite + skippedNonPositive }

    /// Where the data area lies on a figure of this size (in points), and how data maps onto it.
    public func plotArea(width: Int, height: Int) -> PlotArea {
        chart.layout(width: width, height: height, .measuring()).area
    }

    /// Draws the chart in a `width`×`height`-point box.
    public func draw(on renderer: Renderer, width: Int, height: Int) {
        chart.draw(on: renderer, width: width, height: height)
    }
}

/// A scatter plot of one or more point sets, e.g. test accuracy against sparsity for a sweep
/// of regularisation strengths, optionally joined by lines (a frontier) and annotated.
///
/// Non-finite points (and non-positive ones on a log axis) are skipped and counted, as in
/// ``LinePlot``.
///
/// ```swift
/// var plot = ScatterPlot(title: "SIM frontier", xLabel: "sparsity (%)", yLabel: "test accuracy (%)")
/// try plot.add(x: sparsity, y: accuracy, label: "FISTA", connect: true, pointLabels: lambdas.map { "λ=\($0)" })
/// ```
public struct ScatterPlot: Figure, Sendable {
    var chart = XYChart()

    /// Title drawn above the chart.
    public var title: String {
        get { chart.title }
        set { chart.title = newValue }
    }
    /// Label under the x axis.
    public var xLabel: String {
        get { chart.xLabel }
        set { chart.xLabel = newValue }
    }
    /// Label beside the y axis.
    public var yLabel: String {
        get { chart.yLabel }
        set { chart.yLabel = newValue }
    }
    /// Whether the x axis is logarithmic.
    public var logX: Bool {
        get { chart.logX }
        set { chart.logX = newValue }
    }
    /// Whether the y axis is logarithmic.
    public var logY: Bool {
        get { chart.logY }
        set { chart.logY = newValue }
    }
    /// Whether light grid lines are drawn (default true).
    public var showsGrid: Bool {
        get { chart.grid }
        set { chart.grid = newValue }
    }
    /// A fixed x range instead of the data's.
    public var xRange: ClosedRange<Double>? {
        get { chart.xRange }
        set { chart.xRange = newValue }
    }
    /// A fixed y range instead of the data's.
    public var yRange: ClosedRange<Double>? {
        get { chart.yRange }
        set { chart.yRange = newValue }
    }

    /// A magnified copy of part of the chart drawn inside it (see ``ZoomInset``), or nil; with
    /// an inset, the legend is drawn above the chart.
    public var inset: ZoomInset? {
        get { chart.inset }
        set { chart.inset = newValue }
    }

    /// An empty scatter plot.
    public init(title: String = "", xLabel: String = "", yLabel: String = "", logX: Bool = false, logY: Bool = false) {
        chart.title = title
        chart.xLabel = xLabel
        chart.yLabel = yLabel
        chart.logX = logX
        chart.logY = logY
    }

    /// Adds a set of points.
    /// - Parameters:
    ///   - x: the x coordinates.
    ///   - y: the y coordinates (as many as `x`).
    ///   - label: the legend text (sets with an empty label are left out of the legend).
    ///   - color: the point colour (default: the next Tableau-10 colour).
    ///   - connect: join the points by a line in the given order (a frontier or a path).
    ///   - pointLabels: a small annotation beside each point (empty strings for none), or `[]`.
    ///   - marker: the markers' shape (default a disc).
    ///   - dashed: draw the connecting line dashed.
    ///   - yErrors: half-lengths of vertical error bars (e.g. a standard deviation over seeds),
    ///     one per point, or `[]` for none.
    /// - Throws: `IDLError.shapeMismatch` if the arrays differ in length;
    ///   `IDLError.invalidArgument` for a negative or NaN error bar.
    public mutating func add<X: BinaryFloatingPoint, Y: BinaryFloatingPoint>(
        x: [X], y: [Y], label: String = "", color: Color? = nil, connect: Bool = false,
        pointLabels: [String] = [], marker: MarkerShape = .circle, dashed: Bool = false, yErrors: [Double] = []
    ) throws {
        try chart.add(
            x: x.map { Double($0) }, y: y.map { Double($0) }, label: label, color: color,
            line: connect, markers: true, pointLabels: pointLabels, marker: marker, dashed: dashed, yErrors: yErrors)
    }

    /// Number of point sets added.
    public var seriesCount: Int { chart.series.count }
    /// Points left out because a coordinate is NaN or ±∞.
    public var skippedNonFinite: Int { chart.nonFiniteCount }
    /// Points left out because they are ≤ 0 on a logarithmic axis.
    public var skippedNonPositive: Int { chart.nonPositiveCount }
    /// All points left out.
    public var skippedPoints: Int { skippedNonFinite + skippedNonPositive }

    /// Where the data area lies on a figure of this size (in points), and how data maps onto it.
    public func plotArea(width: Int, height: Int) -> PlotArea {
        chart.layout(width: width, height: height, .measuring()).area
    }

    /// Draws the chart in a `width`×`height`-point box.
    public func draw(on renderer: Renderer, width: Int, height: Int) {
        chart.draw(on: renderer, width: width, height: height)
    }
}
