// Fuzz target: .safetensors files, their tensors as values and matrices, the write-read round
// trip, and the state_dict loaders of ImplicitModel and ImplicitRNN on top.
import Foundation
import IDL

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafeTensors(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    guard let file = try? SafeTensors(safetensorsData: Data(bytes: start, count: count)) else { return 0 }
    for name in file.names {
        let tensor = file.tensors[name]!
        precondition(tensor.values(as: Float.self).count == tensor.elementCount)
        if let integers = try? tensor.integers() { precondition(integers.count == tensor.elementCount) }
        let m = tensor.matrix(as: Double.self)
        precondition(m.rows * m.cols == tensor.elementCount)
    }
    // What we write must read back as the same tensors.
    if let encoded = try? file.encoded() {
        guard let again = try? SafeTensors(safetensorsData: encoded) else {
            preconditionFailure("a safetensors file read could not be read back after writing")
        }
        precondition(again == file, "the safetensors round trip changed the contents")
    }
    _ = try? ImplicitModel<Float>.load(stateDict: file)
    _ = try? ImplicitRNN<Double>.load(stateDict: file)
    return 0
}
