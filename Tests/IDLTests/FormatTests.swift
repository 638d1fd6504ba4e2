import Foundation
import IDL
import Testing

private let interop = fixturesDirectory.appendingPathComponent("interop/implicit_small")

/// A little-endian Float read straight from file bytes (independent of the readers).
private func floatAt(_ bytes: Data, _ offset: Int) -> Float {
    let b = [UInt8](bytes[offset..<(offset + 4)])
    return Float(bitPattern: UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24)
}

/// A hand-made .npy v1.0 file with the given header dictionary text and data bytes.
private func npyFile(header: String, data: [UInt8], headerLength: Int? = nil) -> Data {
    var h = Array(header.utf8)
    while (10 + h.count + 1) % 64 != 0 { h.append(0x20) }
    h.append(0x0a)
    let n = headerLength ?? h.count
    return Data([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, UInt8(n & 0xff), UInt8(n >> 8)] + h + data)
}

/// A hand-made .safetensors file from a header JSON string and data bytes.
private func safetensorsFile(header: String, data: [UInt8], headerLength: UInt64? = nil) -> Data {
    let h = Array(header.utf8)
    var out = Data()
    withUnsafeBytes(of: (headerLength ?? UInt64(h.count)).littleEndian) { out.append(contentsOf: $0) }
    out.append(contentsOf: h)
    out.append(contentsOf: data)
    return out
}

@Suite("File formats: npy and safetensors")
struct FormatTests {
    // MARK: shared fixtures

    @Test func readsNumpyCOrderInput() throws {
        let url = interop.appendingPathComponent("input.npy")
        let array = try NpyArray(contentsOf: url)
        #expect(array.shape == [10, 16])
        #expect(array.dtype == .float32)
        #expect(array.fortranOrder == false)
        let u: Matrix<Float> = try array.matrix()
        #expect(u.rows == 16 && u.cols == 10)  // batch-first (m, p) → p×m
        // Check against the raw bytes: numpy element [sample 3, feature 5] is at 128 + (3·16 + 5)·4.
        let raw = try Data(contentsOf: url)
        #expect(u[5, 3] == floatAt(raw, 128 + (3 * 16 + 5) * 4))
        #expect(u[0, 0] == floatAt(raw, 128))
        // Same matrix in the other layout is the transpose; in Double it converts exactly.
        let same: Matrix<Double> = try array.matrix(layout: .sameShape)
        #expect(same.rows == 10 && same.cols == 16)
        #expect(same == u.transposed.converted(to: Double.self))
    }

    @Test func readsNumpyFortranOrderOutput() throws {
        let url = interop.appendingPathComponent("expected_output.npy")
        let array = try NpyArray(contentsOf: url)
        #expect(array.shape == [10, 4])
        #expect(array.fortranOrder == true)
        let y: Matrix<Float> = try array.matrix()
        #expect(y.rows == 4 && y.cols == 10)
        // Fortran order: numpy element [i, j] is at 128 + (i + 10·j)·4.
        let raw = try Data(contentsOf: url)
        #expect(y[2, 7] == floatAt(raw, 128 + (7 + 10 * 2) * 4))
        let same: Matrix<Float> = try array.matrix(layout: .sameShape)
        #expect(same == y.transposed)
        #expect(array.values(as: Float.self)[7 * 4 + 2] == y[2, 7])  // C-order values
    }

    @Test func readsSafetensorsModelAndReproducesItsOutput() throws {
        let file = try SafeTensors(contentsOf: interop.appendingPathComponent("model.safetensors"))
        #expect(file.names == ["A", "B", "C", "D"])
        #expect(file.tensors["A"]?.shape == [24, 24])
        #expect(file.tensors["B"]?.shape == [24, 16])
        #expect(file.tensors["C"]?.shape == [4, 24])
        #expect(file.tensors["D"]?.shape == [4, 16])
        #expect(file.tensors["A"]?.dtype == .float32)
        var a: Matrix<Double> = try file.matrix("A")
        let b: Matrix<Double> = try file.matrix("B")
        let c: Matrix<Double> = try file.matrix("C")
        let d: Matrix<Double> = try file.matrix("D")
        #expect(a.rows == 24 && a.cols == 24 && b.rows == 24 && b.cols == 16)
        #expect(c.rows == 4 && c.cols == 24 && d.rows == 4 && d.cols == 16)
        // Row-major bytes: B[1, 2] is element 1·16 + 2 of B's data (offset 2304 in the data).
        let raw = try Data(contentsOf: interop.appendingPathComponent("model.safetensors"))
        #expect(Float(b[1, 2]) == floatAt(raw, 8 + 248 + 2304 + (1 * 16 + 2) * 4))

        // The orientation check that matters: the loaded model reproduces torchidl's output.
        if a.infinityNorm > 0.99 { a = a * (0.99 / a.infinityNorm) }
        let u: Matrix<Double> = try readNpy(interop.appendingPathComponent("input.npy"))
        let expected: Matrix<Double> = try readNpy(interop.appendingPathComponent("expected_output.npy"))
        var x = Matrix<Double>.zeros(24, u.cols)
        let bu = matmul(b, u)
        for _ in 0..<2000 { x = (matmul(a, x) + bu).map { max($0, 0) } }
        let y = matmul(c, x) + matmul(d, u)
        #expect(y.rows == expected.rows && y.cols == expected.cols)
        #expect(y.isApproximatelyEqual(to: expected, tolerance: 1e-3))
    }

