import Foundation
import IDL

/// How an axis maps data values to positions.
public enum AxisScale: Sendable, Equatable {
    /// Evenly spaced values.
    case linear
    /// Base-10 logarithmic: equal ratios are equally spaced. Only positive values can be shown.
    case log
}

/// A chart that draws itself through a ``Renderer`` and can be written as PNG, PDF or SVG.
///
/// Sizes are in points. A PNG has `scale` pixels per point (default 2: an 800×500-point figure
/// is 1600×1000 pixels); a PDF or SVG is a page of the figure's size in points. Text is set in
/// DejaVu Sans at fixed point sizes (title, axis labels, ticks, legend, annotations).
public protocol Figure {
    /// Draws the figure in a `width`×`height`-point box on `renderer`, whose background is
    /// already white.
    func draw(on renderer: Renderer, width: Int, height: Int)
}

extension Figure {
    /// Draws the figure into a raster image of `scale` pixels per point.
    /// - Throws: `IDLError.invalidArgument` for a size outside 16...8192 points or a scale
    ///   outside 0.25...8; `IDLError.io` when the font DejaVu Sans is not installed.
    public func render(width: Int = 800, height: Int = 500, scale: Double = 2) throws -> Canvas {
        try checkFigureSize(width, height, scale: scale)
        return try Output.raster(width: width, height: height, scale: scale) {
            draw(on: $0, width: width, height: height)
        }
    }

    /// The PNG file bytes of the figure (8-bit RGB, `scale` pixels per point, written by libpng).
    /// - Throws: as ``render(width:height:scale:)``.
    public func pngData(width: Int = 800, height: Int = 500, scale: Double = 2) throws -> [UInt8] {
        try render(width: width, height: height, scale: scale).pngData()
    }

    /// The PDF file bytes of the figure: one page of `width`×`height` points with the text in
    /// embedded DejaVu Sans; its dates are fixed, so the same figure gives the same bytes.
    /// - Throws: as ``render(width:height:scale:)``.
    public func pdfData(width: Int = 800, height: Int = 500) throws -> [UInt8] {
        try checkFigureSize(width, height, scale: 1)
        return try Output.vector(.pdf, width: width, height: height) { draw(on: $0, width: width, height: height) }
    }

    /// The SVG file bytes of the figure, `width`×`height` points, glyphs drawn as outlines.
    /// - Throws: as ``render(width:height:scale:)``.
    public func svgData(width: Int = 800, height: Int = 500) throws -> [UInt8] {
        try checkFigureSize(width, height, scale: 1)
        return try Output.vector(.svg, width: width, height: height) { draw(on: $0, width: width, height: height) }
    }

    /// The file bytes of the figure in `format`.
    /// - Throws: as ``render(width:height:scale:)``.
    public func data(_ format: FigureFormat, width: Int = 800, height: Int = 500, scale: Double = 2) throws -> [UInt8] {
        switch format {
        case .png: return try pngData(width: width, height: height, scale: scale)
        case .pdf: return try pdfData(width: width, height: height)
        case .svg: return try svgData(width: width, height: height)
        }
    }

    /// Writes the figure in the format its file name's extension names (`.png`, `.pdf`,
    /// `.svg`), atomically (temporary file in the same directory, then rename).
    /// - Throws: `IDLError.invalidArgument` for another extension, a size outside 16...8192
    ///   points or a scale outside 0.25...8; `IDLError.io` for a missing or unwritable
    ///   directory, or when the font DejaVu Sans is not installed.
    public func write(to url: URL, width: Int = 800, height: Int = 500, scale: Double = 2) throws {
        guard let format = FigureFormat(pathExtension: url.pathExtension) else {
            throw IDLError.invalidArgument(
                "\(url.lastPathComponent): a figure is written as .png, .pdf or .svg; name the file with one of these extensions"
            )
        }
        try writeFileAtomically(data(format, width: width, height: height, scale: scale), to: url)
    }

