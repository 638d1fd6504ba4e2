import Foundation
import IDL

/// Where a matrix image lies on the canvas and which pixels show which entries.
///
/// A matrix that fits is drawn with each entry a square (or, with
/// ``MatrixAspect/fill``, a rectangle) of whole pixels. A matrix larger than the space
/// available is **downsampled**: each pixel shows a block of neighbouring entries
/// (``isDownsampled``), so the image never exceeds the canvas however large the matrix.
public struct MatrixArea: Equatable, Sendable {
    /// The image of the matrix in pixels (the frame is drawn one pixel outside it).
    public let rect: PixelRect
    /// Matrix rows.
    public let rows: Int
    /// Matrix columns.
    public let cols: Int

    /// Whether several entries share a pixel along at least one side.
    public var isDownsampled: Bool { rect.width < cols || rect.height < rows }

    // Entries are grouped into bins (one per entry, or one per pixel when downsampling);
    // bin b covers the pixels [binX(b), binX(b + 1)).
    var binCols: Int { max(1, min(cols, rect.width)) }
    var binRows: Int { max(1, min(rows, rect.height)) }
    func colBin(_ j: Int) -> Int { j * binCols / max(1, cols) }
    func rowBin(_ i: Int) -> Int { i * binRows / max(1, rows) }
    func binX(_ b: Int) -> Int { rect.x + b * rect.width / binCols }
    func binY(_ b: Int) -> Int { rect.y + b * rect.height / binRows }

    /// The pixel showing entry (row, col) (the centre of its cell).
    public func pixel(row: Int, col: Int) -> (x: Int, y: Int) {
        let bx = colBin(col)
        let by = rowBin(row)
        return ((binX(bx) + binX(bx + 1) - 1) / 2, (binY(by) + binY(by + 1) - 1) / 2)
    }

    /// Canvas column of the boundary before column `col` (0...cols).
    func xBoundary(_ col: Int) -> Int { binX(colBin(col)) }
    /// Canvas row of the boundary before row `row` (0...rows).
    func yBoundary(_ row: Int) -> Int { binY(rowBin(row)) }
    /// Canvas x of the centre of column `col`.
    func xCenter(_ col: Int) -> Double {
        Double(rect.x) + (Double(col) + 0.5) * Double(rect.width) / Double(max(1, cols))
    }
    /// Canvas y of the centre of row `row`.
    func yCenter(_ row: Int) -> Double {
        Double(rect.y) + (Double(row) + 0.5) * Double(rect.height) / Double(max(1, rows))
    }

    /// Fits a rows×cols matrix into `available`, centred.
    static func fit(rows: Int, cols: Int, in available: PixelRect, aspect: MatrixAspect) -> MatrixArea {
        let aw = max(1, available.width)
        let ah = max(1, available.height)
        let r = max(1, rows)
        let c = max(1, cols)
        var w: Int
        var h: Int
        switch aspect {
        case .equal:
            if c <= aw && r <= ah {
                let p = max(1, min(aw / c, ah / r))
                w = c * p
                h = r * p
            } else {
                let s = min(Double(aw) / Double(c), Double(ah) / Double(r))
                w = max(1, min(aw, c, Int((Double(c) * s).rounded())))
                h = max(1, min(ah, r, Int((Double(r) * s).rounded())))
            }
        case .fill:
            w = c <= aw ? (aw / c) * c : aw
            h = r <= ah ? (ah / r) * r : ah
        }
        let rect = PixelRect(x: available.x + (aw - w) / 2, y: available.y + (ah - h) / 2, width: w, height: h)
        return MatrixArea(rect: rect, rows: rows, cols: cols)
    }
}

/// Shape of the cells of a matrix image.
public enum MatrixAspect: Sendable, Equatable {
    /// Square cells (the image has the matrix's proportions).
    case equal
    /// Cells stretched to use the space available (for very wide or tall matrices).
    case fill
}

