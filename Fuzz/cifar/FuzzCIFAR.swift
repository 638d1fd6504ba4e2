// Fuzz target: CIFAR-10 and CIFAR-100 binary record files (plain or gzip-compressed).
import Foundation
import IDL

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCIFAR(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let data = Data(bytes: start, count: count)
    if let set = try? CIFAR.decode10(data, as: Float.self) {
        precondition(set.featureCount == 3072 && set.labels.allSatisfy { (0..<10).contains($0) })
    }
    if let set = try? CIFAR.decode100(data, labels: .coarse, scaling: .symmetric, as: Double.self) {
        precondition(set.featureCount == 3072 && set.labels.allSatisfy { (0..<20).contains($0) })
    }
    return 0
}
