import Foundation
import IDL
import IDLPlot
import Testing

@Suite struct TickTests {
    @Test func linearTicksAreNiceAndReadable() {
        #expect(
            TickGenerator.linear(from: 0, to: 1, approximateCount: 5).map(\.label) == [
                "0.0", "0.2", "0.4", "0.6", "0.8", "1.0",
            ])
        #expect(
            TickGenerator.linear(from: 0, to: 1000, approximateCount: 5).map(\.label) == [
                "0", "200", "400", "600", "800", "1000",
            ])
        #expect(
            TickGenerator.linear(from: -1, to: 1, approximateCount: 4).map(\.label) == [
                "−1.0", "−0.5", "0.0", "0.5", "1.0",
            ])
        let small = TickGenerator.linear(from: 0, to: 0.004, approximateCount: 4).map(\.label)
        #expect(small == ["0", "1×10⁻³", "2×10⁻³", "3×10⁻³", "4×10⁻³"])
        let big = TickGenerator.linear(from: 0, to: 3e6, approximateCount: 3).map(\.label)
        #expect(big == ["0", "1×10⁶", "2×10⁶", "3×10⁶"])
        // Thousands are separated on an axis that reaches 10 000, on every label of it.
        let thousands = TickGenerator.linear(from: 0, to: 20_000, approximateCount: 4).map(\.label)
        #expect(thousands == ["0", "5,000", "10,000", "15,000", "20,000"])
        // Degenerate ranges are widened, never empty.
        #expect(TickGenerator.linear(from: 5, to: 5).count >= 2)
        #expect(TickGenerator.linear(from: .nan, to: 1).count >= 2)
    }

    @Test func logTicksArePowersOfTen() {
        let t = TickGenerator.logarithmic(from: 1e-3, to: 100)
        #expect(t.map(\.label) == ["0.001", "0.01", "0.1", "1", "10", "100"])
        let wide = TickGenerator.logarithmic(from: 1e-12, to: 1e4, approximateCount: 5)
        #expect(wide.count <= 9 && wide.count >= 3)
        #expect(wide.first?.label == "10⁻¹²")
        // One format per axis: powers of ten throughout once one tick needs them.
        let mixed = TickGenerator.logarithmic(from: 1e-4, to: 1).map(\.label)
        #expect(mixed == ["10⁻⁴", "10⁻³", "10⁻²", "10⁻¹", "10⁰"])
        let narrow = TickGenerator.logarithmic(from: 0.3, to: 3).map(\.label)
        #expect(narrow == ["0.3", "0.5", "1", "2", "3"])
        #expect(!TickGenerator.logarithmic(from: -1, to: 0).isEmpty)
    }
}

@Suite struct LinePlotTests {
    func demo() throws -> LinePlot {
        var plot = LinePlot(title: "loss", xLabel: "epoch", yLabel: "value")
        try plot.add(x: [0.0, 1, 2, 3, 4], y: [4.0, 3, 2.5, 1, 0.5])
        return plot
    }