/// Layout shared by heatmaps and spy plots: title, index axes (or block labels), the image.
struct MatrixFrame {
    var frame: Frame
    var rows: Int
    var cols: Int
    var rowLabels: [(center: Int, label: String)]? = nil  // block labels instead of indices
    var colLabels: [(center: Int, label: String)]? = nil
    var aspect: MatrixAspect = .equal

    func layout(width: Int, height: Int, _ measure: Renderer, rightExtra: Int) -> (
        Theme, MatrixArea, [FrameTick], [FrameTick]
    ) {
        let t = Theme(width: width, height: height, measure: measure)
        let rowTicks = Ticks.indices(rows, target: 6)
        let colTicks = Ticks.indices(cols, target: 8)
        let yLabels = rowLabels?.map { $0.label } ?? rowTicks.map(String.init)
        let xLabels = colLabels?.map { $0.label } ?? colTicks.map(String.init)
        let m = frame.margins(
            theme: t, yTickLabels: yLabels, xTickLabels: colLabels == nil ? xLabels : [""], rightExtra: rightExtra)
        let available = PixelRect(
            x: m.left, y: m.top, width: max(1, width - m.left - m.right),
            height: max(1, height - m.top - m.bottom))
        let area = MatrixArea.fit(rows: rows, cols: cols, in: available, aspect: aspect)
        var xt: [FrameTick] = []
        var yt: [FrameTick] = []
        if let colLabels {
            xt = colLabels.map { FrameTick(position: area.xCenter($0.center), label: $0.label) }
        } else {
            xt = colTicks.map { FrameTick(position: area.xCenter($0), label: String($0)) }
        }
        if let rowLabels {
            yt = rowLabels.map { FrameTick(position: area.yCenter($0.center), label: $0.label) }
        } else {
            yt = rowTicks.map { FrameTick(position: area.yCenter($0), label: String($0)) }
        }
        // Thin the index ticks when cells are small and labels would collide.
        if colLabels == nil {
            let widest = xLabels.map { t.width($0) }.max() ?? 0
            while xt.count > 2, Double(area.rect.width) / Double(xt.count) < Double(widest + 2 * t.pad) {
                xt = stride(from: 0, to: xt.count, by: 2).map { xt[$0] }
            }
        }
        if rowLabels == nil {
            while yt.count > 2, Double(area.rect.height) / Double(yt.count) < Double(t.lineHeight + t.pad) {
                yt = stride(from: 0, to: yt.count, by: 2).map { yt[$0] }
            }
        }
        return (t, area, xt, yt)
    }
}

/// A heatmap of a matrix's entries with a colour bar, e.g. the weights A, B, C, D.
///
/// With the default diverging colormap the colour range is symmetric around zero
/// (−m … m with m the largest magnitude shown), so zero is white, positive red, negative blue.
/// Entry (0, 0) is at the top left, as the matrix is printed. Matrices larger than the
/// canvas are downsampled: each pixel shows the mean of the finite entries of its block
/// (see ``MatrixArea``). NaN and ±∞ entries are drawn grey (when a block has no finite
/// entry) and counted in ``nonFiniteCount``.
///
/// ```swift
/// var map = Heatmap(matrix: model.effectiveA, title: "A (implicit weights)")
/// try map.write(to: URL(fileURLWithPath: "results/A.png"), width: 640, height: 560)
/// ```
public struct Heatmap<T: BLASScalar>: Figure, Sendable {
    /// Title drawn above the image.
    public var title: String
    /// Label under the image (default "column").
    public var xLabel: String = "column"
    /// Label beside the image (default "row").
    public var yLabel: String = "row"
    /// The colour map (default ``Colormap/diverging``).
    public var colormap: Colormap = .diverging
    /// A fixed value range for the colours; by default the range of the values shown
    /// (made symmetric around zero for the diverging map).
    public var range: ClosedRange<Double>? = nil
    /// Whether the colour bar is drawn (default true).
    public var showsColorBar: Bool = true
    /// Square cells (default) or cells stretched to fill the space.
    public var aspect: MatrixAspect = .equal

