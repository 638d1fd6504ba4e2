import Foundation
import IDL
import Testing

/// Output of a command (used to decompress with the system's gzip, independently of zlib here).
private func run(_ executable: String, _ arguments: [String], input: Data? = nil) throws -> Data {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let out = Pipe()
    process.standardOutput = out
    let inPipe = Pipe()
    if input != nil { process.standardInput = inPipe }
    try process.run()
    if let input {
        try inPipe.fileHandleForWriting.write(contentsOf: input)
        try inPipe.fileHandleForWriting.close()
    }
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return data
}

private func idxHeader(type: UInt8 = 0x08, _ dims: [Int]) -> [UInt8] {
    var h: [UInt8] = [0, 0, type, UInt8(dims.count)]
    for d in dims { h += [UInt8(d >> 24 & 0xff), UInt8(d >> 16 & 0xff), UInt8(d >> 8 & 0xff), UInt8(d & 0xff)] }
    return h
}

/// Writes a tiny MNIST-format training set: 3 images of 2×3 pixels (pixel = 10·image + index),
/// labels 2, 0, 9. `compress` gzips with zlib (`.zlib`) or /usr/bin/gzip (`.tool`).
private enum Compression { case none, zlib, tool }
private func writeTinyMNIST(in dir: URL, compress: Compression, prefix: String = "train", labels: [UInt8] = [2, 0, 9])
    throws
{
    let images: [UInt8] = idxHeader([3, 2, 3]) + (0..<3).flatMap { k in (0..<6).map { UInt8(10 * k + $0) } }
    let labelBytes: [UInt8] = idxHeader([labels.count]) + labels
    for (name, bytes) in [("\(prefix)-images-idx3-ubyte", images), ("\(prefix)-labels-idx1-ubyte", labelBytes)] {
        switch compress {
        case .none: try Data(bytes).write(to: dir.appendingPathComponent(name))
        case .zlib: try Gzip.compress(Data(bytes)).write(to: dir.appendingPathComponent(name + ".gz"))
        case .tool:
            try run("/usr/bin/gzip", ["-c"], input: Data(bytes)).write(to: dir.appendingPathComponent(name + ".gz"))
        }
    }
}

@Suite("Datasets: IDX, CIFAR, preprocessing, batching, synthetic sets")
struct DatasetTests {
    // MARK: FashionMNIST from Debian's package

    @Test func loadsDebianFashionMNIST() throws {
        let train = try FashionMNIST.load(.train, as: Float.self)
        #expect(train.inputs.rows == 784 && train.inputs.cols == 60_000)
        #expect(train.count == 60_000)
        #expect(train.sampleShape == [1, 28, 28])
        #expect(train.labelHistogram() == [Int](repeating: 6_000, count: 10))
        #expect(train.inputs.minEntry() == 0 && train.inputs.maxEntry() == 1)
        #expect(train.classNames[9] == "Ankle boot")

        // Independently of our zlib reader: the system gzip gives the first label byte.
        let dir = FashionMNIST.defaultDirectory
        let labels = try run("/usr/bin/gzip", ["-dc", dir.appendingPathComponent("train-labels-idx1-ubyte.gz").path])
        #expect(labels.count == 8 + 60_000)
        #expect(train.labels[0] == Int(labels[8]))
        #expect(train.labels[59_999] == Int(labels[8 + 59_999]))

        let test = try FashionMNIST.load(.test, scaling: .raw, as: Double.self)
        #expect(test.inputs.rows == 784 && test.inputs.cols == 10_000)
        #expect(test.labelHistogram() == [Int](repeating: 1_000, count: 10))
        // The first test image, pixel by pixel, from the system gzip's output.
        let images = try run("/usr/bin/gzip", ["-dc", dir.appendingPathComponent("t10k-images-idx3-ubyte.gz").path])
        #expect(images.count == 16 + 784 * 10_000)
        #expect(test.inputs.columnArray(0) == images[16..<(16 + 784)].map(Double.init))
        #expect(test.inputs.columnArray(9_999) == images[(16 + 784 * 9_999)...].map(Double.init))
    }

    // MARK: IDX readers on small files

