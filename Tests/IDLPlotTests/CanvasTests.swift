import Foundation
import IDL
import IDLPlot
import Testing

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// What Cairo draws and how the three file formats come out.
@Suite struct RenderingTests {
    func demo() throws -> LinePlot {
        var plot = LinePlot(title: "‖A‖∞ ≤ κ, λ = 10⁻³, ε", xLabel: "epoch", yLabel: "loss")
        try plot.add(x: [1.0, 2, 3, 4, 5], y: [2.3, 1.1, 0.7, 0.5, 0.45], label: "train")
        try plot.add(
            x: [1.0, 2, 3, 4, 5], y: [2.4, 1.3, 0.9, 0.8, 0.8], label: "test", marker: .triangle, dashed: true)
        return plot
    }

    @Test func textIsAntialiased() throws {
        let plot = LinePlot(title: "Antialiased title text")
        let c = try plot.render(width: 400, height: 200, scale: 2)
        // The title band holds dark ink and many intermediate greys along the glyph edges.
        var dark = 0
        var intermediate = 0
        for y in 0..<(c.height / 4) {
            for x in 0..<c.width {
                let p = c.pixel(x, y)
                guard p.r == p.g, p.g == p.b else { continue }
                if p.r < 80 { dark += 1 } else if p.r > 90 && p.r < 230 { intermediate += 1 }
            }
        }
        #expect(dark > 50)
        #expect(intermediate > 100)
    }

    @Test func pngDecodesToTheRequestedSize() throws {
        let plot = try demo()
        for (scale, w, h) in [(1.0, 300, 200), (2.0, 600, 400), (1.5, 450, 300)] {
            let image = try PNGImage.decode(plot.pngData(width: 300, height: 200, scale: scale))
            #expect(image.width == w && image.height == h && image.colorType == .rgb)
        }
        let standard = try PNGImage.decode(plot.pngData())
        #expect(standard.width == 1600 && standard.height == 1000)  // 800×500 points at 2×
    }

    @Test func pdfParsesWithTheFontEmbedded() throws {
        let bytes = try demo().pdfData(width: 400, height: 250)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasPrefix("%PDF-"))
        #expect(text.hasSuffix("%%EOF\n"))
        #expect(text.contains("/MediaBox [ 0 0 400 250 ]"))
        #expect(text.contains("DejaVuSans"))
        #expect(text.contains("/FontFile2") || text.contains("/FontFile3"))  // the glyphs, embedded
        #expect(text.contains("/CreationDate (20000101000000Z)"))  // the fixed date, not today's
    }

    @Test func svgIsWellFormedXML() throws {
        let bytes = try demo().svgData(width: 400, height: 250)
        final class Root: NSObject, XMLParserDelegate {
            var name: String?
            var attributes: [String: String] = [:]
            func parser(
                _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                qualifiedName: String?, attributes: [String: String]
            ) {
                if name == nil {
                    name = elementName
                    self.attributes = attributes
                }
            }
        }
        let parser = XMLParser(data: Data(bytes))
        let root = Root()
        parser.delegate = root
        #expect(parser.parse(), "\(parser.parserError.map { "\($0)" } ?? "")")
        #expect(root.name == "svg")
        #expect(root.attributes["width"] == "400pt" && root.attributes["height"] == "250pt")
    }

    @Test func twoRendersAreByteIdentical() throws {
        let plot = try demo()
        #expect(try plot.pngData(width: 300, height: 200) == plot.pngData(width: 300, height: 200))
        #expect(try plot.pdfData(width: 300, height: 200) == plot.pdfData(width: 300, height: 200))
        let map = Heatmap(matrix: Matrix<Float>(rows: 4, cols: 5) { i, j in Float(i - j) })
        #expect(try map.pngData(width: 300, height: 240) == map.pngData(width: 300, height: 240))
        #expect(try map.pdfData(width: 300, height: 240) == map.pdfData(width: 300, height: 240))
    }

    @Test func writesEachFormatByExtension() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let plot = try demo()
        let urls = try plot.write(
            to: dir.appendingPathComponent("spy-1e-3"), formats: [.png, .pdf, .svg], width: 200, height: 150)
        #expect(urls.map(\.lastPathComponent) == ["spy-1e-3.png", "spy-1e-3.pdf", "spy-1e-3.svg"])
        #expect(try PNGImage.read(from: urls[0]).width == 400)
        #expect(try Data(contentsOf: urls[1]).prefix(5) == Data("%PDF-".utf8))
        #expect(try Data(contentsOf: urls[2]).prefix(5) == Data("<?xml".utf8))
        // An unknown extension or an impossible scale is refused before anything is written.
        let jpeg = dir.appendingPathComponent("figure.jpg")
        #expect(thrownError { try plot.write(to: jpeg) }.map(isInvalidArgument) == true)
        #expect(thrownError { try plot.write(to: urls[0], scale: 0) }.map(isInvalidArgument) == true)
        #expect(thrownError { _ = try plot.render(scale: .nan) }.map(isInvalidArgument) == true)
        #expect(!FileManager.default.fileExists(atPath: jpeg.path))
        #expect(try FigureFormat.list("png, SVG,png") == [.png, .svg])
        #expect(thrownError { _ = try FigureFormat.list("png,gif") }.map(isInvalidArgument) == true)
    }

    @Test func markersAndDashesTellSeriesApart() throws {
        // Two identical series: the dashed one on top leaves gaps through which the other shows.
        var plot = LinePlot()
        let y = (0..<50).map { Double($0) }
        try plot.add(x: y, y: y, color: .black, markers: false)
        try plot.add(x: y, y: y, color: Color(hex: 0xD62728), markers: false, dashed: true)
        let c = try plot.render(width: 300, height: 300, scale: 1)
        let rect = plot.plotArea(width: 300, height: 300).rect
        var red = 0
        var black = 0
        for y in (rect.y + 3)..<(rect.maxY - 3) {
            for x in (rect.x + 3)..<(rect.maxX - 3) {
                let p = c.pixel(x, y)
                if p.r > 150 && p.g < 90 { red += 1 }
                if p.r < 40 && p.g < 40 && p.b < 40 { black += 1 }
            }
        }
        #expect(red > 100)
        #expect(black > 50)  // the solid line shows in the gaps of the dashed one
    }
}

@Suite struct TitleTests {
    @Test func longTitlesStayOnTheCanvas() throws {
        let plot = LinePlot(title: String(repeating: "A very long title ", count: 8))
        let c = try plot.render(width: 200, height: 120, scale: 1)
        // Ink in the title band, but none in the outermost columns.
        var ink = 0
        for y in 0..<20 { for x in 0..<200 where c.pixel(x, y).r < 128 { ink += 1 } }
        #expect(ink > 50)
        for y in 0..<20 { #expect(c.pixel(0, y) == .white && c.pixel(199, y) == .white) }
    }
}
