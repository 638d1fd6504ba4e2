import Foundation
import IDL
import Testing

// Inputs that crashed, hung or exhausted memory in the file readers, found by the libFuzzer
// harnesses in Fuzz/ (scripts/fuzz.sh) or while writing them. Each now has to fail with a
// clear IDLError (or, where the input is legitimate, succeed quickly).

/// An IDX header: 00 00 <type> <rank>, then the dimensions as big-endian UInt32.
private func idx(type: UInt8 = 0x08, _ dims: [UInt32], payload: [UInt8] = []) -> Data {
    var bytes: [UInt8] = [0, 0, type, UInt8(dims.count)]
    for d in dims { bytes += [UInt8(d >> 24), UInt8(d >> 16 & 0xff), UInt8(d >> 8 & 0xff), UInt8(d & 0xff)] }
    return Data(bytes + payload)
}

/// A version 1.0 `.npy` file with the given header dictionary and data bytes.
private func npy(_ dictionary: String, data: [UInt8] = []) -> Data {
    var header = Array(dictionary.utf8)
    while (10 + header.count + 1) % 64 != 0 { header.append(0x20) }
    header.append(0x0A)
    return Data(
        [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, UInt8(header.count & 0xff), UInt8(header.count >> 8)] + header + data
    )
}

/// A `.safetensors` file with the given JSON header and data bytes.
private func safetensors(_ json: String, data: [UInt8] = []) -> Data {
    let header = Array(json.utf8)
    return Data((0..<8).map { UInt8(truncatingIfNeeded: header.count >> (8 * $0)) } + header + data)
}

@Suite struct FuzzRegressionTests {
    /// fuzz-idx, first minute: an int32 IDX file of shape (3 573 601 749, 1 330 597 711) has
    /// 4.8·10¹⁸ elements, which fits an Int, but 4 bytes each do not; the size check multiplied
    /// without overflow checking and trapped.
    @Test func idxDataSizeOverflowIsAnError() {
        let input = Data(base64Encoded: "AAAMAtUA1dVPT09PT09PT09PT09PT08BAAAAT08AJk9PT09PT08=")!
        expectFailure(["more than Int.max bytes", "header is corrupt"]) { _ = try IDXArray(fileContents: input) }
    }

    /// fuzz-idx: a 16-byte image file declaring 268 435 456 images of 0×28 pixels is a valid
    /// IDX array of no elements; paired with as many labels, loading it tried to allocate 2 GB.
    /// Images without pixels are now refused (here with 3 of them).
    @Test func mnistImagesWithoutPixelsAreRefused() {
        let images = idx([3, 0, 28])
        let labels = idx([3], payload: [1, 2, 3])
        expectFailure(["images of 0×28 pixels", "header is corrupt"]) {
            _ = try MNISTFormat.dataset(imageFile: images, labelFile: labels, as: Float.self)
        }
    }

    /// An IDX file of shape (0, 2³²−1, 2³²−1) has no elements, but its image size
    /// (rows × cols) overflows; loading it as MNIST images trapped.
    @Test func idxEmptyArrayWithHugeSidesIsRefused() {
        let images = idx([0, .max, .max])
        expectFailure(["too large"]) { _ = try IDXArray(fileContents: images) }
        expectFailure(["too large"]) {
            _ = try MNISTFormat.dataset(imageFile: images, labelFile: idx([0]), as: Float.self)
        }
    }

