// Fuzz target: PNG decoding (validation in Swift, then libpng) and the encode-decode round trip.
import Foundation
import IDL
import IDLPlot

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPNG(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    var bytes = [UInt8](UnsafeRawBufferPointer(start: start, count: count))
    // Half of the inputs get their chunk CRCs repaired, so that mutations of the chunk
    // contents reach the header checks, the image data check and libpng instead of stopping
    // at the CRC check; the other half test that check itself.
    if count > 8 && bytes[8] & 1 == 0 { repairCRCs(&bytes) }
    guard let image = try? PNGImage.decode(bytes) else { return 0 }
    precondition(image.pixels.count == image.width * image.height * image.channels)
    // Writing the decoded pixels and reading them back must give the same pixels.
    guard
        let copy = try? PNGImage(
            width: image.width, height: image.height, colorType: image.colorType, pixels: image.pixels),
        let again = try? PNGImage.decode(copy.pngData())
    else {
        preconditionFailure(
            "a decoded \(image.width)×\(image.height) \(image.colorType) image could not be encoded and read back")
    }
    precondition(
        again.pixels == image.pixels && again.colorType == image.colorType, "the PNG round trip changed the pixels")
    return 0
}

/// Rewrites the CRC of every complete chunk after the 8-byte signature.
func repairCRCs(_ b: inout [UInt8]) {
    var offset = 8
    while offset + 12 <= b.count {
        let length = Int(b[offset]) << 24 | Int(b[offset + 1]) << 16 | Int(b[offset + 2]) << 8 | Int(b[offset + 3])
        guard length <= b.count - offset - 12 else { return }
        var c: UInt32 = 0xFFFF_FFFF
        for i in (offset + 4)..<(offset + 8 + length) {
            c ^= UInt32(b[i])
            for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        }
        c ^= 0xFFFF_FFFF
        for k in 0..<4 { b[offset + 8 + length + k] = UInt8(truncatingIfNeeded: c >> (24 - 8 * k)) }
        offset += 12 + length
    }
}
