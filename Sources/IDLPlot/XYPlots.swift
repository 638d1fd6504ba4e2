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
        pointLabels: [String]
    ) throws {
        guard x.count == y.count else {
            throw IDLError.shapeMismatch("series \"\(label)\": \(x.count) x values but \(y.count) y values")
        }
        guard pointLabels.isEmpty || pointLabels.count == x.count else {
            throw IDLError.shapeMismatch("series \"\(label)\": \(pointLabels.count) point labels for \(x.count) points")
        }
        series.append(
            XYSeries(x: x, y: y, label: label, color: color, line: line, markers: markers, pointLabels: pointLabels))
    }

    func markers(_ s: XYSeries) -> Bool {
        let n = zip(s.x, s.y).filter { isShowable($0, $1) }.count
        return s.markers ?? (!s.line || n <= 30)
    }

    var legendEntries: [LegendEntry] {
        series.enumerated().map { k, s in
            LegendEntry(
                label: s.label, color: s.color ?? Color.series(k),
                kind: s.line ? (markers(s) ? .lineAndMarker : .line) : .marker)
        }
    }

    func mapped(_ s: XYSeries, _ area: PlotArea) -> [Point] {
        zip(s.x, s.y).map { x, y in isShowable(x, y) ? area.point(x: x, y: y) : Point(.nan, .nan) }
    }

    /// Points the legend should not cover: data points, samples along lines, point labels.
    func occupied(_ area: PlotArea, labels: Bool = true) -> [Point] {
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
            for box in labelBoxes(s, mapped(s, area), area.rect, taken: lines) {
                for dx in stride(from: 0, through: box.width, by: 6) {
                    occupied.append(Point(Double(box.x + dx), Double(box.y + box.height / 2)))
                }
            }
        }
        return occupied
    }

    /// Where each point label goes: of the four corners around its point, the one that
    /// covers the fewest `taken` points (lines and markers) and stays inside `rect`.
    func labelBoxes(_ s: XYSeries, _ pts: [Point], _ rect: PixelRect, taken: [Point]) -> [PixelRect] {
        var boxes: [PixelRect] = []
        let h = BitmapFont.capHeight
        let gap = 5
        for (p, text) in zip(pts, s.pointLabels) where p.x.isFinite && !text.isEmpty {
            let w = BitmapFont.width(of: text)
            let px = Int(p.x)
            let py = Int(p.y)
            let candidates = [
                PixelRect(x: px + gap, y: py - gap - h, width: w, height: h),
                PixelRect(x: px + gap, y: py + gap, width: w, height: h),
                PixelRect(x: px - gap - w, y: py - gap - h, width: w, height: h),
                PixelRect(x: px - gap - w, y: py + gap, width: w, height: h),
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
        }
        return boxes
    }

    func layout(width: Int, height: Int) -> AxesLayout {
        let base = layout(width: width, height: height, topExtra: 0)
        if Legend.needsRowAbove(
            theme: base.theme, rect: base.area.rect, entries: legendEntries, occupied: occupied(base.area))
        {
            var L = layout(width: width, height: height, topExtra: Legend.rowHeight(base.theme))
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

    func layout(width: Int, height: Int, topExtra: Int) -> AxesLayout {
        let t = Theme(width: width, height: height)
        var xlo = Double.infinity
        var xhi = -Double.infinity
        var ylo = Double.infinity
        var yhi = -Double.infinity
        for s in series {
            for (x, y) in zip(s.x, s.y) where isShowable(x, y) {
                xlo = min(xlo, x)
                xhi = max(xhi, x)
                ylo = min(ylo, y)
                yhi = max(yhi, y)
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
            let widest = xt.labels.map { BitmapFont.width(of: $0, scale: t.s) }.max() ?? 0
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

    func render(width: Int, height: Int) -> Canvas {
        let L = layout(width: width, height: height)
        let t = L.theme
        let rect = L.area.rect
        var c = Canvas(width: width, height: height)
        L.frame.drawGrid(&c, rect: rect, xTicks: L.xTicks, yTicks: L.yTicks)
        let inside = PixelRect(x: rect.x - 2, y: rect.y - 2, width: rect.width + 4, height: rect.height + 4)
        let lineAndMarkerPoints = series.contains { !$0.pointLabels.isEmpty } ? occupied(L.area, labels: false) : []
        for (k, s) in series.enumerated() {
            let color = s.color ?? Color.series(k)
            let pts = mapped(s, L.area)
            if s.line { c.strokePolyline(pts, color: color, width: t.lineWidth, clip: rect) }
            if markers(s) {
                let r = s.line ? t.markerRadius - 0.5 : t.markerRadius
                for p in pts where p.x.isFinite && inside.contains(Int(p.x), Int(p.y)) {
                    c.fillCircle(center: p, radius: r + 1, color: .white)
                    c.fillCircle(center: p, radius: r, color: color)
                }
            }
            let shown = zip(pts, s.pointLabels).filter { $0.0.x.isFinite && !$0.1.isEmpty }
            for ((p, text), box) in zip(shown, labelBoxes(s, pts, rect, taken: lineAndMarkerPoints))
            where inside.contains(Int(p.x), Int(p.y)) {
                c.drawText(text, x: box.x, y: box.y, color: Color(hex: 0x4D4D4D))
            }
        }
        L.frame.drawDecorations(&c, theme: t, rect: rect, xTicks: L.xTicks, yTicks: L.yTicks, topExtra: L.topExtra)
        if L.legendAbove {
            Legend.drawRow(&c, theme: t, rect: rect, entries: legendEntries)
        } else {
            Legend.draw(&c, theme: t, rect: rect, entries: legendEntries, occupied: occupied(L.area))
        }
        return c
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
    ///   - markers: draw a dot at each point (default: only for series of at most 30 points).
    /// - Throws: `IDLError.shapeMismatch` if `x` and `y` differ in length.
    public mutating func add<X: BinaryFloatingPoint, Y: BinaryFloatingPoint>(
        x: [X], y: [Y], label: String = "", color: Color? = nil, markers: Bool? = nil
    ) throws {
        try chart.add(
            x: x.map { Double($0) }, y: y.map { Double($0) }, label: label, color: color,
            line: true, markers: markers, pointLabels: [])
    }

    /// Adds a series with integer x coordinates (e.g. epochs).
    /// - Throws: `IDLError.shapeMismatch` if `x` and `y` differ in length.
    public mutating func add<X: BinaryInteger, Y: BinaryFloatingPoint>(
        x: [X], y: [Y], label: String = "", color: Color? = nil, markers: Bool? = nil
    ) throws {
        try chart.add(
            x: x.map { Double($0) }, y: y.map { Double($0) }, label: label, color: color,
            line: true, markers: markers, pointLabels: [])
    }

    /// Adds a series plotted against 1, 2, …, n (e.g. a loss per epoch).
    public mutating func add<Y: BinaryFloatingPoint>(
        y: [Y], label: String = "", color: Color? = nil, markers: Bool? = nil
    ) {
        try! chart.add(
            x: (0..<y.count).map { Double($0 + 1) }, y: y.map { Double($0) }, label: label,
            color: color, line: true, markers: markers, pointLabels: [])
    }

    /// Number of series added.
    public var seriesCount: Int { chart.series.count }
    /// Points left out because a coordinate is NaN or ±∞.
    public var skippedNonFinite: Int { chart.nonFiniteCount }
    /// Points left out because they are ≤ 0 on a logarithmic axis.
    public var skippedNonPositive: Int { chart.nonPositiveCount }
    /// All points left out (``skippedNonFinite`` + ``skippedNonPositive``).
    public var skippedPoints: Int { skippedNonFinite + skippedNonPositive }

    /// Where the data area lies on a canvas of this size, and how data maps onto it.
    public func plotArea(width: Int, height: Int) -> PlotArea { chart.layout(width: width, height: height).area }

    /// Draws the chart on a new canvas.
    public func render(width: Int, height: Int) -> Canvas { chart.render(width: width, height: height) }
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
    /// - Throws: `IDLError.shapeMismatch` if the arrays differ in length.
    public mutating func add<X: BinaryFloatingPoint, Y: BinaryFloatingPoint>(
        x: [X], y: [Y], label: String = "", color: Color? = nil, connect: Bool = false,
        pointLabels: [String] = []
    ) throws {
        try chart.add(
            x: x.map { Double($0) }, y: y.map { Double($0) }, label: label, color: color,
            line: connect, markers: true, pointLabels: pointLabels)
    }

    /// Number of point sets added.
    public var seriesCount: Int { chart.series.count }
    /// Points left out because a coordinate is NaN or ±∞.
    public var skippedNonFinite: Int { chart.nonFiniteCount }
    /// Points left out because they are ≤ 0 on a logarithmic axis.
    public var skippedNonPositive: Int { chart.nonPositiveCount }
    /// All points left out.
    public var skippedPoints: Int { skippedNonFinite + skippedNonPositive }

    /// Where the data area lies on a canvas of this size, and how data maps onto it.
    public func plotArea(width: Int, height: Int) -> PlotArea { chart.layout(width: width, height: height).area }

    /// Draws the chart on a new canvas.
    public func render(width: Int, height: Int) -> Canvas { chart.render(width: width, height: height) }
}