    /// Matrix rows.
    public let rows: Int
    /// Matrix columns.
    public let cols: Int
    /// The matrix shown (shared, not copied: `Matrix` is copy-on-write).
    public let matrix: Matrix<T>
    /// Number of NaN or infinite entries.
    public let nonFiniteCount: Int

    /// A heatmap of `matrix`.
    public init(matrix: Matrix<T>, title: String = "") {
        self.title = title
        self.matrix = matrix
        rows = matrix.rows
        cols = matrix.cols
        nonFiniteCount = matrix.storage.reduce(0) { $0 + ($1.isFinite ? 0 : 1) }
    }

    var frame: MatrixFrame {
        MatrixFrame(
            frame: Frame(title: title, xLabel: xLabel, yLabel: yLabel, grid: false), rows: rows, cols: cols,
            aspect: aspect)
    }

    /// Bin means of the finite entries (NaN where a bin has none), row-major bins.
    func blocks(_ area: MatrixArea) -> (w: Int, h: Int, v: [Double]) {
        let bw = area.binCols
        let bh = area.binRows
        var sum = [Double](repeating: 0, count: bw * bh)
        var count = [Int](repeating: 0, count: bw * bh)
        let rowBin = (0..<rows).map { area.rowBin($0) }
        matrix.storage.withUnsafeBufferPointer { p in
            for j in 0..<cols {
                let bj = area.colBin(j)
                for i in 0..<rows {
                    let x = Double(p[i + j * rows])
                    if x.isFinite {
                        let b = rowBin[i] * bw + bj
                        sum[b] += x
                        count[b] += 1
                    }
                }
            }
        }
        return (bw, bh, (0..<(bw * bh)).map { count[$0] > 0 ? sum[$0] / Double(count[$0]) : .nan })
    }

    func colorRange(_ shown: [Double]) -> (Double, Double) {
        if let r = range, r.lowerBound.isFinite, r.upperBound.isFinite, r.upperBound > r.lowerBound {
            return (max(-1e300, r.lowerBound), min(1e300, r.upperBound))
        }
        var lo = Double.infinity
        var hi = -Double.infinity
        for v in shown where v.isFinite {
            lo = min(lo, v)
            hi = max(hi, v)
        }
        if !lo.isFinite { return colormap == .diverging ? (-1, 1) : (0, 1) }
        lo = max(-1e300, lo)
        hi = min(1e300, hi)  // keep hi − lo finite
        if colormap == .diverging {
            let m = max(abs(lo), abs(hi))
            return m > 0 ? (-m, m) : (-1, 1)
        }
        return lo < hi ? (lo, hi) : (lo - 0.5, hi + 0.5)
    }

    func barGeometry(_ t: Theme, _ ticks: AxisTicks) -> (gap: Int, bar: Int, total: Int) {
        guard showsColorBar else { return (0, 0, 0) }
        let gap = 2 * t.pad
        let bar = 6 + 5 * t.s
        let lw = ticks.labels.map { t.width($0) }.max() ?? 0
        return (gap, bar, gap + bar + t.tickLength + 2 * t.s + lw)
    }

    func layout(width: Int, height: Int, _ measure: Renderer) -> (
        Theme, MatrixArea, [FrameTick], [FrameTick], AxisTicks, (gap: Int, bar: Int, total: Int)
    ) {
        let t = Theme(width: width, height: height, measure: measure)
        // The colour bar's labels depend on the range, which depends on the downsampling;
        // estimate with a generous label width first, then lay out for real.
        let estimate = barGeometry(t, AxisTicks(lo: 0, hi: 1, scale: .linear, major: [], labels: ["-0.000"]))
        var (_, area, xt, yt) = frame.layout(width: width, height: height, measure, rightExtra: estimate.total)
        let (lo, hi) = colorRange(blocks(area).v)
        let ticks = Ticks.linear(lo, hi, target: 5, pad: 0)
        let geo = barGeometry(t, ticks)
        (_, area, xt, yt) = frame.layout(width: width, height: height, measure, rightExtra: geo.total)
        var exact = ticks
        exact.lo = lo
        exact.hi = hi
        return (t, area, xt, yt, exact, geo)
    }

