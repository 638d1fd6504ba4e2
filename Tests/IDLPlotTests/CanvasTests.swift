import IDL
import IDLPlot
import Testing

@Suite struct CanvasTests {
    @Test func horizontalLineIsCrispAtPixelCentres() {
        var c = Canvas(width: 20, height: 10)
        let blue = Color(hex: 0x1F77B4)
        c.drawLine(from: Point(2.5, 5.5), to: Point(17.5, 5.5), color: blue)
        #expect(c.pixel(10, 5) == blue)
        #expect(c.pixel(10, 4) == .white)
        #expect(c.pixel(10, 6) == .white)
        #expect(c.pixel(0, 5) == .white)
    }

    @Test func diagonalLineIsAntiAliasedAndWidthMatters() {
        var thin = Canvas(width: 30, height: 30)
        var thick = Canvas(width: 30, height: 30)
        thin.drawLine(from: Point(2, 3), to: Point(27, 20), color: .black, width: 1)
        thick.drawLine(from: Point(2, 3), to: Point(27, 20), color: .black, width: 4)
        func gray(_ c: Canvas) -> [UInt8] { stride(from: 0, to: c.pixels.count, by: 4).map { c.pixels[$0] } }
        let partial = gray(thin).filter { $0 > 0 && $0 < 255 }.count
        #expect(partial > 10)  // intermediate shades along the edge
        let inkThin = gray(thin).reduce(0) { $0 + (255 - Int($1)) }
        let inkThick = gray(thick).reduce(0) { $0 + (255 - Int($1)) }
        #expect(Double(inkThick) > 3 * Double(inkThin))
    }

    @Test func polylineSkipsNonFinitePoints() {
        var c = Canvas(width: 40, height: 20)
        c.strokePolyline(
            [
                Point(1, 10.5), Point(15, 10.5), Point(.nan, 3), Point(25, 10.5), Point(38, 10.5),
                Point(.infinity, 1),
            ], color: .black)
        #expect(c.pixel(8, 10) == .black)
        #expect(c.pixel(20, 10) == .white)  // the gap where the NaN breaks the line
        #expect(c.pixel(30, 10) == .black)
    }

    @Test func rectanglesAndCircles() {
        var c = Canvas(width: 30, height: 30)
        c.fill(PixelRect(x: 2, y: 2, width: 5, height: 5), .black)
        #expect(c.pixel(2, 2) == .black && c.pixel(6, 6) == .black && c.pixel(7, 7) == .white)
        c.fillRect(x0: 10, y0: 10, x1: 12.5, y1: 11, .black)
        #expect(c.pixel(11, 10) == .black)
        #expect(c.pixel(12, 10).r > 100 && c.pixel(12, 10).r < 160)  // half covered
        c.fillCircle(center: Point(20, 20), radius: 4, color: Color(hex: 0xD62728))
        #expect(c.pixel(19, 19) == Color(hex: 0xD62728))
        #expect(c.pixel(26, 26) == .white)
        c.stroke(PixelRect(x: 0, y: 0, width: 30, height: 30), .ink)
        #expect(c.pixel(0, 15) == .ink && c.pixel(29, 15) == .ink && c.pixel(15, 29) == .ink)
    }

    @Test func blendingIsSourceOver() {
        var c = Canvas(width: 2, height: 1)
        c.blend(0, 0, .black, coverage: 0.5)
        #expect(c.pixel(0, 0).r == 128 && c.pixel(0, 0).a == 255)
        c.blend(1, 0, Color.black.withAlpha(0))
        #expect(c.pixel(1, 0) == .white)
    }

    @Test func fontWidthsAndScale() {
        #expect(BitmapFont.width(of: "") == 0)
        let w1 = BitmapFont.width(of: "1e-3")
        let w2 = BitmapFont.width(of: "1e-3", scale: 2)
        #expect(w1 > 10 && w1 < 24)
        #expect(w2 == 2 * w1)
        #expect(BitmapFont.width(of: "0") == BitmapFont.width(of: "8"))  // digits line up
        #expect(BitmapFont.width(of: "i") < BitmapFont.width(of: "m"))  // letters are proportional
    }

    @Test func fontCoversTheCharacterSetAndSubstitutes() {
        let ascii = (32...126).map { Character(UnicodeScalar(UInt8($0))) }
        #expect(BitmapFont.substitute(String(ascii)) == String(ascii))
        #expect(BitmapFont.substitute("‖A‖∞ − λ κ ≤ 1") == "‖A‖∞ − λ κ ≤ 1")
        #expect(BitmapFont.substitute("α=0.1, µ") == "alpha=0.1, mu")
        #expect(BitmapFont.substitute("日") == "?")
    }

    @Test func textDrawsInkInsideItsBox() {
        var c = Canvas(width: 60, height: 30)
        c.drawText("Ag", x: 5, y: 3, scale: 2, color: .black)
        var minX = Int.max
        var maxX = Int.min
        var minY = Int.max
        var maxY = Int.min
        for y in 0..<30 {
            for x in 0..<60 where c.pixel(x, y) == .black {
                minX = min(minX, x)
                maxX = max(maxX, x)
                minY = min(minY, y)
                maxY = max(maxY, y)
            }
        }
        #expect(minX == 5 && minY == 3)
        #expect(maxX == 5 + BitmapFont.width(of: "Ag", scale: 2) - 1)
        #expect(maxY == 3 + 9 * 2 - 1)  // the descender of g reaches the bottom of the cell
    }

    @Test func rotatedTextIsTransposed() {
        var c = Canvas(width: 30, height: 60)
        c.drawText("HELLO", x: 10, y: 55, color: .black, rotation: .up)
        var minX = Int.max
        var maxX = Int.min
        var minY = Int.max
        var maxY = Int.min
        for y in 0..<60 {
            for x in 0..<30 where c.pixel(x, y) == .black {
                minX = min(minX, x)
                maxX = max(maxX, x)
                minY = min(minY, y)
                maxY = max(maxY, y)
            }
        }
        #expect(maxX - minX + 1 == 7)  // cap height across
        #expect(maxY - minY + 1 == BitmapFont.width(of: "HELLO"))  // text length upwards
        #expect(maxY == 54)
    }
}

@Suite struct TitleTests {
    @Test func longTitlesStayOnTheCanvas() {
        let plot = LinePlot(title: String(repeating: "A very long title ", count: 8))
        let c = plot.render(width: 200, height: 120)
        // Ink in the title band, but none in the outermost columns.
        var ink = 0
        for y in 0..<20 { for x in 0..<200 where c.pixel(x, y) == .ink { ink += 1 } }
        #expect(ink > 50)
        for y in 0..<20 { #expect(c.pixel(0, y) == .white && c.pixel(199, y) == .white) }
    }
}