    /// Writes the figure once per format, each file named `url` with the format's extension
    /// (`loss` or `loss.png` with `[.png, .pdf]` writes `loss.png` and `loss.pdf`; only a
    /// `.png`, `.pdf` or `.svg` extension is replaced, so `spy-1e-3` stays whole).
    /// - Returns: the files written, in the order of `formats`.
    /// - Throws: as ``write(to:width:height:scale:)``.
    @discardableResult
    public func write(
        to url: URL, formats: [FigureFormat], width: Int = 800, height: Int = 500, scale: Double = 2
    ) throws -> [URL] {
        let base = FigureFormat(pathExtension: url.pathExtension) == nil ? url : url.deletingPathExtension()
        return try formats.map { f in
            let u = base.appendingPathExtension(f.rawValue)
            try write(to: u, width: width, height: height, scale: scale)
            return u
        }
    }
}

func checkFigureSize(_ width: Int, _ height: Int, scale: Double) throws {
    guard (16...8192).contains(width), (16...8192).contains(height) else {
        throw IDLError.invalidArgument("figure size must be 16...8192 points on each side, got \(width)×\(height)")
    }
    guard scale.isFinite, (0.25...8).contains(scale) else {
        throw IDLError.invalidArgument("figure scale must be 0.25...8 pixels per point, got \(scale)")
    }
}

/// Where a chart's data area lies on the canvas and how data coordinates map onto it;
/// returned by the charts' `plotArea(width:height:)` so callers (and tests) can locate data.
public struct PlotArea: Equatable, Sendable {
    /// The data area in points (the axis frame is drawn one point outside it).
    public let rect: PixelRect
    /// The x range shown (data units; for a log axis the actual values, not their logs).
    public let xRange: ClosedRange<Double>
    /// The y range shown.
    public let yRange: ClosedRange<Double>
    /// The x-axis scale.
    public let xScale: AxisScale
    /// The y-axis scale.
    public let yScale: AxisScale

    /// Figure position (points) of the data point (x, y) (may lie outside `rect` if the point is out
    /// of range; NaN for values a log axis cannot show).
    /// Coordinates far outside the canvas are clamped to ±10⁷ pixels (NaN stays NaN).
    public func point(x: Double, y: Double) -> Point {
        Point(
            clampCoordinate(Double(rect.x) + fraction(x, xRange, xScale) * Double(rect.width)),
            clampCoordinate(Double(rect.maxY) - fraction(y, yRange, yScale) * Double(rect.height)))
    }

    /// The unit square (column, row) of points containing the data point (x, y): the pixel
    /// on a figure rendered at scale 1.
    public func pixel(x: Double, y: Double) -> (x: Int, y: Int) {
        let p = point(x: x, y: y)
        return (Int(p.x.rounded(.down)), Int(p.y.rounded(.down)))
    }

    func fraction(_ v: Double, _ r: ClosedRange<Double>, _ s: AxisScale) -> Double {
        guard r.upperBound > r.lowerBound else { return 0.5 }
        switch s {
        case .linear:
            return (v - r.lowerBound) / (r.upperBound - r.lowerBound)
        case .log:
            guard v > 0 else { return .nan }
            return (Foundation.log10(v) - Foundation.log10(r.lowerBound))
                / (Foundation.log10(r.upperBound) - Foundation.log10(r.lowerBound))
        }
    }
}

/// A canvas coordinate limited to ±10⁷ (far beyond any canvas), so integer conversions
/// are safe; NaN passes through.
func clampCoordinate(_ v: Double) -> Double { v.isNaN ? v : max(-1e7, min(1e7, v)) }

// MARK: - Theme