    /// Where the image lies on a figure of this size (in points) and how entries map to it.
    public func matrixArea(width: Int, height: Int) -> MatrixArea {
        layout(width: width, height: height, .measuring()).1
    }

    /// Draws the heatmap in a `width`×`height`-point box.
    public func draw(on c: Renderer, width: Int, height: Int) {
        let (t, area, xt, yt, ticks, geo) = layout(width: width, height: height, c)
        let b = blocks(area)
        let (lo, hi) = (ticks.lo, ticks.hi)
        let colors = b.v.map { v in v.isNaN ? Color(hex: 0xBDBDBD) : colormap.color(at: (v - lo) / (hi - lo)) }
        c.image(colors, columns: b.w, rows: b.h, in: area.rect)
        let f = frame.frame
        f.drawDecorations(c, theme: t, rect: area.rect, xTicks: xt, yTicks: yt)
        let barH = min(max(area.rect.height, min(100, height / 3)), height - 2 * t.pad)
        if showsColorBar && barH >= 4 {
            let bar = PixelRect(
                x: area.rect.maxX + 1 + geo.gap, y: area.rect.y + area.rect.height / 2 - barH / 2,
                width: geo.bar, height: barH)
            let steps = 256
            c.image(
                (0..<steps).map { colormap.color(at: 1 - (Double($0) + 0.5) / Double(steps)) }, columns: 1, rows: steps,
                in: bar)
            c.stroke(PixelRect(x: bar.x - 1, y: bar.y - 1, width: bar.width + 2, height: bar.height + 2), .ink)
            var lastTop = Int.max
            for (v, label) in zip(ticks.major, ticks.labels) {  // bottom to top
                guard v >= lo - 1e-12 * abs(hi - lo), v <= hi + 1e-12 * abs(hi - lo) else { continue }
                let y = bar.y + Int(((1 - (v - lo) / (hi - lo)) * Double(bar.height)).rounded(.down))
                let yy = min(bar.maxY - 1, y)
                c.fill(PixelRect(x: bar.maxX + 1, y: yy, width: t.tickLength, height: 1), .ink)
                if yy + t.capHeight / 2 < lastTop - t.s {
                    c.drawText(
                        label, x: bar.maxX + 2 + t.tickLength + 2 * t.s, y: yy + 1, size: t.sizes.tick,
                        baseline: .middle)
                    lastTop = yy - t.capHeight / 2
                }
            }
        }
    }
}

/// A sparsity ("spy") image of a matrix: nonzero entries dark, zeros white, with optional
/// block boundaries for the stacked-layer structure of A and B (e.g. row blocks
/// [16, 32, 64] for the states x₃, x₂, x₁ of a 784-64-32-16-10 network).
///
/// An entry counts as nonzero when |x| > ``threshold`` or it is NaN (NaN and ±∞ are also
/// counted in ``nonFiniteCount``). Large matrices are downsampled (see ``MatrixArea``);
/// a pixel's shade then grows with the share of nonzeros in its block, and any block with a
/// nonzero is visibly shaded.
///
/// ```swift
/// let spy = try SpyPlot(matrix: A, rowBlocks: [16, 32, 64], colBlocks: [16, 32, 64], title: "A")
/// try spy.write(to: URL(fileURLWithPath: "results/A-spy.png"), width: 600, height: 600)
/// ```
public struct SpyPlot<T: BLASScalar>: Figure, Sendable {
    /// Title drawn above the image.
    public var title: String
    /// Label under the image; `nil` (default) shows the count and share of nonzeros.
    public var xLabel: String? = nil
    /// Label beside the image (default empty).
    public var yLabel: String = ""
    /// Colour of nonzero entries.
    public var color: Color = Color(hex: 0x1F4E79)
    /// Colour of block boundaries.
    public var boundaryColor: Color = Color(hex: 0xD62728)
    /// Square cells (default) or cells stretched to fill the space.
    public var aspect: MatrixAspect = .equal