    /// `.npy` shape (0, 2⁴⁰, 2⁴⁰): zero elements and zero data bytes, so it parsed, and then
    /// `matrix()` multiplied the trailing dimensions and trapped.
    @Test func npyEmptyArrayWithHugeTrailingDimensionsIsRefused() throws {
        let file = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 1099511627776, 1099511627776), }")
        expectFailure(["(0, 1099511627776, 1099511627776)", "too large"]) { _ = try NpyArray(npyData: file) }
        // The same with a small trailing product is a legitimate empty array.
        let small = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3, 4), }")
        #expect(try NpyArray(npyData: small).matrix(as: Float.self).shapeDescription == "12×0")
    }

    /// The same shape in a `.safetensors` header: parsed, then `Tensor.matrix()` trapped.
    @Test func safetensorsEmptyTensorWithHugeTrailingDimensionsIsRefused() {
        let file = safetensors(#"{"t":{"dtype":"F32","shape":[0,1099511627776,1099511627776],"data_offsets":[0,0]}}"#)
        expectFailure(["tensor 't'", "too large"]) { _ = try SafeTensors(safetensorsData: file) }
    }

    /// A tensor of shape (2⁴⁰, 0) is valid and empty, but converting it to a matrix transposed
    /// a 0×2⁴⁰ matrix block by block, 2³⁵ empty blocks: the state_dict loaders hung on it.
    @Test func emptyTensorWithOneHugeSideConvertsInstantly() throws {
        let file = try SafeTensors(
            safetensorsData: safetensors(
                #"{"w":{"dtype":"F32","shape":[1099511627776,0],"data_offsets":[0,0]}}"#))
        let start = ContinuousClock.now
        let m = try file.matrix("w", as: Float.self)
        #expect(m.rows == 1 << 40 && m.cols == 0)
        #expect(ContinuousClock.now - start < .seconds(1))
    }

    /// The state_dict loaders on empty tensors with a huge side (found by hand while seeding
    /// fuzz-safetensors): the ImplicitRNN loader hung in the transpose above, and once that
    /// was fixed it built an RNN with no hidden state and 2⁴⁰ inputs and outputs. Empty
    /// tensors are now refused, quickly.
    @Test func stateDictOfEmptyTensorsIsRefused() throws {
        let file = try SafeTensors(
            safetensorsData: safetensors(
                #"{"recurrent.layer.A":{"dtype":"F32","shape":[0,0],"data_offsets":[0,0]},"#
                    + #""recurrent.layer.B":{"dtype":"F32","shape":[0,1099511627776],"data_offsets":[0,0]},"#
                    + #""recurrent.layer.C":{"dtype":"F32","shape":[0,0],"data_offsets":[0,0]},"#
                    + #""linear.weight":{"dtype":"F32","shape":[1099511627776,0],"data_offsets":[0,0]}}"#))
        let start = ContinuousClock.now
        expectFailure(["tensor 'recurrent.layer.B' is empty (0×1099511627776)"]) {
            _ = try ImplicitRNN<Double>.load(stateDict: file)
        }
        #expect(ContinuousClock.now - start < .seconds(1))
        let model = try SafeTensors(
            safetensorsData: safetensors(
                #"{"A":{"dtype":"F32","shape":[0,0],"data_offsets":[0,0]},"#
                    + #""B":{"dtype":"F32","shape":[0,2],"data_offsets":[0,0]},"#
                    + #""C":{"dtype":"F32","shape":[1099511627776,0],"data_offsets":[0,0]}}"#))
        expectFailure(["tensor 'A' is empty (0×0)"]) { _ = try ImplicitModel<Float>.load(stateDict: model) }
    }

    /// gzip bombs: decompression stops at a limit instead of taking all memory. (Hardening
    /// from the fuzzing review; libFuzzer's 4 KB inputs cannot expand far enough to show it.)
    @Test func gzipRefusesOutputBeyondItsLimit() throws {
        let zeros = Data(count: 1 << 20)
        let packed = try Gzip.compress(zeros, level: 9)
        #expect(packed.count < 2_000)  // a thousandfold expansion
        expectFailure(["expands to more than 100000 bytes"]) { _ = try Gzip.decompress(packed, limit: 100_000) }
        expectFailure(["expands to more than 1048575 bytes"]) { _ = try Gzip.decompress(packed, limit: (1 << 20) - 1) }
        #expect(try Gzip.decompress(packed, limit: 1 << 20) == [UInt8](zeros))
    }
}