/// Sizes derived from the figure's size, in points: the text sizes (``TextSizes``), spacing,
/// line widths. Figures of normal size use the standard sizes, small ones the compact sizes.
struct Theme {
    let s: Int
    let sizes: TextSizes
    let measure: Renderer
    init(width: Int, height: Int, measure: Renderer) {
        s = (width >= 520 && height >= 340) ? 2 : 1
        sizes = s == 2 ? .standard : .compact
        self.measure = measure
    }
    /// Cap height of tick labels.
    var capHeight: Int { Int(measure.capHeight(size: sizes.tick).rounded()) }
    /// Line height of tick labels.
    var lineHeight: Int { Int((sizes.tick * 1.25).rounded(.up)) }
    /// Line height of axis labels.
    var labelHeight: Int { Int((sizes.label * 1.25).rounded(.up)) }
    /// Line height of the title.
    var titleHeight: Int { Int((sizes.title * 1.25).rounded(.up)) }
    var tickLength: Int { 2 + 2 * s }
    var pad: Int { 6 * s }
    var lineWidth: Double { s == 2 ? 1.75 : 1.25 }
    var markerRadius: Double { s == 2 ? 3.75 : 2.75 }
    /// Width of `text` at `size` (default: the tick size), rounded up to whole points.
    func width(_ text: String, size: Double? = nil) -> Int {
        Int(measure.textWidth(text, size: size ?? sizes.tick).rounded(.up))
    }
}

// MARK: - Ticks

/// An axis' view range and its labelled ticks.
struct AxisTicks {
    var lo: Double
    var hi: Double
    var scale: AxisScale
    var major: [Double]
    var labels: [String]
    var minor: [Double] = []
}

enum Ticks {
    /// A "nice" step (1, 2 or 5 × 10^k) near `raw`.
    static func niceStep(_ raw: Double) -> Double {
        guard raw.isFinite, raw > 0 else { return 1 }
        let mag = pow(10, (log10(raw)).rounded(.down))
        let f = raw / mag
        let nice: Double = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10
        return nice * mag
    }

    /// Extends a degenerate or empty range to something drawable.
    static func sanitize(_ lo: Double, _ hi: Double, log: Bool) -> (Double, Double) {
        if !lo.isFinite || !hi.isFinite || lo > hi { return log ? (1, 10) : (0, 1) }
        // Keep spans and paddings finite: axes end at ±1e300 (points beyond are off the chart).
        let lo = max(-1e300, min(1e300, lo))
        let hi = max(-1e300, min(1e300, hi))
        if log {
            let lo = max(1e-300, lo)
            let hi = max(1e-300, hi)
            if lo == hi { return (lo / 2, hi * 2) }
            return (lo, hi)
        }
        if lo == hi {
            let d = lo == 0 ? 1 : abs(lo) * 0.1
            return (lo - d, hi + d)
        }
        return (lo, hi)
    }

    /// Linear ticks covering [lo, hi] (optionally padded by a fraction of the span), about
    /// `target` of them.
    static func linear(_ dataLo: Double, _ dataHi: Double, target: Int, pad: Double) -> AxisTicks {
        var (lo, hi) = sanitize(dataLo, dataHi, log: false)
        let span = hi - lo
        lo -= span * pad
        hi += span * pad
        let step = niceStep((hi - lo) / Double(max(1, target)))
        let k0d = (lo / step - 1e-9).rounded(.up)
        let k1d = (hi / step + 1e-9).rounded(.down)
        var values: [Double] = []
        if abs(k0d) < 1e15, abs(k1d) < 1e15, k1d >= k0d, k1d - k0d < 1000 {
            for k in Int(k0d)...Int(k1d) { values.append(Double(k) * step) }
        } else {
            values = [lo, hi]  // a span too small to tick relative to its values
        }
        return AxisTicks(lo: lo, hi: hi, scale: .linear, major: values, labels: labels(values, step: step))
    }

    /// Integer ticks for matrix indices 0..<n, placed at cell centres by the caller.
    static func indices(_ n: Int, target: Int) -> [Int] {
        guard n > 0 else { return [] }
        let step = max(1, Int(niceStep(Double(max(1, n - 1)) / Double(max(1, target)))))
        return Array(stride(from: 0, to: n, by: step))
    }

