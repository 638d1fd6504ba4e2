import Foundation

/// A labelled data set: one column per sample, an integer class label per sample.
///
/// `inputs` is features × count (784×60000 for FashionMNIST: each 28×28 image flattened row
/// by row into one column; 3072×50000 for CIFAR-10, channel-major R, G, B planes as in the
/// file and in PyTorch's C×H×W tensors).
public struct Dataset<T: BLASScalar>: Sendable {
    /// The samples as columns: features × count.
    public private(set) var inputs: Matrix<T>
    /// The class of each sample, in 0..<classCount.
    public private(set) var labels: [Int]
    /// Number of classes.
    public let classCount: Int
    /// The shape of one sample before flattening, e.g. `[1, 28, 28]` or `[3, 32, 32]`.
    public let sampleShape: [Int]
    /// Human-readable class names (empty if unknown).
    public let classNames: [String]

    /// Number of samples.
    public var count: Int { labels.count }
    /// Number of features per sample (rows of `inputs`).
    public var featureCount: Int { inputs.rows }

    /// A data set from samples and labels.
    /// - Parameters:
    ///   - inputs: features × count matrix.
    ///   - labels: one label per column of `inputs`.
    ///   - classCount: number of classes; labels must lie in 0..<classCount.
    ///   - sampleShape: shape of one sample; defaults to `[featureCount]`; its product must be
    ///     the number of features.
    ///   - classNames: optional class names (empty, or `classCount` of them).
    /// - Throws: ``IDLError/shapeMismatch(_:)`` if the label count differs from the number of
    ///   columns or the sample shape does not fit; ``IDLError/invalidArgument(_:)`` for a label
    ///   outside 0..<classCount; ``IDLError/nonFinite(_:)`` for a NaN or infinite input entry.
    public init(inputs: Matrix<T>, labels: [Int], classCount: Int, sampleShape: [Int]? = nil, classNames: [String] = [])
        throws
    {
        guard inputs.cols == labels.count else {
            throw IDLError.shapeMismatch(
                "\(labels.count) labels for \(inputs.cols) samples (input matrix \(inputs.shapeDescription), one column per sample); they must be equal"
            )
        }
        guard classCount > 0 else { throw IDLError.invalidArgument("classCount must be positive, got \(classCount)") }
        if let bad = labels.firstIndex(where: { $0 < 0 || $0 >= classCount }) {
            throw IDLError.invalidArgument(
                "label \(labels[bad]) of sample \(bad) is outside 0..<\(classCount); labels must count classes from 0 (pass a larger classCount if there are more classes)"
            )
        }
        if !inputs.isFinite, let bad = inputs.storage.firstIndex(where: { !$0.isFinite }) {
            throw IDLError.nonFinite(
                "input entry \(inputs.storage[bad]) at feature \(bad % max(inputs.rows, 1)) of sample \(bad / max(inputs.rows, 1)); every input must be a finite number (remove or impute missing values first)"
            )
        }
        let shape = sampleShape ?? [inputs.rows]
        guard BinaryIO.elementCount(shape) == inputs.rows else {
            throw IDLError.shapeMismatch(
                "sample shape \(shape) has \(BinaryIO.elementCount(shape) ?? -1) entries but each sample has \(inputs.rows) features"
            )
        }
        guard classNames.isEmpty || classNames.count == classCount else {
            throw IDLError.shapeMismatch("\(classNames.count) class names for \(classCount) classes")
        }
        self.inputs = inputs
        self.labels = labels
        self.classCount = classCount
        self.sampleShape = shape
        self.classNames = classNames
    }

    /// The samples at `indices`, in that order.
    /// - Throws: ``IDLError/invalidArgument(_:)`` for an index outside 0..<count.
    public func subset(_ indices: [Int]) throws -> Dataset {
        if let bad = indices.first(where: { $0 < 0 || $0 >= count }) {
            throw IDLError.invalidArgument("sample index \(bad) is outside 0..<\(count)")
        }
        var copy = self
        copy.inputs = inputs.columns(at: indices)
        copy.labels = indices.map { labels[$0] }
        return copy
    }

    /// The first `k` samples (all of them if `k ≥ count`).
    public func prefix(_ k: Int) -> Dataset {
        let n = max(0, min(k, count))
        var copy = self
        copy.inputs = inputs.columns(0..<n)
        copy.labels = Array(labels[0..<n])
        return copy
    }

