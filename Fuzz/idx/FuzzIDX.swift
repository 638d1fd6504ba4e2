// Fuzz target: IDX files (plain and gzip-compressed) and the MNIST-format data set built on them.
import Foundation
import IDL

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzIDX(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let file = Data(bytes: start, count: count)
    guard let array = try? IDXArray(fileContents: file) else { return 0 }
    let values = array.values()
    precondition(
        values.count == array.elementCount, "values() returned \(values.count) of \(array.elementCount) elements")
    guard array.elementType == .uint8 else { return 0 }
    // Pair the input with a valid companion file of matching count, so that the data set
    // builder runs on every accepted shape. (A header may claim billions of empty images; the
    // harness then pairs it with fewer labels rather than allocate billions itself.)
    if array.shape.count == 3,
        let labels = try? IDXArray.encode(
            [UInt8](repeating: 0, count: min(array.shape[0], 1 << 16)), shape: [min(array.shape[0], 1 << 16)])
    {
        if let set = try? MNISTFormat.dataset(imageFile: file, labelFile: labels, as: Float.self) {
            precondition(set.count == array.shape[0])
        }
    } else if array.shape.count == 1,
        let images = try? IDXArray.encode([UInt8](repeating: 0, count: array.shape[0]), shape: [array.shape[0], 1, 1])
    {
        let names = (0..<256).map(String.init)
        if let set = try? MNISTFormat.dataset(imageFile: images, labelFile: file, classNames: names, as: Double.self) {
            precondition(set.labelHistogram().reduce(0, +) == array.shape[0])
        }
    }
    return 0
}