    /// Log ticks: powers of ten (thinned when there are many decades), with 2 and 5 × 10^k
    /// added when the range spans less than two decades; unlabelled minor ticks at 2…9 × 10^k.
    static func log(_ dataLo: Double, _ dataHi: Double, target: Int, pad: Double) -> AxisTicks {
        var (lo, hi) = sanitize(dataLo, dataHi, log: true)
        var l0 = log10(lo)
        var l1 = log10(hi)
        let span = l1 - l0
        l0 = max(-300, l0 - span * pad)
        l1 = min(300, l1 + span * pad)
        lo = pow(10, l0)
        hi = pow(10, l1)
        let d0 = Int(l0.rounded(.down))
        let d1 = Int(l1.rounded(.up))
        var major: [Double] = []
        var minor: [Double] = []
        let decades = l1 - l0
        let stride = max(1, Int((Double(d1 - d0) / Double(max(2, target))).rounded(.up)))
        let mantissas: [Double] =
            decades < 0.6
            ? [1, 2, 3, 4, 5, 6, 7, 8, 9] : decades < 1.2 ? [1, 2, 3, 5] : decades < 2.5 ? [1, 2, 5] : [1]
        for d in d0...d1 {
            for m in 1...9 {
                let v = Double(m) * pow(10, Double(d))
                guard v >= lo * (1 - 1e-9), v <= hi * (1 + 1e-9) else { continue }
                if mantissas.contains(Double(m)) && (m != 1 || (d - d0) % stride == 0) {
                    major.append(v)
                } else if stride == 1 {
                    minor.append(v)
                }
            }
        }
        return AxisTicks(lo: lo, hi: hi, scale: .log, major: major, labels: logLabels(major), minor: minor)
    }

    /// Labels for linear ticks with step `step`, one format for the whole axis: plain
    /// decimals with as many digits as the step needs ("0.0", "0.5", "1.0"; "100"; thousands
    /// separated when the axis reaches 10 000: "5,000", "10,000") unless the numbers are very
    /// large (≥ 10⁶) or all very small (< 0.01), then powers of ten ("1×10⁻³", "2.5×10⁶").
    /// Negative numbers carry a true minus sign (−).
    static func labels(_ values: [Double], step: Double) -> [String] {
        let maxAbs = values.map { abs($0) }.max() ?? 0
        let stepExp = Int(log10(step).rounded(.down))
        if maxAbs >= 1e6 || maxAbs < 1e-2 || step < 1e-4 {
            return values.map { v in abs(v) < step * 1e-6 ? "0" : scientific(v) }
        }
        let decimals = max(0, -stepExp)
        let separate = maxAbs >= 10_000
        return values.map { v in
            plain(abs(v) < step * 1e-6 ? 0 : v, decimals: decimals, separateThousands: separate)
        }
    }

    /// A fixed-point number with a true minus sign and, optionally, thousands separated by commas.
    static func plain(_ v: Double, decimals: Int, trim: Bool = false, separateThousands: Bool = false) -> String {
        var text = formatFixed(abs(v), decimals: decimals, trim: trim)
        if separateThousands {
            let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
            var digits = Array(parts[0])
            var i = digits.count - 3
            while i > 0 {
                digits.insert(",", at: i)
                i -= 3
            }
            text = String(digits) + (parts.count > 1 ? "." + parts[1] : "")
        }
        let isZero = text.allSatisfy { $0 == "0" || $0 == "." || $0 == "," }
        return v < 0 && !isZero ? "−" + text : text
    }

    /// Powers of ten with superscript exponents: "1×10⁻³", "2.5×10⁶", "−5×10⁻⁴"; "10⁻³"
    /// when the mantissa is 1 and `bare` is set.
    static func scientific(_ v: Double, bare: Bool = false) -> String {
        if v == 0 { return "0" }
        var e = Int(log10(abs(v)).rounded(.down))
        var m = v / pow(10, Double(e))
        if abs(m) >= 9.9995 {
            m /= 10
            e += 1
        }
        let power = "10" + superscript(e)
        if bare && abs(abs(m) - 1) < 1e-9 { return (m < 0 ? "−" : "") + power }
        return plain(m, decimals: 3, trim: true) + "×" + power
    }