    /// `k` distinct samples drawn at random (in random order), e.g. SIM's 2 000 training images.
    /// - Parameters:
    ///   - k: how many samples, 0...count.
    ///   - generator: the seeded generator; the same seed gives the same subset.
    /// - Throws: ``IDLError/invalidArgument(_:)`` if `k` is negative or exceeds `count`.
    public func randomSubset(_ k: Int, using generator: inout SeededGenerator) throws -> Dataset {
        guard k >= 0 && k <= count else {
            throw IDLError.invalidArgument("cannot draw \(k) distinct samples from a data set of \(count)")
        }
        return try subset(generator.sample(k, from: count))
    }

    /// Labels as one-hot columns: classCount × count, entry (label, j) = 1.
    public func oneHotLabels() -> Matrix<T> {
        var m = Matrix<T>(rows: classCount, cols: count)
        for (j, y) in labels.enumerated() { m.storage[y + j * classCount] = 1 }
        return m
    }

    /// How many samples each class has.
    public func labelHistogram() -> [Int] {
        var h = [Int](repeating: 0, count: classCount)
        for y in labels { h[y] += 1 }
        return h
    }

    /// The same data with the inputs transformed by a fitted standardiser.
    /// - Throws: ``IDLError/shapeMismatch(_:)`` if the feature counts differ.
    public func standardized(by standardizer: Standardizer<T>) throws -> Dataset {
        var copy = self
        copy.inputs = try standardizer.transform(inputs)
        return copy
    }

    /// The same data with each input entry mapped by `f` (e.g. a custom scaling).
    public func mapInputs(_ f: (T) -> T) -> Dataset {
        var copy = self
        copy.inputs = inputs.map(f)
        return copy
    }
}

/// Which part of a data set with a fixed train/test split.
public enum DataSplit: String, Sendable, CaseIterable {
    /// The training images (60 000 for MNIST/FashionMNIST, 50 000 for CIFAR).
    case train
    /// The test images (10 000).
    case test
}

/// How 8-bit pixel values 0…255 become numbers.
public enum PixelScaling: Sendable, Equatable {
    /// The raw values 0…255.
    case raw
    /// x/255 ∈ [0, 1] (torchvision's `ToTensor`).
    case unit
    /// x/127.5 − 1 ∈ [−1, 1] (`ToTensor` then `Normalize(0.5, 0.5)`, as torchidl's examples).
    case symmetric

    /// The value for pixel byte `b`.
    func value<T: BLASScalar>(_ b: UInt8) -> T {
        switch self {
        case .raw: return T(b)
        case .unit: return T(Double(b) / 255)
        case .symmetric: return T(Double(b) / 127.5 - 1)
        }
    }

    /// Converts bytes to a matrix of `rows × cols` (column-major, so consecutive `rows`
    /// bytes form a column) through a 256-entry lookup table.
    func matrix<T: BLASScalar>(_ bytes: UnsafeBufferPointer<UInt8>, rows: Int, cols: Int) -> Matrix<T> {
        precondition(bytes.count >= rows * cols)
        let table = (0..<256).map { value(UInt8($0)) as T }
        let n = rows * cols
        let storage = [T](unsafeUninitializedCapacity: n) { out, initialized in
            table.withUnsafeBufferPointer { t in
                for k in 0..<n { out[k] = t[Int(bytes[k])] }
            }
            initialized = n
        }
        return Matrix(uncheckedRows: rows, cols: cols, storage: storage)
    }
}

/// Loading any data set stored as MNIST does: `train-images-idx3-ubyte`,
/// `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each
/// optionally gzip-compressed (`.gz`); the variant names `train-images.idx3-ubyte` are accepted.
public enum MNISTFormat {
    /// Loads one split from a directory of IDX files.
    /// - Parameters:
    ///   - split: `.train` (`train-*` files) or `.test` (`t10k-*` files).
    ///   - directory: the folder holding the files.
    ///   - scaling: how pixel bytes become numbers (default [0, 1]).
    ///   - classNames: names of the 10 classes (digits by default).
    ///   - type: `Float` or `Double`.
    /// - Returns: images as a (rows·cols)×count matrix (one flattened image per column, row
    ///   by row) and the labels.
    /// - Throws: ``IDLError/io(_:)`` if the directory or a file is missing, a file is truncated
    ///   or has the wrong magic number, the image and label counts differ, or a label is ≥ 10.
    public static func load<T: BLASScalar>(
        _ split: DataSplit, from directory: URL, scaling: PixelScaling = .unit,
        classNames: [String] = (0..<10).map(String.init), as type: T.Type = T.self
    ) throws -> Dataset<T> {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue
        else {
            throw IDLError.io(
                "the MNIST-format directory \(directory.path) does not exist; pass the folder that holds train-images-idx3-ubyte[.gz] and the other three files"
            )
        }
        let prefix = split == .train ? "train" : "t10k"
        let imagesURL = try findFile(in: directory, stem: "\(prefix)-images", kind: "idx3-ubyte")
        let labelsURL = try findFile(in: directory, stem: "\(prefix)-labels", kind: "idx1-ubyte")
        let labelFile = try IDXArray(contentsOf: labelsURL)
        let imageFile = try IDXArray(contentsOf: imagesURL)
        return try dataset(
            images: imageFile, labels: labelFile, imagesName: imagesURL.path, labelsName: labelsURL.path,
            scaling: scaling, classNames: classNames)
    }

