import Foundation
import IDL
import IDLPlot

/// A fresh temporary directory for a test's files.
func makeTemporaryDirectory(_ name: String = #function) throws -> URL {
    let safe = name.filter { $0.isLetter || $0.isNumber }
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("idlplot-tests-\(safe)-\(UInt64.random(in: 0..<UInt64.max))")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Whether `error` is an `IDLError.io`.
func isIO(_ error: any Error) -> Bool {
    if case .io = error as? IDLError { return true }
    return false
}

/// Whether `error` is an `IDLError.shapeMismatch`.
func isShapeMismatch(_ error: any Error) -> Bool {
    if case .shapeMismatch = error as? IDLError { return true }
    return false
}

/// Whether `error` is an `IDLError.invalidArgument`.
func isInvalidArgument(_ error: any Error) -> Bool {
    if case .invalidArgument = error as? IDLError { return true }
    return false
}

/// Colours within `tolerance` per channel.
func close(_ a: Color, _ b: Color, tolerance: Int = 0) -> Bool {
    abs(Int(a.r) - Int(b.r)) <= tolerance && abs(Int(a.g) - Int(b.g)) <= tolerance
        && abs(Int(a.b) - Int(b.b)) <= tolerance && abs(Int(a.a) - Int(b.a)) <= tolerance
}

/// The error `body` throws, or nil.
func thrownError(_ body: () throws -> Void) -> (any Error)? {
    do {
        try body()
        return nil
    } catch { return error }
}

/// CRC-32 as PNG chunks use it (for building deliberately damaged files).
func pngCRC(_ bytes: ArraySlice<UInt8>) -> UInt32 {
    var c: UInt32 = 0xFFFF_FFFF
    for b in bytes {
        c ^= UInt32(b)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
    }
    return c ^ 0xFFFF_FFFF
}

/// `png` with byte `index` of its (first) IDAT chunk's data replaced by `value` and the
/// chunk's CRC recomputed, so only the compressed stream is damaged.
func damagingImageData(_ png: [UInt8], index: Int, value: UInt8) -> [UInt8] {
    var b = png
    var o = 8
    while o + 8 <= b.count {
        let length = Int(b[o]) << 24 | Int(b[o + 1]) << 16 | Int(b[o + 2]) << 8 | Int(b[o + 3])
        if String(decoding: b[(o + 4)..<(o + 8)], as: UTF8.self) == "IDAT" {
            b[o + 8 + index] = value
            let crc = pngCRC(b[(o + 4)..<(o + 8 + length)])
            for k in 0..<4 { b[o + 8 + length + k] = UInt8((crc >> (24 - 8 * UInt32(k))) & 0xFF) }
            return b
        }
        o += 12 + length
    }
    return b
}