    @Test func writeThenReadBack() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let plot = try demo()
        let url = dir.appendingPathComponent("line.png")
        try plot.write(to: url, width: 240, height: 160, scale: 1)
        let image = try PNGImage.read(from: url)
        #expect(image.width == 240 && image.height == 160 && image.colorType == .rgb)
        let area = plot.plotArea(width: 240, height: 160)
        // The axis frame lies one pixel outside the data area.
        #expect(image.color(area.rect.x - 1, area.rect.y + area.rect.height / 2) == .ink)
        #expect(image.color(area.rect.x + area.rect.width / 2, area.rect.maxY) == .ink)
        // A data point's marker has the series colour at its pixel.
        let p = area.pixel(x: 2, y: 2.5)
        #expect(image.color(p.x, p.y) == Color.series(0))
        // Background outside the frame is white.
        #expect(image.color(1, image.height - 2) == .white)
    }

    @Test func nonFiniteValuesAreSkippedAndCounted() throws {
        var plot = LinePlot()
        try plot.add(x: [1.0, 2, 3, 4, 5, 6], y: [1.0, .nan, 3, .infinity, 5, 6])
        try plot.add(x: [-Double.infinity, 2], y: [1.0, 2])
        #expect(plot.skippedNonFinite == 3)
        #expect(plot.skippedNonPositive == 0)
        let area = plot.plotArea(width: 200, height: 150)
        #expect(area.yRange.upperBound < 10)  // ∞ did not blow up the range
        let c = (try plot.render(width: 200, height: 150, scale: 1))
        let p = area.pixel(x: 5, y: 5)
        #expect(c.pixel(p.x, p.y) == Color.series(0))
    }

    @Test func logScaleSkipsAndCountsNonPositiveValues() throws {
        var plot = LinePlot(logY: true)
        try plot.add(x: [1, 2, 3, 4, 5], y: [1.0, 0, -2, 10, 100])
        #expect(plot.skippedNonPositive == 2)
        #expect(plot.skippedPoints == 2)
        let area = plot.plotArea(width: 200, height: 150)
        #expect(area.yScale == .log && area.yRange.lowerBound > 0 && area.yRange.lowerBound <= 1)
        let c = (try plot.render(width: 200, height: 150, scale: 1))
        let p = area.pixel(x: 4, y: 10)
        #expect(c.pixel(p.x, p.y) == Color.series(0))
        // Only non-positive values: nothing to show, still a valid figure.
        var empty = LinePlot(logY: true)
        empty.add(y: [0.0, -1])
        #expect(empty.skippedNonPositive == 2)
        #expect((try empty.render(width: 100, height: 80, scale: 1)).width == 100)
    }

    @Test func degenerateSeriesRender() throws {
        // No series at all, an empty series, a single point, all-equal values.
        var plot = LinePlot(title: "degenerate")
        #expect((try plot.render(width: 120, height: 90, scale: 1)).height == 90)
        try plot.add(x: [Double](), y: [Double](), label: "empty")
        try plot.add(x: [3.0], y: [7.0])
        let area = plot.plotArea(width: 160, height: 120)
        #expect(area.xRange.contains(3) && area.yRange.contains(7))
        let c = (try plot.render(width: 160, height: 120, scale: 1))
        let p = area.pixel(x: 3, y: 7)
        #expect(c.pixel(p.x, p.y) == Color.series(1))  // a lone point still shows as a dot
        var flat = LinePlot()
        flat.add(y: [Float](repeating: 2, count: 10))
        let fa = flat.plotArea(width: 160, height: 120)
        #expect(fa.yRange.lowerBound < 2 && fa.yRange.upperBound > 2)
        let fc = (try flat.render(width: 160, height: 120, scale: 1))
        let q = fa.pixel(x: 5, y: 2)
        #expect(fc.pixel(q.x, q.y) == Color.series(0))
    }

    @Test func mismatchedLengthsThrow() {
        var plot = LinePlot()
        #expect(thrownError { try plot.add(x: [1.0, 2], y: [1.0]) }.map(isShapeMismatch) == true)
        #expect(plot.seriesCount == 0)
    }

    @Test func renderingIsDeterministic() throws {
        var plot = try demo()
        plot.add(y: [Float](arrayLiteral: 0.5, 0.25, 2), label: "second")
        let a = try plot.pngData(width: 200, height: 140)
        let b = try plot.pngData(width: 200, height: 140)
        #expect(a == b)
        #expect(
            (try plot.render(width: 200, height: 140, scale: 1)) == (try plot.render(width: 200, height: 140, scale: 1))
        )
    }

    @Test func badSizesAndPathsThrow() throws {
        let plot = try demo()
        #expect(
            thrownError { try plot.write(to: URL(fileURLWithPath: "/tmp/x.png"), width: 0, height: 100) }.map(
                isInvalidArgument) == true)
        #expect(
            thrownError { try plot.write(to: URL(fileURLWithPath: "/no-such-dir-idl/x.png"), width: 100, height: 100) }
                .map(isIO) == true)
        #expect(
            thrownError { try plot.write(to: URL(fileURLWithPath: "/proc/idl-plot.png"), width: 100, height: 100) }.map(
                isIO) == true)
    }
}

@Suite struct ScatterAndBarTests {
    @Test func scatterPointHasItsColour() throws {
        var plot = ScatterPlot(xLabel: "sparsity", yLabel: "accuracy")
        try plot.add(
            x: [10.0, 50, 90], y: [0.8, 0.75, 0.6], color: Color(hex: 0x2CA02C), connect: true,
            pointLabels: ["a", "b", "c"])
        let area = plot.plotArea(width: 220, height: 160)
        let c = (try plot.render(width: 220, height: 160, scale: 1))
        let p = area.pixel(x: 50, y: 0.75)
        #expect(c.pixel(p.x, p.y) == Color(hex: 0x2CA02C))
        #expect(thrownError { try plot.add(x: [1.0], y: [1.0], pointLabels: ["a", "b"]) }.map(isShapeMismatch) == true)
    }