    /// Builds a data set from the contents of an image file and a label file held in memory
    /// (each plain or gzip-compressed), validating both as
    /// ``load(_:from:scaling:classNames:as:)`` does for files.
    /// - Parameters:
    ///   - imageFile: the contents of an `idx3-ubyte` file (shape count × rows × cols).
    ///   - labelFile: the contents of an `idx1-ubyte` file (shape count).
    ///   - scaling: how pixel bytes become numbers (default [0, 1]).
    ///   - classNames: names of the classes (digits by default); labels must be below their count.
    ///   - type: `Float` or `Double`.
    /// - Throws: ``IDLError/io(_:)`` for corrupt or mismatched contents, as
    ///   ``load(_:from:scaling:classNames:as:)``.
    public static func dataset<T: BLASScalar>(
        imageFile: Data, labelFile: Data, scaling: PixelScaling = .unit,
        classNames: [String] = (0..<10).map(String.init), as type: T.Type = T.self
    ) throws -> Dataset<T> {
        let labels = try IDXArray(fileContents: labelFile, source: "label file")
        let images = try IDXArray(fileContents: imageFile, source: "image file")
        return try dataset(
            images: images, labels: labels, imagesName: "image file", labelsName: "label file",
            scaling: scaling, classNames: classNames)
    }

    /// Builds a data set from parsed image and label IDX arrays (validating both).
    static func dataset<T: BLASScalar>(
        images: IDXArray, labels: IDXArray, imagesName: String, labelsName: String,
        scaling: PixelScaling, classNames: [String]
    ) throws -> Dataset<T> {
        guard images.elementType == .uint8, images.shape.count == 3 else {
            throw IDLError.io(
                "\(imagesName): expected unsigned-byte images of shape (count, rows, cols) (magic 00 00 08 03), found type \(images.elementType) with shape \(images.shape)"
            )
        }
        guard labels.elementType == .uint8, labels.shape.count == 1 else {
            throw IDLError.io(
                "\(labelsName): expected unsigned-byte labels of shape (count) (magic 00 00 08 01), found type \(labels.elementType) with shape \(labels.shape)"
            )
        }
        let count = images.shape[0]
        let (features, overflow) = images.shape[1].multipliedReportingOverflow(by: images.shape[2])
        guard images.shape[1] >= 1, images.shape[2] >= 1, !overflow else {
            throw IDLError.io(
                "\(imagesName): images of \(images.shape[1])×\(images.shape[2]) pixels; each image needs at least one pixel and fewer than 2^63, so the header is corrupt"
            )
        }
        guard labels.shape[0] == count else {
            throw IDLError.io(
                "\(labelsName) has \(labels.shape[0]) labels but \(imagesName) has \(count) images; the files do not belong together"
            )
        }
        let classCount = max(classNames.count, 1)
        let labelValues = labels.withPayload { $0.map { Int($0) } }
        if let bad = labelValues.firstIndex(where: { $0 >= classCount }) {
            throw IDLError.io(
                "\(labelsName): label \(labelValues[bad]) at index \(bad) is not below the \(classCount) classes")
        }
        try MemoryEstimate.decodedData(
            "\(imagesName) (\(count) images of \(features) pixels as \(T.self))",
            elements: features * count, scalarSize: MemoryLayout<T>.size
        ).check()
        let inputs: Matrix<T> = images.withPayload { scaling.matrix($0, rows: features, cols: count) }
        return try Dataset(
            inputs: inputs, labels: labelValues, classCount: classCount,
            sampleShape: [1, images.shape[1], images.shape[2]], classNames: classNames)
    }

