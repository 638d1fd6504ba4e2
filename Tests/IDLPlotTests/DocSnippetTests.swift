import Foundation
import IDL
import IDLPlot
import Testing

// The snippets of Sources/IDLPlot/IDLPlot.docc/DrawingFigures.md, run verbatim (in order, in
// one test, as the article builds on its earlier blocks), with checks on the files they write.

@Suite struct PlotDocSnippetTests {
    @Test func drawingFigures() throws {
        // --- "A line chart" (verbatim)
        let folder = FileManager.default.temporaryDirectory
        let train: [Double] = (1...30).map { 2.0 / Double($0) + 0.05 }
        let test: [Double] = (1...30).map { 2.2 / Double($0) + 0.08 }

        var plot = LinePlot(title: "Training", xLabel: "epoch", yLabel: "loss", logY: true)
        plot.add(y: train, label: "train")
        plot.add(y: test, label: "test")
        try plot.write(to: folder.appendingPathComponent("loss.png"), width: 800, height: 500)

        #expect(plot.seriesCount == 2 && plot.skippedPoints == 0)
        let loss = try PNGImage.read(from: folder.appendingPathComponent("loss.png"))
        #expect(loss.width == 1600 && loss.height == 1000)

        // --- "A heat map and a spy plot" (verbatim)
        var rng = SeededGenerator(seed: 0)
        var a = Matrix<Double>.randomNormal(40, 40, using: &rng)
        for j in 0..<40 { for i in 0..<40 where abs(a[i, j]) < 1.2 { a[i, j] = 0 } }  // mostly zeros

        var map = Heatmap(matrix: a, title: "A")
        map.colormap = .diverging
        try map.write(to: folder.appendingPathComponent("A-heatmap.png"), width: 640, height: 560)

        let spy = try SpyPlot(
            matrix: a, rowBlocks: [10, 30], colBlocks: [10, 30],
            rowBlockLabels: ["layer 2", "layer 1"], colBlockLabels: ["layer 2", "layer 1"],
            title: "Nonzeros of A")
        print(spy.nonzeroCount, spy.density)
        try spy.write(to: folder.appendingPathComponent("A-spy.png"), width: 600, height: 600)

        #expect(spy.nonzeroCount == a.count - a.zeroCount)
        #expect(spy.density > 0.1 && spy.density < 0.4)  // |N(0,1)| ≥ 1.2 has probability 0.23
        #expect(try PNGImage.read(from: folder.appendingPathComponent("A-spy.png")).width == 1200)

        // --- "An image grid" (verbatim)
        let images = Matrix<Float>.randomUniform(784, 12, 0, 1, using: &rng)  // 12 "images"
        let labels = (0..<12).map { $0 % 10 }
        let predictions = labels.map { $0 == 3 ? 5 : $0 }  // one mistake
        let grid = try ImageGrid(
            images: images, imageWidth: 28, labels: labels, predictions: predictions,
            classNames: FashionMNIST.classNames, title: "Test images")
        try grid.write(to: folder.appendingPathComponent("samples.png"), width: 800, height: 520)

        #expect(grid.count == 12 && grid.imageHeight == 28)
        #expect(try PNGImage.read(from: folder.appendingPathComponent("samples.png")).height == 1040)

        // --- "Writing PNG, PDF and SVG" (verbatim)
        let urls = try plot.write(to: folder.appendingPathComponent("loss"), formats: [.png, .pdf, .svg])
        print(urls.map(\.lastPathComponent))  // ["loss.png", "loss.pdf", "loss.svg"]
        let pixels = try plot.render(width: 400, height: 250, scale: 1)
        print(pixels.width, pixels.height)  // 400 250

        let picture = try PNGImage(grayscale: a, range: -3...3)
        try picture.write(to: folder.appendingPathComponent("A-gray.png"))
        print(try PNGImage.read(from: folder.appendingPathComponent("A-gray.png")).width)  // 40

        #expect(urls.map(\.lastPathComponent) == ["loss.png", "loss.pdf", "loss.svg"])
        #expect(pixels.width == 400 && pixels.height == 250)
        let gray = try PNGImage.read(from: folder.appendingPathComponent("A-gray.png"))
        #expect(gray.width == 40 && gray.height == 40)
    }
}