    /// An integer in superscript digits: −3 → "⁻³".
    static func superscript(_ n: Int) -> String {
        let digits: [Character] = ["⁰", "¹", "²", "³", "⁴", "⁵", "⁶", "⁷", "⁸", "⁹"]
        return (n < 0 ? "⁻" : "") + String(abs(n)).map { digits[Int(String($0))!] }
    }

    /// Labels of log ticks, one format for the axis: plain numbers when every tick lies between
    /// 0.001 and 10 000 ("0.01", "1", "1,000" only past 10 000), else powers of ten
    /// ("10⁻⁴", "2×10⁻⁴").
    static func logLabels(_ values: [Double]) -> [String] {
        let exponents = values.map { Int(log10($0).rounded(.down)) }
        guard exponents.allSatisfy({ $0 >= -3 && $0 <= 4 }) else {
            return values.map { scientific($0, bare: true) }
        }
        let separate = (values.max() ?? 0) >= 10_000
        return zip(values, exponents).map { v, e in
            plain(v, decimals: max(0, -e), trim: true, separateThousands: separate)
        }
    }
}

// MARK: - Frame drawing

/// A tick on a frame edge: canvas coordinate along the edge and its label (empty = minor).
struct FrameTick {
    var position: Double
    var label: String
    var major: Bool = true
}

/// Where a chart with axes (line, scatter, bar) draws: the data area inside its frame, the ticks
/// on the frame's edges, and whether the legend goes above the data area (`topExtra` pixels).
struct AxesLayout {
    var theme: Theme
    var area: PlotArea
    var frame: Frame
    var xTicks: [FrameTick]
    var yTicks: [FrameTick]
    var legendAbove = false
    var topExtra = 0
}

/// Everything drawn around a data area: title, axis labels, ticks, tick labels, grid, frame.
struct Frame {
    var title: String = ""
    var xLabel: String = ""
    var yLabel: String = ""
    var grid: Bool = true

    /// Space taken outside the data area.
    struct Margins { var left: Int, right: Int, top: Int, bottom: Int }

    func margins(
        theme t: Theme, yTickLabels: [String], xTickLabels: [String], rightExtra: Int = 0,
        topExtra: Int = 0
    ) -> Margins {
        let yw = yTickLabels.map { t.width($0) }.max() ?? 0
        var left = t.pad + (yw > 0 ? yw + t.tickLength + 2 * t.s + 2 : t.tickLength)
        if !yLabel.isEmpty { left += t.labelHeight + t.pad }
        var top = t.pad + 2
        if !title.isEmpty { top += t.titleHeight + t.pad }
        var bottom = t.pad + t.tickLength + (xTickLabels.isEmpty ? 0 : t.lineHeight + 2 * t.s)
        if !xLabel.isEmpty { bottom += t.labelHeight + t.pad / 2 }
        // Room for the half of the last x tick label that sticks out on the right.
        let lastHalf = (xTickLabels.last.map { t.width($0) } ?? 0) / 2
        let right = max(t.pad * 2, lastHalf + t.pad) + rightExtra
        top += topExtra
        return Margins(left: left, right: right, top: top, bottom: bottom)
    }

    /// Draws grid lines (under the data), to be called before the data.
    func drawGrid(_ c: Renderer, rect: PixelRect, xTicks: [FrameTick], yTicks: [FrameTick]) {
        guard grid else { return }
        for tk in xTicks where tk.major {
            let x = Int(tk.position.rounded(.down))
            if x > rect.x && x < rect.maxX - 1 {
                c.fill(PixelRect(x: x, y: rect.y, width: 1, height: rect.height), .grid)
            }
        }
        for tk in yTicks where tk.major {
            let y = Int(tk.position.rounded(.down))
            if y > rect.y && y < rect.maxY - 1 {
                c.fill(PixelRect(x: rect.x, y: y, width: rect.width, height: 1), .grid)
            }
        }
    }