    @Test(arguments: [Compression.none, .zlib, .tool])
    fileprivate func readsSmallMNISTFormatFiles(_ compression: Compression) throws {
        let dir = try temporaryDirectory("idx\(compression)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try writeTinyMNIST(in: dir, compress: compression)
        let d = try MNISTFormat.load(.train, from: dir, scaling: .raw, as: Float.self)
        #expect(d.inputs.rows == 6 && d.inputs.cols == 3)
        #expect(d.labels == [2, 0, 9])
        #expect(d.sampleShape == [1, 2, 3])
        // Image k, pixel (r, c) is row r·3 + c of column k.
        for k in 0..<3 {
            for r in 0..<2 { for c in 0..<3 { #expect(d.inputs[r * 3 + c, k] == Float(10 * k + 3 * r + c)) } }
        }
        let unit = try MNISTFormat.load(.train, from: dir, as: Double.self)
        #expect(unit.inputs[5, 2] == 25.0 / 255)
        let symmetric = try MNISTFormat.load(.train, from: dir, scaling: .symmetric, as: Double.self)
        #expect(symmetric.inputs[0, 0] == -1)
        #expect(abs(symmetric.inputs[5, 2] - (25.0 / 127.5 - 1)) < 1e-15)
        // The generic IDX reader reports shape and type and decodes values.
        let ext = compression == .none ? "" : ".gz"
        let idx = try IDXArray(contentsOf: dir.appendingPathComponent("train-images-idx3-ubyte" + ext))
        #expect(idx.shape == [3, 2, 3] && idx.elementType == .uint8)
        #expect(idx.values()[7] == 11)
    }

    @Test func readsAlternativeFileNamesAndWidertypes() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try writeTinyMNIST(in: dir, compress: .none, prefix: "t10k")
        try FileManager.default.moveItem(
            at: dir.appendingPathComponent("t10k-images-idx3-ubyte"),
            to: dir.appendingPathComponent("t10k-images.idx3-ubyte"))
        let d = try MNISTFormat.load(.test, from: dir, scaling: .raw, as: Double.self)
        #expect(d.labels == [2, 0, 9] && d.inputs[1, 0] == 1)
        // A big-endian int16 and float64 IDX file.
        let shorts = idxHeader(type: 0x0B, [2]) + [0xff, 0xfe, 0x01, 0x00]
        #expect(try IDXArray(idxBytes: shorts).values() == [-2, 256])
        let doubles = idxHeader(type: 0x0E, [1]) + [0x3f, 0xf8, 0, 0, 0, 0, 0, 0]
        #expect(try IDXArray(idxBytes: doubles).values() == [1.5])
        let encoded = try IDXArray.encode([1, 2, 3, 4], shape: [2, 2])
        #expect([UInt8](encoded) == idxHeader([2, 2]) + [1, 2, 3, 4])
    }

    @Test func rejectsBadMNISTInput() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let missing = dir.appendingPathComponent("nowhere")
        expectFailure(["apt-get install dataset-fashion-mnist", "directory:"]) {
            _ = try FashionMNIST.load(.train, from: missing, as: Float.self)
        }
        expectFailure(["does not exist", "train-images-idx3-ubyte"]) {
            _ = try MNISTFormat.load(.train, from: missing, as: Float.self)
        }
        expectFailure(["no t10k-images-idx3-ubyte"]) { _ = try MNISTFormat.load(.test, from: dir, as: Float.self) }

        try writeTinyMNIST(in: dir, compress: .none)
        let imagesURL = dir.appendingPathComponent("train-images-idx3-ubyte")
        let labelsURL = dir.appendingPathComponent("train-labels-idx1-ubyte")
        let images = try Data(contentsOf: imagesURL)
        // Truncated image file.
        try images.prefix(images.count - 1).write(to: imagesURL)
        expectFailure(["needs 18 data bytes, found 17", "truncated"]) {
            _ = try MNISTFormat.load(.train, from: dir, as: Float.self)
        }
        try images.prefix(10).write(to: imagesURL)
        expectFailure(["truncated"]) { _ = try MNISTFormat.load(.train, from: dir, as: Float.self) }
        // Wrong magic number (a PNG signature, say).
        try Data([0x89, 0x50, 0x4e, 0x47] + [UInt8](images.dropFirst(4))).write(to: imagesURL)
        expectFailure(["wrong magic number", "89 50 4e 47"]) {
            _ = try MNISTFormat.load(.train, from: dir, as: Float.self)
        }
        // Labels given where images are expected.
        try Data(idxHeader([3]) + [1, 2, 3]).write(to: imagesURL)
        expectFailure(["expected unsigned-byte images", "00 00 08 03"]) {
            _ = try MNISTFormat.load(.train, from: dir, as: Float.self)
        }
        // Label count ≠ image count.
        try images.write(to: imagesURL)
        try Data(idxHeader([2]) + [1, 2]).write(to: labelsURL)
        expectFailure(["2 labels", "3 images"]) { _ = try MNISTFormat.load(.train, from: dir, as: Float.self) }
        // A label that is not a class.
        try Data(idxHeader([3]) + [1, 2, 12]).write(to: labelsURL)
        expectFailure(["label 12 at index 2"]) { _ = try MNISTFormat.load(.train, from: dir, as: Float.self) }
        // Truncated and corrupt gzip streams.
        try FileManager.default.removeItem(at: imagesURL)
        let gz = try Gzip.compress(images)
        try gz.prefix(gz.count - 12).write(to: dir.appendingPathComponent("train-images-idx3-ubyte.gz"))
        expectFailure(["ends early", "truncated"]) { _ = try MNISTFormat.load(.train, from: dir, as: Float.self) }
        var corrupt = gz
        corrupt[12] ^= 0xff
        corrupt[13] ^= 0xff
        try corrupt.write(to: dir.appendingPathComponent("train-images-idx3-ubyte.gz"))
        #expect(throws: IDLError.self) { _ = try MNISTFormat.load(.train, from: dir, as: Float.self) }
        // Every prefix of a valid IDX file fails cleanly.
        for cut in 0..<images.count {
            #expect(throws: IDLError.self) { _ = try IDXArray(idxBytes: [UInt8](images.prefix(cut))) }
        }
    }

    @Test func gzipHandlesConcatenatedMembersAndRoundTrips() throws {
        let a = Data("hello ".utf8)
        let b = Data("world".utf8)
        let joined = try Gzip.compress(a) + Gzip.compress(b, level: 9)
        #expect(try Gzip.decompress(joined) == [UInt8]("hello world".utf8))
        let big = Data((0..<200_000).map { UInt8(truncatingIfNeeded: $0 * 7 / 3) })
        let packed = try Gzip.compress(big)
        #expect(Gzip.isCompressed(packed))
        #expect(try Gzip.decompress(packed) == [UInt8](big))
        // The system gzip agrees with our output.
        #expect(try run("/usr/bin/gzip", ["-dc"], input: packed) == big)
        #expect(try Gzip.decompress(Data()) == [])
        expectFailure(["0...9"]) { _ = try Gzip.compress(a, level: 11) }
    }

    // MARK: CIFAR

    @Test func readsSmallCIFAR10AndCIFAR100Files() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let dir10 = root.appendingPathComponent("cifar-10-batches-bin")
        try FileManager.default.createDirectory(at: dir10, withIntermediateDirectories: true)
        func image(_ seed: Int) -> [UInt8] {
            (0..<3072).map { UInt8(truncatingIfNeeded: seed * 31 + $0 / 1024 * 100 + $0 % 7) }
        }
        for b in 1...5 {  // two records per batch, labels b and b+4 (mod 10)
            let data = try CIFAR.encodeRecords(
                images: image(2 * b) + image(2 * b + 1), labels: [[UInt8(b)], [UInt8((b + 4) % 10)]])
            let url = dir10.appendingPathComponent("data_batch_\(b).bin")
            if b == 3 {
                try Gzip.compress(data).write(to: url)  // detected by content
            } else {
                try data.write(to: url)
            }
        }
        try CIFAR.encodeRecords(images: image(100), labels: [[7]]).write(
            to: dir10.appendingPathComponent("test_batch.bin"))
        // The parent folder works as well as the batches folder itself.
        let train = try CIFAR.load10(.train, from: root, scaling: .raw, as: Float.self)
        #expect(train.inputs.rows == 3072 && train.inputs.cols == 10)
        #expect(train.labels == [1, 5, 2, 6, 3, 7, 4, 8, 5, 9])
        #expect(train.sampleShape == [3, 32, 32])
        #expect(train.classNames[train.labels[0]] == "automobile")
        // Column 3 is the second image of batch 2 = image(5); R plane first, then G, then B.
        #expect(train.inputs.columnArray(3) == image(5).map(Float.init))
        #expect(train.inputs[1024, 0] == Float(UInt8(truncatingIfNeeded: 2 * 31 + 100 + 1024 % 7)))
        let test = try CIFAR.load10(.test, from: dir10, as: Double.self)
        #expect(test.count == 1 && test.labels == [7])
        #expect(test.inputs[0, 0] == Double(image(100)[0]) / 255)

        let dir100 = root.appendingPathComponent("cifar-100-binary")
        try FileManager.default.createDirectory(at: dir100, withIntermediateDirectories: true)
        try CIFAR.encodeRecords(images: image(1) + image(2) + image(3), labels: [[4, 40], [19, 99], [0, 0]])
            .write(to: dir100.appendingPathComponent("train.bin"))
        try CIFAR.encodeRecords(images: image(4), labels: [[3, 30]]).write(
            to: dir100.appendingPathComponent("test.bin"))
        let fine = try CIFAR.load100(.train, from: root, as: Float.self)
        #expect(fine.labels == [40, 99, 0] && fine.classCount == 100)
        let coarse = try CIFAR.load100(.train, from: dir100, labels: .coarse, scaling: .raw, as: Float.self)
        #expect(coarse.labels == [4, 19, 0] && coarse.classCount == 20)
        #expect(coarse.inputs.columnArray(1) == image(2).map(Float.init))
        #expect(try CIFAR.load100(.test, from: dir100, as: Float.self).labels == [30])

        // Bad input: missing directory, missing batch, truncated file, wrong variant.
        expectFailure(["does not exist", "cifar-10-batches-bin"]) {
            _ = try CIFAR.load10(.train, from: root.appendingPathComponent("nope"), as: Float.self)
        }
        let batch5 = try Data(contentsOf: dir10.appendingPathComponent("data_batch_5.bin"))
        try batch5.prefix(3000).write(to: dir10.appendingPathComponent("data_batch_5.bin"))
        expectFailure(["3000 bytes is not a whole number of 3073-byte records", "truncated"]) {
            _ = try CIFAR.load10(.train, from: dir10, as: Float.self)
        }
        try FileManager.default.removeItem(at: dir10.appendingPathComponent("data_batch_5.bin"))
        expectFailure(["data_batch_5.bin", "not found"]) { _ = try CIFAR.load10(.train, from: dir10, as: Float.self) }
        // CIFAR-100 records read as CIFAR-10 do not divide into 3073-byte records.
        try FileManager.default.copyItem(
            at: dir100.appendingPathComponent("test.bin"), to: dir10.appendingPathComponent("data_batch_5.bin"))
        #expect(throws: IDLError.self) { _ = try CIFAR.load10(.train, from: dir10, as: Float.self) }
        try CIFAR.encodeRecords(images: image(0), labels: [[12]]).write(
            to: dir10.appendingPathComponent("data_batch_5.bin"))
        expectFailure(["label 12", "10 vs 100"]) { _ = try CIFAR.load10(.train, from: dir10, as: Float.self) }
    }