    @Test func barsAreDrawnWithTheirValues() throws {
        var chart = BarChart(yLabel: "accuracy", categories: ["a", "b", "c"])
        try chart.add(values: [1.0, -0.5, .nan], label: "model")
        #expect(chart.skippedNonFinite == 1)
        let area = chart.plotArea(width: 220, height: 160)
        #expect(area.yRange.contains(0) && area.yRange.contains(1) && area.yRange.contains(-0.5))
        let c = (try chart.render(width: 220, height: 160, scale: 1))
        let up = area.pixel(x: 0.5, y: 0.5)
        let down = area.pixel(x: 1.5, y: -0.25)
        let none = area.pixel(x: 2.5, y: 0.5)
        #expect(c.pixel(up.x, up.y) == Color.series(0))
        #expect(c.pixel(down.x, down.y) == Color.series(0))
        #expect(c.pixel(none.x, none.y) != Color.series(0))
        #expect(thrownError { try chart.add(values: [1.0], label: "short") }.map(isShapeMismatch) == true)
        // Grouped bars with a legend, and value labels, still render.
        try chart.add(values: [0.2, 0.3, 0.4], label: "other")
        chart.showsValues = true
        #expect((try chart.render(width: 220, height: 160, scale: 1)).width == 220)
    }
}

@Suite struct MatrixPlotTests {
    @Test func heatmapColoursAroundZero() throws {
        let m = try Matrix<Double>(rowMajor: [[0, 1, -1], [0.5, .nan, 0], [0, 0, 0]])
        let map = Heatmap(matrix: m, title: "A")
        #expect(map.nonFiniteCount == 1)
        let area = map.matrixArea(width: 240, height: 200)
        #expect(!area.isDownsampled)
        let c = (try map.render(width: 240, height: 200, scale: 1))
        let zero = area.pixel(row: 0, col: 0)
        let top = area.pixel(row: 0, col: 1)
        let bottom = area.pixel(row: 0, col: 2)
        #expect(c.pixel(zero.x, zero.y) == .white)
        #expect(c.pixel(top.x, top.y) == Colormap.diverging.color(at: 1))
        #expect(c.pixel(bottom.x, bottom.y) == Colormap.diverging.color(at: 0))
        let nan = area.pixel(row: 1, col: 1)
        let g = c.pixel(nan.x, nan.y)
        #expect(g.r == g.g && g.g == g.b && g.r < 255)  // grey
    }

    @Test func hugeHeatmapIsDownsampled() throws {
        let big = Matrix<Float>(rows: 2000, cols: 3000) { i, j in Float((i + j) % 7) - 3 }
        let map = Heatmap(matrix: big)
        let area = map.matrixArea(width: 200, height: 150)
        #expect(area.isDownsampled)
        #expect(area.rect.width <= 200 && area.rect.height <= 150)
        let c = (try map.render(width: 200, height: 150, scale: 1))
        #expect(c.width == 200 && c.height == 150)
        #expect(c.pngData().count < 200 * 150 * 4)
    }

    @Test func spyShowsZerosAndNonzeros() throws {
        var m = Matrix<Float>(rows: 6, cols: 6)
        m[0, 1] = 2
        m[4, 4] = -1
        m[5, 0] = .nan
        let spy = try SpyPlot(matrix: m, rowBlocks: [2, 4], colBlocks: [3, 3], title: "A")
        #expect(spy.nonzeroCount == 3 && spy.nonFiniteCount == 1)
        #expect(abs(spy.density - 3.0 / 36) < 1e-12)
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("spy.png")
        try spy.write(to: url, width: 200, height: 200, scale: 1)
        let image = try PNGImage.read(from: url)
        #expect(image.width == 200 && image.height == 200 && image.colorType == .rgb)
        let area = spy.matrixArea(width: 200, height: 200)
        let nz = area.pixel(row: 0, col: 1)
        let z = area.pixel(row: 4, col: 1)
        let nz2 = area.pixel(row: 4, col: 4)
        #expect(image.color(nz.x, nz.y) == spy.color)
        #expect(image.color(nz2.x, nz2.y) == spy.color)
        #expect(image.color(z.x, z.y) == .white)
        // The boundary between the row blocks is drawn.
        let boundaryY = area.rect.y + 2 * area.rect.height / 6
        #expect(image.color(area.rect.x + 2, boundaryY) == spy.boundaryColor)
    }