    /// Draws the frame, ticks, tick labels, axis labels and title (after the data).
    func drawDecorations(
        _ c: Renderer, theme t: Theme, rect: PixelRect, xTicks: [FrameTick], yTicks: [FrameTick],
        frameColor: Color = .ink, topExtra: Int = 0
    ) {
        c.stroke(PixelRect(x: rect.x - 1, y: rect.y - 1, width: rect.width + 2, height: rect.height + 2), frameColor)
        var lastRight = Int.min
        for tk in xTicks {
            let x = Int(tk.position.rounded(.down))
            let len = tk.major ? t.tickLength : t.tickLength / 2
            c.fill(PixelRect(x: x, y: rect.maxY + 1, width: 1, height: len), .ink)
            guard tk.major, !tk.label.isEmpty else { continue }
            let w = t.width(tk.label)
            let left = x - w / 2
            if left <= lastRight + 2 * t.pad / 2 { continue }  // never overlap labels
            c.drawText(
                tk.label, x: x, y: rect.maxY + 1 + t.tickLength + 2 * t.s, size: t.sizes.tick, color: .ink,
                align: .center)
            lastRight = left + w
        }
        var yw = 0
        var lastTop = Int.max
        for tk in yTicks.sorted(by: { $0.position > $1.position }) {
            let y = Int(tk.position.rounded(.down))
            let len = tk.major ? t.tickLength : t.tickLength / 2
            c.fill(PixelRect(x: rect.x - 1 - len, y: y, width: len, height: 1), .ink)
            guard tk.major, !tk.label.isEmpty else { continue }
            let bottomOfText = y + t.capHeight / 2
            if bottomOfText >= lastTop - t.s * 2 { continue }
            c.drawText(
                tk.label, x: rect.x - 1 - t.tickLength - 2 * t.s - 1, y: y + 1, size: t.sizes.tick, color: .ink,
                align: .right, baseline: .middle)
            lastTop = y - t.capHeight / 2
            yw = max(yw, t.width(tk.label))
        }
        if !xLabel.isEmpty {
            let y =
                rect.maxY + 1 + t.tickLength + (xTicks.contains { !$0.label.isEmpty } ? t.lineHeight + 2 * t.s : 0)
                + t.pad / 2
            let w = t.width(xLabel, size: t.sizes.label)
            let x = min(max(rect.x + rect.width / 2, w / 2 + t.pad), c.width - w / 2 - t.pad)
            c.drawText(
                xLabel, x: x, y: min(y, c.height - t.labelHeight), size: t.sizes.label, color: .ink, align: .center)
        }
        if !yLabel.isEmpty {
            let x = rect.x - 1 - t.tickLength - 2 * t.s - 1 - yw - t.pad
            c.drawText(
                yLabel, x: max(t.pad + t.labelHeight * 3 / 4, x), y: rect.y + rect.height / 2, size: t.sizes.label,
                color: .ink, align: .center, baseline: .bottom, rotation: .up)
        }
        if !title.isEmpty {
            drawTitle(c, theme: t, center: rect.x + rect.width / 2, top: rect.y - topExtra - t.pad - t.titleHeight)
        }
    }

    /// The title, centred over the data area but kept on the figure; a title too wide for
    /// the figure is drawn at the axis-label size, then shortened with "…".
    func drawTitle(_ c: Renderer, theme t: Theme, center: Int, top: Int) {
        var text = title
        var size = t.sizes.title
        let room = c.width - 2 * t.pad
        if t.width(text, size: size) > room { size = t.sizes.label }
        if t.width(text, size: size) > room {
            while text.count > 1 && t.width(text + "…", size: size) > room { text.removeLast() }
            text += "…"
        }
        let w = t.width(text, size: size)
        let x = min(max(center, w / 2 + t.pad), c.width - w / 2 - t.pad)
        c.drawText(text, x: x, y: max(t.pad / 2, top) + t.titleHeight / 5, size: size, color: .ink, align: .center)
    }
}

// MARK: - Legend

/// How a legend entry's swatch is drawn.
enum SwatchKind { case line, marker, lineAndMarker, box }

struct LegendEntry {
    var label: String
    var color: Color
    var kind: SwatchKind
    var marker: MarkerShape = .circle
    var dash: [Double] = []
}