    // MARK: Dataset, preprocessing

    @Test func datasetValidatesAndSubsets() throws {
        let x = try Matrix<Double>(rows: 2, cols: 4, storage: [0, 1, 2, 3, 4, 5, 6, 7])
        expectFailure(["3 labels for 4 samples"]) { _ = try Dataset(inputs: x, labels: [0, 1, 0], classCount: 2) }
        expectFailure(["label 5 of sample 1"]) { _ = try Dataset(inputs: x, labels: [0, 5, 0, 1], classCount: 2) }
        let d = try Dataset(inputs: x, labels: [0, 1, 1, 0], classCount: 2)
        let s = try d.subset([3, 1])
        #expect(s.inputs.storage == [6, 7, 2, 3] && s.labels == [0, 1])
        expectFailure(["index 4"]) { _ = try d.subset([4]) }
        #expect(d.prefix(2).labels == [0, 1])
        #expect(d.oneHotLabels().storage == [1, 0, 0, 1, 0, 1, 1, 0])
        #expect(d.labelHistogram() == [2, 2])
        expectFailure(["cannot draw 5"]) {
            var g = SeededGenerator(seed: 1)
            _ = try d.randomSubset(5, using: &g)
        }
    }

    @Test func standardizerFitsOnTrainAppliesToTestAndSurvivesConstantFeatures() throws {
        // Feature 0 varies, feature 1 is constant (a blank corner pixel).
        let train = try Matrix<Double>(rows: 2, cols: 4, storage: [1, 5, 3, 5, 5, 5, 7, 5])
        let s = try Standardizer(fitting: train)
        #expect(s.mean == [4, 5])
        #expect(abs(s.scale[0] - 5.0.squareRoot()) < 1e-12)
        #expect(s.scale[1] == 1)
        let z = try s.transform(train)
        #expect(z.isFinite)
        #expect(abs(z.rowArray(0).reduce(0, +)) < 1e-12)
        #expect(abs(z.rowArray(0).map { $0 * $0 }.reduce(0, +) / 4 - 1) < 1e-12)
        #expect(z.rowArray(1) == [0, 0, 0, 0])
        // Test data uses the training statistics.
        let test = try Matrix<Double>(rows: 2, cols: 1, storage: [4 + 5.0.squareRoot(), 6])
        let zt = try s.transform(test)
        #expect(abs(zt[0, 0] - 1) < 1e-12 && zt[1, 0] == 1)
        #expect(try s.inverseTransform(zt).isApproximatelyEqual(to: test, tolerance: 1e-12))
        expectFailure(["fitted to 2 features", "3×1"]) { _ = try s.transform(Matrix<Double>(rows: 3, cols: 1)) }
        expectFailure(["no samples"]) { _ = try Standardizer(fitting: Matrix<Double>(rows: 2, cols: 0)) }
        var bad = train
        bad[0, 0] = .nan
        expectFailure(["NaN"]) { _ = try Standardizer(fitting: bad) }
        let d = try Dataset(inputs: train, labels: [0, 0, 1, 1], classCount: 2)
        #expect(try d.standardized(by: s).inputs == z)
    }