    /// The first existing file among the name variants, or an error listing what was tried.
    static func findFile(in directory: URL, stem: String, kind: String) throws -> URL {
        let names = ["\(stem)-\(kind)", "\(stem).\(kind)"].flatMap { [$0 + ".gz", $0] }
        for name in names {
            let url = directory.appendingPathComponent(name)
            if FileManager.default.fileExists(atPath: url.path) { return url }
        }
        throw IDLError.io(
            "\(directory.path) has no \(stem)-\(kind) file (tried \(names.joined(separator: ", "))); it should hold the four MNIST-format files"
        )
    }
}

/// Fashion-MNIST (Zalando): 70 000 grey 28×28 images of clothing in 10 classes.
public enum FashionMNIST {
    /// Where Debian's `dataset-fashion-mnist` package installs the files.
    public static let defaultDirectory = URL(fileURLWithPath: "/usr/share/datasets/fashion-mnist")

    /// The class names, by label.
    public static let classNames = [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ]

    /// Loads the training (60 000) or test (10 000) images: a 784×count matrix, one image per
    /// column (row by row), and labels 0…9.
    /// - Parameters:
    ///   - split: `.train` or `.test`.
    ///   - directory: a folder of MNIST-format files (default: Debian's location).
    ///   - scaling: pixel scaling, default [0, 1]; `.symmetric` matches torchidl's examples.
    ///   - type: `Float` or `Double`.
    /// - Throws: ``IDLError/io(_:)`` naming `apt-get install dataset-fashion-mnist` (or the
    ///   `directory:` parameter) when the files are missing; otherwise as
    ///   ``MNISTFormat/load(_:from:scaling:classNames:as:)``.
    public static func load<T: BLASScalar>(
        _ split: DataSplit, from directory: URL = defaultDirectory, scaling: PixelScaling = .unit,
        as type: T.Type = T.self
    ) throws -> Dataset<T> {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue
        else {
            throw IDLError.io(
                "FashionMNIST not found: \(directory.path) does not exist. Install it with `sudo apt-get install dataset-fashion-mnist` (files in \(defaultDirectory.path)), or pass `directory:` pointing at a folder with train-images-idx3-ubyte.gz and the other three files"
            )
        }
        return try MNISTFormat.load(split, from: directory, scaling: scaling, classNames: classNames, as: type)
    }

    /// Loads both splits: 60 000 training and 10 000 test images.
    /// - Parameters:
    ///   - directory: a folder of MNIST-format files (default: Debian's location).
    ///   - scaling: pixel scaling, default [0, 1].
    ///   - type: `Float` or `Double`.
    /// - Throws: as ``load(_:from:scaling:as:)``.
    public static func loadTrainAndTest<T: BLASScalar>(
        from directory: URL = defaultDirectory, scaling: PixelScaling = .unit, as type: T.Type = T.self
    ) throws -> (train: Dataset<T>, test: Dataset<T>) {
        (
            try load(.train, from: directory, scaling: scaling, as: type),
            try load(.test, from: directory, scaling: scaling, as: type)
        )
    }
}

/// CIFAR-10 and CIFAR-100 in their binary distribution format (the `-binary.tar.gz` archives).
///
/// Each record is the label byte(s) followed by 3 072 pixel bytes: the 1 024 red values of the
/// 32×32 image row by row, then green, then blue. Samples become columns of 3 072 features in
/// that same order (PyTorch's C×H×W flattening).
public enum CIFAR {
    /// CIFAR-10 class names, by label.
    public static let cifar10ClassNames = [
        "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
    ]

    /// Which label of CIFAR-100 to use.
    public enum Labels: Sendable {
        /// The 100 fine classes.
        case fine
        /// The 20 coarse superclasses.
        case coarse
    }

    /// Loads CIFAR-10 from a directory holding `data_batch_1.bin` … `data_batch_5.bin` and
    /// `test_batch.bin` (the `cifar-10-batches-bin` folder, or its parent).
    /// - Parameters:
    ///   - split: `.train` (the five data batches, in order) or `.test`.
    ///   - directory: the folder (user-supplied; nothing is downloaded).
    ///   - scaling: pixel scaling, default [0, 1].
    ///   - type: `Float` or `Double`.
    /// - Throws: ``IDLError/io(_:)`` for a missing directory or file, a file whose size is not
    ///   a whole number of records (truncated), or a label ≥ 10.
    public static func load10<T: BLASScalar>(
        _ split: DataSplit, from directory: URL, scaling: PixelScaling = .unit, as type: T.Type = T.self
    ) throws -> Dataset<T> {
        let dir = try resolve(
            directory, subfolder: "cifar-10-batches-bin", marker: "test_batch.bin", dataset: "CIFAR-10")
        let files = split == .train ? (1...5).map { "data_batch_\($0).bin" } : ["test_batch.bin"]
        return try load(
            files: files.map { dir.appendingPathComponent($0) }, labelBytes: 1, labelIndex: 0,
            classNames: cifar10ClassNames, scaling: scaling)
    }