    @Test func spyValidatesItsBlocks() {
        let m = Matrix<Double>(rows: 4, cols: 5)
        #expect(thrownError { _ = try SpyPlot(matrix: m, rowBlocks: [2, 3]) }.map(isShapeMismatch) == true)
        #expect(thrownError { _ = try SpyPlot(matrix: m, colBlocks: [5, 0]) }.map(isInvalidArgument) == true)
        #expect(
            thrownError { _ = try SpyPlot(matrix: m, rowBlocks: [4], rowBlockLabels: ["a", "b"]) }.map(isShapeMismatch)
                == true)
        #expect(thrownError { _ = try SpyPlot(matrix: m, threshold: -1) }.map(isInvalidArgument) == true)
    }

    @Test func hugeSpyIsDownsampledToABoundedImage() throws {
        let n = 3000
        let identity = Matrix<Float>.identity(n)
        let spy = try SpyPlot(matrix: identity, rowBlocks: [1000, 2000], colBlocks: [1000, 2000])
        #expect(spy.nonzeroCount == n)
        let area = spy.matrixArea(width: 160, height: 160)
        #expect(area.isDownsampled && area.rect.width <= 160 && area.rect.height <= 160)
        let c = (try spy.render(width: 160, height: 160, scale: 1))
        #expect(c.width == 160 && c.height == 160)
        let d = area.pixel(row: 2500, col: 2500)
        let off = area.pixel(row: 2500, col: 200)
        #expect(c.pixel(d.x, d.y) != .white)  // a block holding a few diagonal nonzeros is shaded
        #expect(c.pixel(off.x, off.y) == .white)
    }

    @Test func matrixPlotsAreDeterministic() throws {
        let m = Matrix<Double>(rows: 10, cols: 12) { i, j in sin(Double(i * 12 + j)) }
        #expect(
            try Heatmap(matrix: m).pngData(width: 160, height: 120)
                == Heatmap(matrix: m).pngData(width: 160, height: 120))
        let spy = try SpyPlot(matrix: m, threshold: 0.5)
        #expect(try spy.pngData(width: 160, height: 120) == spy.pngData(width: 160, height: 120))
    }
}

@Suite struct ImageGridTests {
    @Test func imagesAndCaptions() throws {
        // Three 2×3 images: image j has every pixel equal to j (0, 1, 2).
        let images = Matrix<Float>(rows: 6, cols: 3) { _, j in Float(j) }
        let grid = try ImageGrid(
            images: images, imageWidth: 3, labels: [0, 1, 2], predictions: [0, 2, 2],
            classNames: ["zero", "one", "two"], title: "samples")
        #expect(grid.imageHeight == 2 && grid.count == 3)
        let c = (try grid.render(width: 240, height: 160, scale: 1))
        let r0 = grid.imageRect(0, width: 240, height: 160)
        let r2 = grid.imageRect(2, width: 240, height: 160)
        #expect(r0.width == 3 * (r0.height / 2))
        #expect(c.pixel(r0.x + 1, r0.y + 1) == .black)  // lowest value black
        #expect(c.pixel(r2.x + 1, r2.y + 1) == .white)  // highest value white
        let r1 = grid.imageRect(1, width: 240, height: 160)
        #expect(c.pixel(r1.x + 1, r1.y + 1) == Color(gray: 128))
        // The wrong prediction is captioned in red somewhere below image 1.
        var red = false
        for y in r1.maxY..<min(160, r1.maxY + 40) {
            for x in r1.x..<r1.maxX {
                let p = c.pixel(x, y)  // antialiased text: the red of 0xD62728, blended with white
                if Int(p.r) - Int(p.g) > 80 && Int(p.r) - Int(p.b) > 80 { red = true }
            }
        }
        #expect(red)
    }

    @Test func invalidGridsThrow() {
        let images = Matrix<Double>(rows: 10, cols: 2)
        #expect(thrownError { _ = try ImageGrid(images: images, imageWidth: 3) }.map(isShapeMismatch) == true)
        #expect(thrownError { _ = try ImageGrid(images: images, imageWidth: 0) }.map(isInvalidArgument) == true)
        #expect(
            thrownError { _ = try ImageGrid(images: images, imageWidth: 5, labels: [1]) }.map(isShapeMismatch) == true)
        #expect(
            thrownError { _ = try ImageGrid(images: images, imageWidth: 5, labels: [0, 3], classNames: ["a", "b"]) }
                .map(isInvalidArgument) == true)
    }

    @Test func nonFinitePixelsAreCounted() throws {
        var images = Matrix<Double>(rows: 4, cols: 1, repeating: 0.5)
        images[1, 0] = .nan
        images[2, 0] = -.infinity
        let grid = try ImageGrid(images: images, imageWidth: 2)
        #expect(grid.nonFiniteCount == 2)
        #expect((try grid.render(width: 64, height: 64, scale: 1)).width == 64)
    }
}

