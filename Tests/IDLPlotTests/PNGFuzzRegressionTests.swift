import Foundation
import IDL
import IDLPlot
import Testing

// PNG inputs that crashed the decoder, found by the libFuzzer harness Fuzz/png
// (scripts/fuzz.sh png). Each must now throw IDLError.io.

@Suite struct PNGFuzzRegressionTests {
    /// fuzz-png: a 4×1 palette image whose tRNS chunk has the type bytes 3d 52 4e 53 ("=RNS").
    /// The validation passed it (an unknown ancillary chunk, CRC correct), then libpng raised
    /// "[3D]RNS: invalid chunk type", and its error callback stopped the process. Chunk types
    /// are now checked to be letters, and any libpng error while reading is thrown.
    @Test func chunkTypeThatIsNotLettersIsAnError() {
        let input = [UInt8](
            Data(
                base64Encoded:
                    "iVBORw0KGgoAAAANSUhEUgAAAAQAAAABAgMAAACEUudeAAAADFBMVEX/AAAA/wAAAP8JCQlccX6GAAAAAj1STlMAgJsrThgAAAAKSURBVHjaY5AGAAAdABwjfI+sAAAAAElFTkSuQmCC"
            )!)
        let error = thrownError { _ = try PNGImage.decode(input) }
        #expect(error.map(isIO) == true)
        #expect("\(error.map { "\($0)" } ?? "")".contains("3d 52 4e 53"))
        // With the chunk named tRNS again (and its CRC fixed) it is a valid image.
        var fixed = input
        fixed[0x3D] = UInt8(ascii: "t")
        let crc = pngCRC(fixed[0x3D..<(0x3D + 4 + 2)])
        for k in 0..<4 { fixed[0x3D + 6 + k] = UInt8(truncatingIfNeeded: crc >> (24 - 8 * k)) }
        let image = try? PNGImage.decode(fixed)
        #expect(image?.width == 4 && image?.colorType == .rgba)
    }
}