    /// Loads CIFAR-100 from a directory holding `train.bin` and `test.bin` (the
    /// `cifar-100-binary` folder, or its parent). Each record has a coarse then a fine label byte.
    /// - Parameters:
    ///   - split: `.train` or `.test`.
    ///   - directory: the folder (user-supplied).
    ///   - labels: `.fine` (100 classes, default) or `.coarse` (20 superclasses).
    ///   - scaling: pixel scaling, default [0, 1].
    ///   - type: `Float` or `Double`.
    /// - Throws: as ``load10(_:from:scaling:as:)``.
    public static func load100<T: BLASScalar>(
        _ split: DataSplit, from directory: URL, labels: Labels = .fine, scaling: PixelScaling = .unit,
        as type: T.Type = T.self
    ) throws -> Dataset<T> {
        let dir = try resolve(directory, subfolder: "cifar-100-binary", marker: "test.bin", dataset: "CIFAR-100")
        let file = dir.appendingPathComponent(split == .train ? "train.bin" : "test.bin")
        let namesFile = dir.appendingPathComponent(labels == .fine ? "fine_label_names.txt" : "coarse_label_names.txt")
        let count = labels == .fine ? 100 : 20
        var names: [String] = []
        if let text = try? String(contentsOf: namesFile, encoding: .utf8) {
            let lines = text.split(whereSeparator: \.isNewline).map(String.init).filter { !$0.isEmpty }
            if lines.count == count { names = lines }
        }
        return try load(
            files: [file], labelBytes: 2, labelIndex: labels == .fine ? 1 : 0, classCount: count,
            classNames: names, scaling: scaling)
    }

    /// The directory itself if it holds `marker`, else its `subfolder` if that does.
    static func resolve(_ directory: URL, subfolder: String, marker: String, dataset: String) throws -> URL {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue
        else {
            throw IDLError.io(
                "the \(dataset) directory \(directory.path) does not exist; download the binary version, extract it, and pass the \(subfolder) folder as `from:`"
            )
        }
        let nested = directory.appendingPathComponent(subfolder)
        if !FileManager.default.fileExists(atPath: directory.appendingPathComponent(marker).path),
            FileManager.default.fileExists(atPath: nested.appendingPathComponent(marker).path)
        {
            return nested
        }
        return directory
    }

    /// Decodes CIFAR-10 records held in memory: the contents of a batch file (plain or
    /// gzip-compressed), or of several concatenated, as ``load10(_:from:scaling:as:)`` reads them.
    /// - Parameters:
    ///   - records: 3 073-byte records (a label byte, then 3 072 pixel bytes).
    ///   - scaling: pixel scaling, default [0, 1].
    ///   - type: `Float` or `Double`.
    /// - Throws: ``IDLError/io(_:)`` if the size is not a whole number of records, the gzip data
    ///   is corrupt, or a label is ≥ 10.
    public static func decode10<T: BLASScalar>(
        _ records: Data, scaling: PixelScaling = .unit, as type: T.Type = T.self
    ) throws -> Dataset<T> {
        try decode(
            [("CIFAR-10 data", records)], labelBytes: 1, labelIndex: 0,
            classNames: cifar10ClassNames, scaling: scaling)
    }

    /// Decodes CIFAR-100 records held in memory: the contents of `train.bin` or `test.bin`
    /// (plain or gzip-compressed), as ``load100(_:from:labels:scaling:as:)`` reads them, but
    /// without class names.
    /// - Parameters:
    ///   - records: 3 074-byte records (coarse label, fine label, 3 072 pixel bytes).
    ///   - labels: `.fine` (100 classes, default) or `.coarse` (20 superclasses).
    ///   - scaling: pixel scaling, default [0, 1].
    ///   - type: `Float` or `Double`.
    /// - Throws: as ``decode10(_:scaling:as:)``, for labels ≥ 100 (fine) or ≥ 20 (coarse).
    public static func decode100<T: BLASScalar>(
        _ records: Data, labels: Labels = .fine, scaling: PixelScaling = .unit, as type: T.Type = T.self
    ) throws -> Dataset<T> {
        try decode(
            [("CIFAR-100 data", records)], labelBytes: 2, labelIndex: labels == .fine ? 1 : 0,
            classCount: labels == .fine ? 100 : 20, classNames: [], scaling: scaling)
    }