    // MARK: batching and determinism

    @Test func batchesCoverEverySampleAndAreReproducible() throws {
        let x = Matrix<Float>(rows: 1, cols: 10) { _, j in Float(j) }
        let d = try Dataset(inputs: x, labels: (0..<10).map { $0 % 3 }, classCount: 3)
        let ordered = Array(try d.batches(size: 4))
        #expect(ordered.map(\.indices) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]])
        #expect(ordered[2].inputs.storage == [8, 9] && ordered[2].labels == [2, 0])
        #expect(try d.batches(size: 4, dropLast: true).count == 2)
        #expect(try d.batches(size: 20).count == 1)
        expectFailure(["at least 1"]) { _ = try d.batches(size: 0) }

        var g1 = SeededGenerator(seed: 42)
        var g2 = SeededGenerator(seed: 42)
        var g3 = SeededGenerator(seed: 43)
        let a = try d.batches(size: 3, shuffledWith: &g1).map(\.indices)
        let b = try d.batches(size: 3, shuffledWith: &g2).map(\.indices)
        let c = try d.batches(size: 3, shuffledWith: &g3).map(\.indices)
        #expect(a == b)
        #expect(a != c)
        #expect(a.flatMap { $0 }.sorted() == Array(0..<10))
        #expect(a.flatMap { $0 } != Array(0..<10))
        // The next epoch from the same generator is a different order, reproducibly.
        let a2 = try d.batches(size: 3, shuffledWith: &g1).map(\.indices)
        let b2 = try d.batches(size: 3, shuffledWith: &g2).map(\.indices)
        #expect(a2 == b2 && a2 != a)
        // Batches carry the right columns and labels.
        for batch in try d.batches(size: 3, dropLast: true, shuffledWith: &g3) {
            #expect(batch.inputs.cols == 3)
            #expect(batch.inputs.storage == batch.indices.map(Float.init))
            #expect(batch.labels == batch.indices.map { $0 % 3 })
        }
        // Random subsets: same seed, same subset.
        var s1 = SeededGenerator(seed: 5)
        var s2 = SeededGenerator(seed: 5)
        let r1 = try d.randomSubset(4, using: &s1)
        let r2 = try d.randomSubset(4, using: &s2)
        #expect(r1.inputs == r2.inputs && r1.labels == r2.labels && Set(r1.inputs.storage).count == 4)
    }

