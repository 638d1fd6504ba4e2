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
    do { try body(); return nil } catch { return error }
}