    /// Reads and concatenates record files.
    static func load<T: BLASScalar>(
        files: [URL], labelBytes: Int, labelIndex: Int, classCount: Int? = nil, classNames: [String],
        scaling: PixelScaling
    ) throws -> Dataset<T> {
        let contents = try files.map { url in (url.path, try BinaryIO.readFile(url, what: "CIFAR batch file")) }
        return try decode(
            contents, labelBytes: labelBytes, labelIndex: labelIndex, classCount: classCount,
            classNames: classNames, scaling: scaling)
    }

    /// Decodes and concatenates the contents of record files (each plain or gzip-compressed).
    static func decode<T: BLASScalar>(
        _ files: [(name: String, raw: Data)], labelBytes: Int, labelIndex: Int, classCount: Int? = nil,
        classNames: [String], scaling: PixelScaling
    ) throws -> Dataset<T> {
        let pixels = 3 * 32 * 32
        let recordSize = labelBytes + pixels
        let classes = classCount ?? classNames.count
        var contents: [(name: String, bytes: [UInt8])] = []
        for (name, raw) in files {
            let bytes = Gzip.isCompressed(raw) ? try Gzip.decompress(raw, source: name) : [UInt8](raw)
            guard bytes.count % recordSize == 0 else {
                throw IDLError.io(
                    "\(name): \(bytes.count) bytes is not a whole number of \(recordSize)-byte records (\(labelBytes) label byte\(labelBytes > 1 ? "s" : "") + 3072 pixels); the file is truncated or not the binary CIFAR format"
                )
            }
            contents.append((name, bytes))
        }
        let total = contents.reduce(0) { $0 + $1.bytes.count / recordSize }
        try MemoryEstimate.decodedData(
            "\(files.map(\.name).joined(separator: ", ")) (\(total) CIFAR images of \(pixels) values as \(T.self))",
            elements: total * pixels, scalarSize: MemoryLayout<T>.size
        ).check()
        var labels: [Int] = []
        labels.reserveCapacity(total)
        let table = (0..<256).map { scaling.value(UInt8($0)) as T }
        var storage = [T](repeating: 0, count: total * pixels)
        var column = 0
        for (name, bytes) in contents {
            let n = bytes.count / recordSize
            for r in 0..<n {
                let label = Int(bytes[r * recordSize + labelIndex])
                guard label < classes else {
                    throw IDLError.io(
                        "\(name): record \(r) has label \(label), expected below \(classes); is this the right CIFAR variant (10 vs 100)?"
                    )
                }
                labels.append(label)
            }
            storage.withUnsafeMutableBufferPointer { out in
                bytes.withUnsafeBufferPointer { src in
                    for r in 0..<n {
                        let from = r * recordSize + labelBytes
                        let to = (column + r) * pixels
                        for k in 0..<pixels { out[to + k] = table[Int(src[from + k])] }
                    }
                }
            }
            column += n
        }
        let inputs = Matrix(uncheckedRows: pixels, cols: total, storage: storage)
        return try Dataset(
            inputs: inputs, labels: labels, classCount: classes, sampleShape: [3, 32, 32], classNames: classNames)
    }

    /// Encodes images and labels as CIFAR binary records (e.g. to write test data).
    /// - Parameters:
    ///   - images: 3072 bytes per image (R, G, B planes), concatenated.
    ///   - labels: per image, the label bytes of one record (1 for CIFAR-10, coarse and fine
    ///     for CIFAR-100).
    /// - Throws: ``IDLError/shapeMismatch(_:)`` if the image bytes and label count disagree.
    public static func encodeRecords(images: [UInt8], labels: [[UInt8]]) throws -> Data {
        guard images.count == labels.count * 3072 else {
            throw IDLError.shapeMismatch(
                "\(images.count) image bytes for \(labels.count) records; each record needs 3072")
        }
        var out = Data()
        for (i, l) in labels.enumerated() {
            out.append(contentsOf: l)
            out.append(contentsOf: images[(i * 3072)..<((i + 1) * 3072)])
        }
        return out
    }
}