    // MARK: synthetic sets

    @Test func spikySeriesFollowsTheRecipeAndIsDeterministic() throws {
        let a = try SpikyTimeSeries.make(seed: 0, as: Float.self)
        let b = try SpikyTimeSeries.make(seed: 0, as: Float.self)
        let c = try SpikyTimeSeries.make(seed: 1, as: Float.self)
        #expect(a.series.count == 10_000)
        #expect(a.series == b.series)
        #expect(a.series != c.series)
        // 10 000 − 60 = 9 940 windows, 40 % (3 976) for testing, 59 input steps.
        #expect(a.train.count == 5_964 && a.test.count == 3_976)
        #expect(a.train.sequenceLength == 59 && a.train.featureCount == 1)
        #expect(a.train.steps[0].rows == 1 && a.train.steps[0].cols == 5_964)
        #expect(a.train.steps[10][0, 7] == Float(a.series[17]))
        #expect(a.train.targets[0, 7] == Float(a.series[7 + 59]))
        #expect(a.test.steps[0][0, 0] == Float(a.series[5_964]))
        // As in the original (range(len − look_back)), the last window ends one point before the end.
        #expect(a.test.targets[0, 3_975] == Float(a.series[9_998]))
        #expect(a.train.targets == b.train.targets)
        // Spiky regions reach beyond the noisy sine: |4·3.5| peaks, while sin x + noise stays near ±2.
        let peak = a.series.map(abs).max() ?? 0
        #expect(peak > 5 && peak <= 14)
        #expect(a.train.flattened().rows == 59)
        expectFailure(["lookBack must be at least 2"]) {
            _ = try SpikyTimeSeries.windows(of: [1, 2, 3], lookBack: 1, testFraction: 0.4, as: Float.self)
        }
        expectFailure(["no windows"]) {
            _ = try SpikyTimeSeries.windows(of: [1, 2, 3], lookBack: 3, testFraction: 0.4, as: Float.self)
        }
    }