    /// Matrix rows.
    public let rows: Int
    /// Matrix columns.
    public let cols: Int
    /// Sizes of the row blocks (summing to `rows`), or `[]`.
    public let rowBlocks: [Int]
    /// Sizes of the column blocks (summing to `cols`), or `[]`.
    public let colBlocks: [Int]
    /// Labels of the row blocks (shown instead of row indices), or `[]`.
    public let rowBlockLabels: [String]
    /// Labels of the column blocks, or `[]`.
    public let colBlockLabels: [String]
    /// Entries with magnitude at most this are zeros (default 0: exact zeros).
    public let threshold: Double
    /// The matrix shown (shared, not copied).
    public let matrix: Matrix<T>
    /// Number of nonzero entries.
    public let nonzeroCount: Int
    /// Number of NaN or infinite entries (drawn as nonzeros).
    public let nonFiniteCount: Int

    /// A spy plot of `matrix`.
    /// - Parameters:
    ///   - matrix: the matrix shown.
    ///   - rowBlocks: row block sizes whose boundaries are drawn (`[]` for none).
    ///   - colBlocks: column block sizes whose boundaries are drawn (`[]` for none).
    ///   - rowBlockLabels: names of the row blocks, shown instead of row indices (`[]` for indices).
    ///   - colBlockLabels: names of the column blocks (`[]` for indices).
    ///   - threshold: magnitudes at most this count as zero.
    ///   - title: the title drawn above the image.
    /// - Throws: `IDLError.shapeMismatch` if the blocks do not add up to the
    ///   matrix size or the labels do not match the blocks; `IDLError.invalidArgument`
    ///   for a block size below 1 or a negative or non-finite threshold.
    public init(
        matrix: Matrix<T>, rowBlocks: [Int] = [], colBlocks: [Int] = [],
        rowBlockLabels: [String] = [], colBlockLabels: [String] = [],
        threshold: Double = 0, title: String = ""
    ) throws {
        for (name, blocks, total) in [("row", rowBlocks, matrix.rows), ("column", colBlocks, matrix.cols)] {
            guard blocks.allSatisfy({ $0 >= 1 }) else {
                throw IDLError.invalidArgument("\(name) block sizes must be at least 1, got \(blocks)")
            }
            guard blocks.isEmpty || blocks.reduce(0, +) == total else {
                throw IDLError.shapeMismatch(
                    "\(name) blocks \(blocks) add up to \(blocks.reduce(0, +)), but the matrix has \(total) \(name)s")
            }
        }
        guard rowBlockLabels.isEmpty || rowBlockLabels.count == rowBlocks.count,
            colBlockLabels.isEmpty || colBlockLabels.count == colBlocks.count
        else {
            throw IDLError.shapeMismatch(
                "block labels (\(rowBlockLabels.count) row, \(colBlockLabels.count) column) must match the blocks (\(rowBlocks.count) row, \(colBlocks.count) column)"
            )
        }
        guard threshold.isFinite, threshold >= 0 else {
            throw IDLError.invalidArgument("threshold must be finite and non-negative, got \(threshold)")
        }
        self.title = title
        rows = matrix.rows
        cols = matrix.cols
        self.rowBlocks = rowBlocks
        self.colBlocks = colBlocks
        self.rowBlockLabels = rowBlockLabels
        self.colBlockLabels = colBlockLabels
        self.threshold = threshold
        self.matrix = matrix
        var nz = 0
        var nf = 0
        matrix.storage.withUnsafeBufferPointer { p in
            for x in p {
                if !x.isFinite { nf += 1 }
                if SpyPlot.isNonzero(x, threshold) { nz += 1 }
            }
        }
        nonzeroCount = nz
        nonFiniteCount = nf
    }

