import Foundation
import IDL
import IDLPlot
import Testing

@Suite struct PNGTests {
    @Test func rgbaRoundTripInMemory() throws {
        let pixels: [UInt8] = [
            255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 128,
            10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 255,
        ]
        let image = try PNGImage(width: 3, height: 2, colorType: .rgba, pixels: pixels)
        let back = try PNGImage.decode(image.pngData())
        #expect(back.width == 3 && back.height == 2)
        #expect(back.colorType == .rgba && back.fileColorType == .rgba && back.channels == 4 && back.fileBitDepth == 8)
        #expect(back.pixels == pixels)
        #expect(back.color(2, 0) == Color(r: 0, g: 0, b: 255, a: 128))
    }

    @Test func grayRoundTripThroughFile() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let pixels = (0..<(7 * 5)).map { UInt8($0 * 7) }
        let url = dir.appendingPathComponent("gray.png")
        try PNGImage(width: 7, height: 5, colorType: .gray, pixels: pixels).write(to: url)
        let back = try PNGImage.read(from: url)
        #expect(back.colorType == .gray && back.channels == 1)
        #expect(back.width == 7 && back.height == 5)
        #expect(back.pixels == pixels)
        #expect(back.color(1, 0) == Color(gray: 7))
    }

    @Test func canvasWritesRGBA() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var canvas = Canvas(width: 20, height: 10, background: Color.white.withAlpha(200))
        for y in 2..<5 { for x in 5..<9 { canvas.setPixel(x, y, Color(hex: 0xD62728)) } }
        let url = dir.appendingPathComponent("canvas.png")
        try canvas.write(to: url)
        let back = try PNGImage.read(from: url)
        #expect(back.width == 20 && back.height == 10 && back.colorType == .rgba)
        #expect(back.color(6, 3) == Color(hex: 0xD62728))
        #expect(back.color(0, 0) == Color.white.withAlpha(200))
        #expect(back.pixels == canvas.pixels)
        // An opaque canvas (a rendered figure) is written as RGB.
        let opaque = try PNGImage.decode(Canvas(width: 3, height: 2, background: .ink).pngData())
        #expect(opaque.colorType == .rgb && opaque.color(2, 1) == .ink)
    }

    @Test func invalidImagesAreRejectedBeforeLibpng() {
        #expect(throws: IDLError.self) { try PNGImage(width: 0, height: 5, colorType: .gray, pixels: []) }
        #expect(throws: IDLError.self) { try PNGImage(width: 2, height: 2, colorType: .rgb, pixels: [1, 2, 3]) }
        #expect(throws: IDLError.self) { try PNGImage(width: 1, height: 1, colorType: .palette, pixels: [0]) }
        #expect(throws: IDLError.self) { try PNGImage(width: 20000, height: 1, colorType: .gray, pixels: []) }
    }

    @Test func corruptDataThrowsInsteadOfCrashing() throws {
        let good = try PNGImage(width: 4, height: 4, colorType: .rgb, pixels: [UInt8](repeating: 99, count: 48))
            .pngData()
        // Not a PNG at all.
        #expect(
            thrownError { _ = try PNGImage.decode(Array("hello, world, this is not a PNG file at all!!".utf8)) }.map(
                isIO) == true)
        // Truncated in the middle.
        #expect(thrownError { _ = try PNGImage.decode(Array(good.prefix(good.count - 20))) }.map(isIO) == true)
        // One flipped byte inside the image data (caught by the chunk CRC).
        var flipped = good
        flipped[good.count - 20] ^= 0x55
        #expect(thrownError { _ = try PNGImage.decode(flipped) }.map(isIO) == true)
        // Damaged compressed data behind a valid CRC: caught by the zlib check, not libpng.
        var damagedCount = 0
        for (index, value) in [(0, 0x00), (1, 0xFF), (2, 0xFF), (5, 0x00), (8, 0x13)] {
            let damaged = damagingImageData(good, index: index, value: UInt8(value))
            if damaged != good {
                damagedCount += 1
                #expect(thrownError { _ = try PNGImage.decode(damaged) }.map(isIO) == true)
            }
        }
        #expect(damagedCount >= 3)
        // Missing file.
        #expect(
            thrownError { _ = try PNGImage.read(from: URL(fileURLWithPath: "/nonexistent-idl/none.png")) }.map(isIO)
                == true)
    }

    @Test func badPathsThrowIOErrors() throws {
        let canvas = Canvas(width: 4, height: 4)
        #expect(
            thrownError { _ = try canvas.write(to: URL(fileURLWithPath: "/nonexistent-idl-dir/sub/out.png")) }.map(isIO)
                == true)
        // /proc accepts no new files, not even from root.
        #expect(
            thrownError { _ = try canvas.write(to: URL(fileURLWithPath: "/proc/idlplot-test.png")) }.map(isIO) == true)
        // The target is an existing directory: the rename fails and the temporary file is removed.
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let sub = dir.appendingPathComponent("taken")
        try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
        #expect(thrownError { _ = try canvas.write(to: sub) }.map(isIO) == true)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["taken"])
    }

    @Test func atomicWriteReplacesAndLeavesNoTemporaryFiles() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("out.png")
        try Canvas(width: 3, height: 3, background: .black).write(to: url)
        try Canvas(width: 5, height: 2).write(to: url)
        let back = try PNGImage.read(from: url)
        #expect(back.width == 5 && back.height == 2)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["out.png"])
    }

    @Test func encodingIsDeterministic() throws {
        var plot = LinePlot(title: "1×10⁻³")
        try plot.add(x: [3.0, 60], y: [4.0, 40], label: "line")
        let canvas = try plot.render(width: 64, height: 48)
        #expect(canvas.pngData() == canvas.pngData())
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = dir.appendingPathComponent("a.png")
        let b = dir.appendingPathComponent("b.png")
        try canvas.write(to: a)
        try canvas.write(to: b)
        #expect(try Data(contentsOf: a) == Data(contentsOf: b))
    }

    @Test func matrixAsGrayscaleImage() throws {
        let m = try Matrix<Float>(rowMajor: [[0, 1, 2], [4, 3, 2]])
        let image = try PNGImage(grayscale: m)
        #expect(image.width == 3 && image.height == 2 && image.colorType == .gray)
        #expect(image.color(0, 0) == Color(gray: 0) && image.color(0, 1) == Color(gray: 255))
        #expect(image.color(1, 0) == Color(gray: 64))
        let back = try PNGImage.decode(image.pngData())
        #expect(back == image)
        let clamped = try PNGImage(grayscale: m, range: 1...3)
        #expect(clamped.color(0, 0) == .black && clamped.color(0, 1) == .white)
        var bad = m
        bad[1, 1] = .nan
        #expect(throws: IDLError.self) { try PNGImage(grayscale: bad) }
    }

    @Test func linksAgainstLibpng16() {
        #expect(libpngVersion.hasPrefix("1.6"))
    }
}