@Suite struct RobustnessTests {
    @Test func tinyCanvasesAndEmptyMatricesDoNotCrash() throws {
        var line = LinePlot(title: "t", xLabel: "x", yLabel: "y")
        try line.add(x: [1.0, 2], y: [3.0, 4], label: "a")
        var scatter = ScatterPlot(title: "t")
        try scatter.add(x: [1.0], y: [1.0], label: "p", pointLabels: ["one"])
        var bars = BarChart(title: "t", categories: ["a", "b"])
        try bars.add(values: [1.0, 2], label: "g")
        let m = Matrix<Float>(rows: 3, cols: 4) { i, j in Float(i - j) }
        let empty = Matrix<Double>(rows: 0, cols: 0)
        let figures: [any Figure] = [
            line, scatter, bars, Heatmap(matrix: m), Heatmap(matrix: empty),
            try SpyPlot(matrix: m), try SpyPlot(matrix: empty),
            try ImageGrid(images: m, imageWidth: 3, labels: [0, 1, 2, 3]),
        ]
        for figure in figures {
            for (w, h) in [(16, 16), (40, 300), (300, 40)] {
                let c = (try figure.render(width: w, height: h, scale: 1))
                #expect(c.width == w && c.height == h)
            }
            #expect(thrownError { _ = try figure.render(width: 1, height: 1) }.map(isInvalidArgument) == true)
        }
        #expect(try SpyPlot(matrix: empty).density == 0)
        // Far more images than fit: the ones that fit are drawn, the rest left out.
        let many = try ImageGrid(images: Matrix<Float>(rows: 784, cols: 400, repeating: 1), imageWidth: 28)
        #expect((try many.render(width: 120, height: 100, scale: 1)).width == 120)
        let shown = many.shownCount(width: 120, height: 100)
        #expect(shown > 0 && shown < 400)
        #expect(many.shownCount(width: 800, height: 600) > 200)
        let forty = try ImageGrid(images: Matrix<Float>(rows: 784, cols: 40, repeating: 1), imageWidth: 28)
        #expect(forty.shownCount(width: 800, height: 600) == 40)
    }
}

@Suite struct ExtremeValueTests {
    @Test func hugeFiniteValuesDoNotCrash() throws {
        let huge = Double.greatestFiniteMagnitude
        var line = LinePlot(title: "extremes")
        try line.add(x: [0.0, 1, 2, 3], y: [-huge, huge, 1, 2], label: "a")
        try line.add(x: [1e300, 1e300 * (1 + 1e-12)], y: [1.0, 2], label: "tiny span")
        #expect((try line.render(width: 200, height: 150, scale: 1)).width == 200)
        var ranged = LinePlot()
        ranged.yRange = 0...1
        try ranged.add(x: [0.0, 1, 2], y: [0.5, 1e12, -huge])
        let area = ranged.plotArea(width: 200, height: 150)
        let c = (try ranged.render(width: 200, height: 150, scale: 1))
        let p = area.pixel(x: 0, y: 0.5)
        #expect(c.pixel(p.x, p.y) == Color.series(0))  // the in-range point is drawn
        var logs = ScatterPlot(logY: true)
        try logs.add(x: [1.0, 2, 3], y: [Double.leastNonzeroMagnitude, 1, huge])
        #expect((try logs.render(width: 200, height: 150, scale: 1)).height == 150)
        var bars = BarChart(categories: ["a", "b"])
        try bars.add(values: [huge, -huge])
        bars.showsValues = true
        #expect((try bars.render(width: 200, height: 150, scale: 1)).width == 200)
        let m = try Matrix<Double>(rowMajor: [[huge, -huge], [0, 1]])
        #expect((try Heatmap(matrix: m).render(width: 120, height: 100, scale: 1)).width == 120)
        var fixed = Heatmap(matrix: m)
        fixed.range = -huge...huge
        #expect((try fixed.render(width: 120, height: 100, scale: 1)).width == 120)
    }
}