    @inline(__always) static func isNonzero(_ x: T, _ threshold: Double) -> Bool {
        x.isNaN || Double(x.magnitude) > threshold
    }

    /// Share of nonzero entries (0 for an empty matrix).
    public var density: Double { rows * cols == 0 ? 0 : Double(nonzeroCount) / Double(rows * cols) }

    static func centers(_ blocks: [Int], _ labels: [String]) -> [(center: Int, label: String)]? {
        guard !labels.isEmpty else { return nil }
        var start = 0
        return zip(blocks, labels).map { size, label in
            defer { start += size }
            return (start + size / 2, label)
        }
    }

    var frame: MatrixFrame {
        let caption =
            xLabel ?? "nonzeros: \(nonzeroCount) of \(rows * cols) (\(formatFixed(100 * density, decimals: 1))%)"
        return MatrixFrame(
            frame: Frame(title: title, xLabel: caption, yLabel: yLabel, grid: false), rows: rows, cols: cols,
            rowLabels: SpyPlot.centers(rowBlocks, rowBlockLabels),
            colLabels: SpyPlot.centers(colBlocks, colBlockLabels), aspect: aspect)
    }

    /// Where the image lies on a figure of this size (in points) and how entries map to it.
    public func matrixArea(width: Int, height: Int) -> MatrixArea {
        frame.layout(width: width, height: height, .measuring(), rightExtra: 0).1
    }

    /// Draws the spy plot in a `width`×`height`-point box.
    public func draw(on c: Renderer, width: Int, height: Int) {
        let mf = frame
        let (t, area, xt, yt) = mf.layout(width: width, height: height, c, rightExtra: 0)
        let bw = area.binCols
        let bh = area.binRows
        var on = [Int](repeating: 0, count: bw * bh)
        var perRowBin = [Int](repeating: 0, count: bh)
        var perColBin = [Int](repeating: 0, count: bw)
        let rowBin = (0..<rows).map { area.rowBin($0) }
        for b in rowBin { perRowBin[b] += 1 }
        for j in 0..<cols { perColBin[area.colBin(j)] += 1 }
        let threshold = self.threshold
        matrix.storage.withUnsafeBufferPointer { m in
            for j in 0..<cols {
                let bj = area.colBin(j)
                for i in 0..<rows where SpyPlot.isNonzero(m[i + j * rows], threshold) { on[rowBin[i] * bw + bj] += 1 }
            }
        }
        var shades = [Color](repeating: .white, count: bw * bh)
        for bi in 0..<bh {
            for bj in 0..<bw {
                let n = on[bi * bw + bj]
                guard n > 0 else { continue }
                let entries = perRowBin[bi] * perColBin[bj]
                shades[bi * bw + bj] =
                    entries == 1 ? color : Color.mix(.white, color, 0.3 + 0.7 * Double(n) / Double(entries))
            }
        }
        c.image(shades, columns: bw, rows: bh, in: area.rect)
        let thick = min(area.rect.width / max(1, cols), area.rect.height / max(1, rows)) >= 4
        // Block boundaries (inner ones only; the frame is the outer boundary).
        var acc = 0
        for size in rowBlocks.dropLast() {
            acc += size
            let y = area.yBoundary(acc)
            c.fill(
                PixelRect(x: area.rect.x, y: y - (thick ? 1 : 0), width: area.rect.width, height: thick ? 2 : 1),
                boundaryColor)
        }
        acc = 0
        for size in colBlocks.dropLast() {
            acc += size
            let x = area.xBoundary(acc)
            c.fill(
                PixelRect(x: x - (thick ? 1 : 0), y: area.rect.y, width: thick ? 2 : 1, height: area.rect.height),
                boundaryColor)
        }
        mf.frame.drawDecorations(c, theme: t, rect: area.rect, xTicks: xt, yTicks: yt)
    }
}