    // MARK: round trips

    @Test func npyRoundTripsFloatAndDoubleInBothLayouts() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var g = SeededGenerator(seed: 7)
        let f = Matrix<Float>.randomNormal(5, 3, using: &g)
        let d = Matrix<Double>.randomNormal(4, 6, using: &g)
        for layout in [NpyLayout.batchFirst, .sameShape] {
            let uf = dir.appendingPathComponent("f-\(layout).npy")
            try writeNpy(f, to: uf, layout: layout)
            let af = try NpyArray(contentsOf: uf)
            #expect(af.dtype == .float32)
            #expect(af.shape == (layout == .batchFirst ? [3, 5] : [5, 3]))
            #expect(af.fortranOrder == (layout == .sameShape))
            #expect(try af.matrix(as: Float.self, layout: layout) == f)
            // The bytes are the matrix storage, unreordered, in both layouts.
            #expect(af.data == f.storage.withUnsafeBytes { Data($0) })

            let ud = dir.appendingPathComponent("d-\(layout).npy")
            try writeNpy(d, to: ud, layout: layout)
            #expect(try readNpy(ud, as: Double.self, layout: layout) == d)
            // Asking for the other precision converts.
            #expect(try readNpy(ud, as: Float.self, layout: layout) == d.converted(to: Float.self))
            // Header is padded so the data starts on a 64-byte boundary, as numpy does.
            let raw = try Data(contentsOf: ud)
            let headerLength = Int(raw[8]) | Int(raw[9]) << 8
            #expect((10 + headerLength) % 64 == 0)
            #expect(raw.count == 10 + headerLength + d.count * 8)
        }
        // No temporary files are left behind by the atomic writes.
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix(".") }
        #expect(leftovers.isEmpty)
    }

    @Test func npyHandlesIntegersVectorsAndHigherRank() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let labels = try NpyArray(shape: [5], values: [Int64(3), 1, 4, 1, 5])
        let url = dir.appendingPathComponent("labels.npy")
        try labels.write(to: url)
        let back = try NpyArray(contentsOf: url)
        #expect(back.dtype == .int64 && back.shape == [5])
        #expect(try back.integers() == [3, 1, 4, 1, 5])
        #expect(try back.matrix(as: Double.self) == Matrix(row: [3, 1, 4, 1, 5]))  // 1-D batch-first: 1×m
        #expect(try back.matrix(as: Double.self, layout: .sameShape) == Matrix(column: [3, 1, 4, 1, 5]))

        // 3-D (2 samples of 2×3 images), Fortran order: flattened per sample in C order.
        let cOrder: [Int32] = Array(0..<12)  // element [s, r, c] = 6s + 3r + c
        var fortran = [Int32](repeating: 0, count: 12)
        for s in 0..<2 { for r in 0..<2 { for c in 0..<3 { fortran[s + 2 * r + 4 * c] = Int32(6 * s + 3 * r + c) } } }
        let a = try NpyArray(shape: [2, 2, 3], values: fortran, fortranOrder: true)
        let m: Matrix<Float> = try a.matrix()
        #expect(m.rows == 6 && m.cols == 2)
        #expect(m.storage == cOrder.map(Float.init))
        #expect(a.values(as: Double.self) == cOrder.map(Double.init))

        let bools = try NpyArray(shape: [2, 2], values: [true, false, false, true])
        try bools.write(to: url)
        #expect(try NpyArray(contentsOf: url).integers() == [1, 0, 0, 1])
        let bytes = try NpyArray(shape: [3], values: [UInt8(0), 128, 255])
        try bytes.write(to: url)
        #expect(try NpyArray(contentsOf: url).values(as: Float.self) == [0, 128, 255])
        #expect(try NpyArray(npyData: bytes.encoded()) == bytes)
    }

    @Test func safetensorsRoundTripsMatricesVectorsAndMetadata() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var g = SeededGenerator(seed: 3)
        let w = Matrix<Float>.randomNormal(3, 5, using: &g)
        let v = Matrix<Double>.randomNormal(2, 7, using: &g)
        var file = SafeTensors(metadata: ["format": "pt", "note": "quote \" and \\ and \n"])
        file.setMatrix("layer.weight", w)
        file.setMatrix("double", v)
        file.tensors["layer.bias"] = SafeTensors.Tensor(vector: [Float(1), 2, 3])
        file.tensors["steps"] = try SafeTensors.Tensor(shape: [2], values: [Int64(10), -4])
        file.tensors["ids"] = try SafeTensors.Tensor(shape: [3], values: [Int32(1), 2, 3])
        file.tensors["mask"] = try SafeTensors.Tensor(shape: [2], values: [UInt8(0), 255])
        let url = dir.appendingPathComponent("model.safetensors")
        try file.write(to: url)

        let back = try SafeTensors(contentsOf: url)
        #expect(back == file)
        #expect(back.metadata["note"] == "quote \" and \\ and \n")
        #expect(back.tensors["layer.weight"]?.shape == [3, 5])
        #expect(try back.matrix("layer.weight", as: Float.self) == w)
        #expect(try back.matrix("double", as: Double.self) == v)
        #expect(try back.matrix("double", as: Float.self) == v.converted(to: Float.self))
        #expect(try back.matrix("layer.bias", as: Float.self) == Matrix(column: [1, 2, 3]))
        #expect(try back.tensor("steps").integers() == [10, -4])
        #expect(try back.tensor("ids").integers() == [1, 2, 3])
        #expect(try back.tensor("mask").integers() == [0, 255])
        // Row-major on disk: the first row of w comes first.
        #expect(back.tensors["layer.weight"]!.values(as: Float.self).prefix(5).elementsAreEqual(w.rowArray(0)))
        // Header padded to 8 bytes.
        let raw = try Data(contentsOf: url)
        let n = raw.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        #expect(n % 8 == 0)
        // Writing a reserved name is refused.
        var bad = SafeTensors()
        bad.tensors["__metadata__"] = SafeTensors.Tensor(vector: [Float(1)])
        expectFailure(["reserved"]) { _ = try bad.encoded() }
    }

    @Test func atomicWritesReplaceFilesAndReportMissingDirectories() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("w.npy")
        try writeNpy(Matrix<Float>.ones(2, 2), to: url)
        try writeNpy(Matrix<Float>.zeros(3, 1), to: url)  // replaces the existing file
        #expect(try readNpy(url, as: Float.self) == Matrix<Float>.zeros(3, 1))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["w.npy"])
        let nowhere = dir.appendingPathComponent("no/such/dir/w.safetensors")
        expectFailure(["does not exist", "create it first"]) { try SafeTensors().write(to: nowhere) }
    }

    // MARK: bad input, npy

    @Test func npyRejectsBadInput() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let four: [UInt8] = [0, 0, 128, 63]  // 1.0f
        let good = npyFile(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", data: four + four)
        #expect(try NpyArray(npyData: good).values(as: Float.self) == [1, 1])

        expectFailure(["not found", "missing.npy"]) {
            _ = try NpyArray(contentsOf: dir.appendingPathComponent("missing.npy"))
        }
        expectFailure(["too short"]) { _ = try NpyArray(npyData: Data([0x93, 0x4E])) }
        expectFailure(["magic", "found 50 4b"]) {
            _ = try NpyArray(npyData: Data([0x50, 0x4b, 3, 4] + [UInt8](repeating: 0, count: 20)))
        }
        // Truncated data: header says 2 floats, one follows.
        expectFailure(["needs 8 data bytes", "4 follow", "truncated"]) {
            _ = try NpyArray(npyData: good.prefix(good.count - 4))
        }
        // Header length that lies (larger than the file).
        expectFailure(["header claims 60000 bytes"]) {
            _ = try NpyArray(
                npyData: npyFile(
                    header: "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", data: four, headerLength: 60000
                ))
        }
        // Unsupported dtypes: complex, strings, structured; big-endian.
        expectFailure(["'<c8'", "not supported"]) {
            _ = try NpyArray(
                npyData: npyFile(header: "{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", data: four + four)
            )
        }
        expectFailure(["'<U3'"]) {
            _ = try NpyArray(
                npyData: npyFile(header: "{'descr': '<U3', 'fortran_order': False, 'shape': (1,), }", data: four))
        }
        expectFailure(["structured"]) {
            _ = try NpyArray(
                npyData: npyFile(
                    header: "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", data: four))
        }
        expectFailure(["'>f4'", "big-endian", "newbyteorder"]) {
            _ = try NpyArray(
                npyData: npyFile(header: "{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", data: four))
        }
        // Shape and data disagree (more data than the shape needs).
        expectFailure(["shape (1,)", "needs 4 data bytes", "8 follow"]) {
            _ = try NpyArray(
                npyData: npyFile(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", data: four + four)
            )
        }
        // Malformed header, missing keys, unknown version.
        expectFailure(["malformed"]) {
            _ = try NpyArray(
                npyData: npyFile(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (1, ", data: four))
        }
        expectFailure(["'shape'"]) {
            _ = try NpyArray(npyData: npyFile(header: "{'descr': '<f4', 'fortran_order': False}", data: four))
        }
        var v9 = good
        v9[6] = 9
        expectFailure(["version 9.0"]) { _ = try NpyArray(npyData: v9) }
        // Every prefix of a valid file fails cleanly (no crash, no out-of-bounds read).
        for cut in 0..<good.count {
            #expect(throws: IDLError.self) { _ = try NpyArray(npyData: good.prefix(cut)) }
        }
        // Constructing an array with the wrong amount of data is refused too.
        expectFailure(["needs 3 × 4 bytes", "8 bytes"]) {
            _ = try NpyArray(shape: [3], dtype: .float32, data: Data(four + four))
        }
    }

    // MARK: bad input, safetensors

    @Test func safetensorsRejectsBadInput() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let data: [UInt8] = [0, 0, 128, 63, 0, 0, 0, 64]  // 1.0f, 2.0f
        let header = #"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":{"k":"v"}}"#
        let good = safetensorsFile(header: header, data: data)
        let parsed = try SafeTensors(safetensorsData: good)
        #expect(try parsed.tensor("x").values(as: Float.self) == [1, 2])
        #expect(parsed.metadata == ["k": "v"])

        expectFailure(["not found"]) { _ = try SafeTensors(contentsOf: dir.appendingPathComponent("none.safetensors")) }
        expectFailure(["too short"]) { _ = try SafeTensors(safetensorsData: Data([1, 2, 3])) }
        expectFailure(["header length field says 1000000", "truncated"]) {
            _ = try SafeTensors(safetensorsData: safetensorsFile(header: header, data: data, headerLength: 1_000_000))
        }
        expectFailure(["header length field says 18446744073709551615"]) {
            _ = try SafeTensors(safetensorsData: safetensorsFile(header: header, data: data, headerLength: UInt64.max))
        }
        // Truncated data section.
        expectFailure(["bytes 0..<8 of a data section of 4 bytes"]) {
            _ = try SafeTensors(safetensorsData: good.prefix(good.count - 4))
        }
        expectFailure(["JSON object"]) {
            _ = try SafeTensors(safetensorsData: safetensorsFile(header: "[1, 2]", data: []))
        }
        expectFailure(["malformed"]) {
            _ = try SafeTensors(safetensorsData: safetensorsFile(header: #"{"x": {"dtype": "F32", "#, data: data))
        }
        expectFailure(["malformed", "data_offsets"]) {
            _ = try SafeTensors(
                safetensorsData: safetensorsFile(header: #"{"x":{"dtype":"F32","shape":[2]}}"#, data: data))
        }
        expectFailure(["F8_E4M3", "supported"]) {
            _ = try SafeTensors(
                safetensorsData: safetensorsFile(
                    header: #"{"x":{"dtype":"F8_E4M3","shape":[8],"data_offsets":[0,8]}}"#, data: data))
        }
        expectFailure(["shape [3]", "needs 12 bytes", "span 8"]) {
            _ = try SafeTensors(
                safetensorsData: safetensorsFile(
                    header: #"{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: data))
        }
        expectFailure(["invalid shape"]) {
            _ = try SafeTensors(
                safetensorsData: safetensorsFile(
                    header: #"{"x":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, data: data))
        }
        expectFailure(["overlap"]) {
            _ = try SafeTensors(
                safetensorsData: safetensorsFile(
                    header:
                        #"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
                    data: data))
        }
        expectFailure(["bytes 8..<4"]) {
            _ = try SafeTensors(
                safetensorsData: safetensorsFile(
                    header: #"{"x":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}}"#, data: data))
        }
        expectFailure(["malformed"]) {  // a fractional offset is not an integer
            _ = try SafeTensors(
                safetensorsData: safetensorsFile(
                    header: #"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8.5]}}"#, data: data))
        }
        expectFailure(["no tensor named 'y'", "x"]) { _ = try parsed.matrix("y", as: Float.self) }
        for cut in 0..<good.count {
            #expect(throws: IDLError.self) { _ = try SafeTensors(safetensorsData: good.prefix(cut)) }
        }
    }
}

extension Sequence where Element: Equatable {
    fileprivate func elementsAreEqual(_ other: [Element]) -> Bool { Array(self) == other }
}