enum Legend {
    static func size(_ t: Theme, _ shown: [LegendEntry]) -> (w: Int, h: Int, swatch: Int, rowH: Int) {
        let swatch = 14 * t.s + 4
        let rowH = t.lineHeight + t.s
        let textW = shown.map { t.width($0.label, size: t.sizes.legend) }.max() ?? 0
        return (t.pad + swatch + t.pad + textW + t.pad, t.pad + rowH * shown.count - t.s * 2 + t.pad / 2, swatch, rowH)
    }

    /// The corner box of `rect` covering the fewest `occupied` points, and how many it covers
    /// (nil if the legend does not fit inside at all).
    static func placement(theme t: Theme, rect: PixelRect, entries: [LegendEntry], occupied: [Point]) -> (
        box: PixelRect, covered: Int
    )? {
        let shown = entries.filter { !$0.label.isEmpty }
        guard !shown.isEmpty else { return nil }
        let (w, h, _, _) = size(t, shown)
        guard w + 2 * t.pad <= rect.width, h + 2 * t.pad <= rect.height else { return nil }
        let m = t.pad
        let corners = [
            (rect.maxX - m - w, rect.y + m), (rect.x + m, rect.y + m),
            (rect.maxX - m - w, rect.maxY - m - h), (rect.x + m, rect.maxY - m - h),
        ]
        var best = corners[0]
        var bestCount = Int.max
        for corner in corners {
            let box = PixelRect(x: corner.0 - 4, y: corner.1 - 4, width: w + 8, height: h + 8)
            let n = occupied.reduce(0) { $0 + (box.contains(Int($1.x), Int($1.y)) ? 1 : 0) }
            if n < bestCount {
                bestCount = n
                best = corner
            }
        }
        return (PixelRect(x: best.0, y: best.1, width: w, height: h), bestCount)
    }

    /// Whether the legend should go above the data area: it has entries and every corner
    /// inside would cover data.
    static func needsRowAbove(theme t: Theme, rect: PixelRect, entries: [LegendEntry], occupied: [Point]) -> Bool {
        guard entries.contains(where: { !$0.label.isEmpty }) else { return false }
        guard let p = placement(theme: t, rect: rect, entries: entries, occupied: occupied) else { return true }
        return p.covered > 0
    }

    static func swatch(_ c: Renderer, _ t: Theme, _ e: LegendEntry, x0: Double, x1: Double, cy: Int) {
        let mid = Double(cy) + 0.5
        switch e.kind {
        case .line, .lineAndMarker:
            c.drawLine(from: Point(x0, mid), to: Point(x1, mid), color: e.color, width: t.lineWidth, dash: e.dash)
            if e.kind == .lineAndMarker {
                c.marker(e.marker, center: Point((x0 + x1) / 2, mid), radius: t.markerRadius, color: e.color)
            }
        case .marker:
            c.marker(e.marker, center: Point((x0 + x1) / 2, mid), radius: t.markerRadius + 0.5, color: e.color)
        case .box:
            c.fill(PixelRect(x: Int(x0), y: cy - t.capHeight / 2, width: Int(x1 - x0), height: t.capHeight), e.color)
        }
    }

    /// Draws a boxed legend in the best corner inside `rect`.
    static func draw(_ c: Renderer, theme t: Theme, rect: PixelRect, entries: [LegendEntry], occupied: [Point]) {
        let shown = entries.filter { !$0.label.isEmpty }
        guard let place = placement(theme: t, rect: rect, entries: shown, occupied: occupied) else { return }
        let (_, _, sw, rowH) = size(t, shown)
        let box = place.box
        c.fill(box, Color.white.withAlpha(235))
        c.stroke(box, Color(hex: 0xCCCCCC))
        for (i, e) in shown.enumerated() {
            let cy = box.y + t.pad + i * rowH + t.capHeight / 2
            let x0 = Double(box.x + t.pad)
            swatch(c, t, e, x0: x0, x1: x0 + Double(sw), cy: cy)
            c.drawText(
                e.label, x: box.x + t.pad + sw + t.pad, y: cy + 1, size: t.sizes.legend, color: .ink, baseline: .middle)
        }
    }

