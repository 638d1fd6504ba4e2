// Fuzz target: .npy files, their conversion to matrices, and the write-read round trip.
import Foundation
import IDL

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNpy(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    guard let array = try? NpyArray(npyData: Data(bytes: start, count: count)) else { return 0 }
    let values = array.values(as: Float.self)
    precondition(values.count == array.elementCount)
    if let integers = try? array.integers() { precondition(integers.count == array.elementCount) }
    if let m = try? array.matrix(as: Double.self, layout: .batchFirst) {
        precondition(m.rows * m.cols == array.elementCount)
    }
    if let m = try? array.matrix(as: Float.self, layout: .sameShape) {
        precondition(m.rows * m.cols == array.elementCount)
    }
    // What we write must read back as the same array.
    guard let again = try? NpyArray(npyData: array.encoded()) else {
        preconditionFailure("an array read from .npy could not be read back after writing")
    }
    precondition(again == array, "the .npy round trip changed the array")
    return 0
}