    @Test func argmaxSequencesLabelTheMaximumAndWidenTheTestRange() throws {
        let (train, test) = try ArgmaxSequences.makeSplits(
            trainCount: 200, testCount: 100, length: 6, factor: 4, seed: 9, as: Double.self)
        let again = try ArgmaxSequences.makeSplits(
            trainCount: 200, testCount: 100, length: 6, factor: 4, seed: 9, as: Double.self)
        let other = try ArgmaxSequences.makeSplits(
            trainCount: 200, testCount: 100, length: 6, factor: 4, seed: 10, as: Double.self)
        #expect(train.sequenceLength == 6 && train.count == 200 && test.count == 100)
        #expect(train.steps == again.train.steps && test.labels == again.test.labels)
        #expect(train.steps != other.train.steps)
        for j in 0..<train.count {
            let values = (0..<6).map { train.steps[$0][0, j] }
            #expect(train.labels[j] == values.firstIndex(of: values.max()!)!)
            #expect(train.targets.columnArray(j) == (0..<6).map { $0 == train.labels[j] ? 1 : 0 })
        }
        let trainValues = train.steps.flatMap(\.storage)
        let testValues = test.steps.flatMap(\.storage)
        #expect(trainValues.allSatisfy { $0 >= -1 && $0 < 1 })
        #expect(testValues.allSatisfy { $0 >= -4 && $0 < 4 })
        #expect(testValues.contains { abs($0) > 1 })
        // Labels spread over every position.
        #expect(Set(train.labels).count == 6)
        // Sequence batches: one features × batch matrix per step.
        var g = SeededGenerator(seed: 1)
        let batches = Array(try train.batches(size: 64, dropLast: true, shuffledWith: &g))
        #expect(batches.count == 3)
        #expect(batches[0].steps.count == 6 && batches[0].steps[0].rows == 1 && batches[0].steps[0].cols == 64)
        let k = batches[1].indices[5]
        #expect(batches[1].steps[2][0, 5] == train.steps[2][0, k] && batches[1].labels[5] == train.labels[k])
        expectFailure(["length must be at least 1"]) {
            var g = SeededGenerator(seed: 0)
            _ = try ArgmaxSequences.make(count: 1, length: 0, using: &g, as: Float.self)
        }
    }
}