    /// The legend entries in rows that fit `width` side by side (widest first row), for
    /// ``drawRows``.
    static func rows(_ t: Theme, width: Int, entries: [LegendEntry]) -> [[(LegendEntry, Int)]] {
        let sw = 14 * t.s + 4
        var rows: [[(LegendEntry, Int)]] = [[]]
        var used = 0
        for e in entries where !e.label.isEmpty {
            let w = sw + t.pad + t.width(e.label, size: t.sizes.legend)
            if !rows[rows.count - 1].isEmpty && used + 3 * t.pad + w > width {
                rows.append([])
                used = 0
            }
            used += (rows[rows.count - 1].isEmpty ? 0 : 3 * t.pad) + w
            rows[rows.count - 1].append((e, w))
        }
        return rows.filter { !$0.isEmpty }
    }

    /// Height of the legend rows drawn above a data area of width `width` by ``drawRows``.
    static func rowsHeight(_ t: Theme, width: Int, entries: [LegendEntry]) -> Int {
        max(1, rows(t, width: width, entries: entries).count) * (t.lineHeight + t.s * 2) + t.pad - t.s * 2
    }

    /// Draws the legend as rows of entries above `rect`, each row right-aligned.
    static func drawRows(_ c: Renderer, theme t: Theme, rect: PixelRect, entries: [LegendEntry]) {
        let sw = 14 * t.s + 4
        let rows = rows(t, width: rect.width, entries: entries)
        let rowH = t.lineHeight + t.s * 2
        for (k, row) in rows.enumerated() {
            let total = row.reduce(0) { $0 + $1.1 } + 3 * t.pad * (row.count - 1)
            var x = max(rect.x, rect.maxX - total)
            let cy = rect.y - 1 - t.pad - t.capHeight / 2 - t.s - (rows.count - 1 - k) * rowH
            for (e, w) in row {
                swatch(c, t, e, x0: Double(x), x1: Double(x + sw), cy: cy)
                c.drawText(e.label, x: x + sw + t.pad, y: cy + 1, size: t.sizes.legend, color: .ink, baseline: .middle)
                x += w + 3 * t.pad
            }
        }
    }
}

// MARK: - Public tick generation

/// A labelled axis tick.
public struct Tick: Equatable, Sendable {
    /// The data value at the tick.
    public let value: Double
    /// Its label as drawn ("0.5", "1×10⁻³", "100", "−1.0").
    public let label: String
}

/// The tick placement the charts use, for callers who draw their own axes or want to know
/// what a chart will show.
public enum TickGenerator {
    /// "Nice" ticks (steps of 1, 2 or 5 × 10^k) inside [`lower`, `upper`], about
    /// `approximateCount` of them. Labels share one format per axis: plain decimals with the
    /// digits the step needs ("0.0", "0.2", …, "1.0"; "100"; "10,000") or, for very large or
    /// small numbers, powers of ten ("1×10⁻⁴", "2.5×10⁶"). A degenerate
    /// range (equal ends, non-finite or reversed) is widened to a drawable one.
    public static func linear(from lower: Double, to upper: Double, approximateCount: Int = 6) -> [Tick] {
        let t = Ticks.linear(lower, upper, target: max(1, approximateCount), pad: 0)
        return zip(t.major, t.labels).map { Tick(value: $0, label: $1) }
    }

    /// Ticks of a base-10 logarithmic axis over [`lower`, `upper`] (both must be positive,
    /// otherwise 1…10 is used): powers of ten, thinned when the range spans many decades,
    /// with 2× and 5× (or 2×, 3×, 5×) ticks added when it spans only a few.
    public static func logarithmic(from lower: Double, to upper: Double, approximateCount: Int = 6) -> [Tick] {
        let valid = lower > 0 && upper > 0 && lower.isFinite && upper.isFinite
        let t = Ticks.log(valid ? lower : 1, valid ? upper : 10, target: max(1, approximateCount), pad: 0)
        return zip(t.major, t.labels).map { Tick(value: $0, label: $1) }
    }
}
