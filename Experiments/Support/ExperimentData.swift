import Foundation
import IDL

/// The image classification sets an experiment can run on: FashionMNIST (installed by Debian's
/// `dataset-fashion-mnist`), and CIFAR-100 or CIFAR-10 when the user supplies the binary
/// distribution's files (`--data-dir`): neither can be downloaded here, and nothing is
/// downloaded.
public enum ExperimentDataset: String, CaseIterable, Sendable {
    /// FashionMNIST: 28×28 grey images, 10 classes.
    case fashionMNIST = "fashion-mnist"
    /// CIFAR-100 (binary version), fine labels: 32×32 colour images, 100 classes.
    case cifar100
    /// CIFAR-10 (binary version): 32×32 colour images, 10 classes.
    case cifar10

    /// The set's name as tables and captions print it.
    public var title: String {
        switch self {
        case .fashionMNIST: "FashionMNIST"
        case .cifar100: "CIFAR-100"
        case .cifar10: "CIFAR-10"
        }
    }

    /// Pixels per image (the input width of a teacher).
    public var featureCount: Int { self == .fashionMNIST ? 784 : 3072 }

    /// Classes (the output width of a teacher).
    public var classCount: Int { self == .cifar100 ? 100 : 10 }

    /// What `--data-dir` must hold, for messages.
    public var expectedFiles: String {
        switch self {
        case .fashionMNIST: "the four FashionMNIST IDX files (default \(FashionMNIST.defaultDirectory.path))"
        case .cifar100: "train.bin and test.bin of CIFAR-100's binary version (the cifar-100-binary folder)"
        case .cifar10: "data_batch_1.bin … data_batch_5.bin and test_batch.bin (the cifar-10-batches-bin folder)"
        }
    }

    /// The suffix of the output folder: "" for FashionMNIST (results/sim), "-cifar100" … for the
    /// others (results/sim-cifar100), so a CIFAR run never overwrites the FashionMNIST results.
    public var folderSuffix: String { self == .fashionMNIST ? "" : "-\(rawValue)" }

    /// Loads the training and test sets with pixels scaled by `scaling`.
    /// - Parameters:
    ///   - directory: the folder of the files, or nil for FashionMNIST's default folder.
    ///   - scaling: the pixel scaling.
    ///   - type: `Float` or `Double`.
    /// - Returns: the training and the test set.
    /// - Throws: ``IDLError/io(_:)`` for a missing folder or file, or a file that is not of the
    ///   set's format (the readers' messages).
    public func load<T: BLASScalar>(from directory: URL?, scaling: PixelScaling, as type: T.Type = T.self) throws -> (
        train: Dataset<T>, test: Dataset<T>
    ) {
        switch self {
        case .fashionMNIST:
            return try FashionMNIST.loadTrainAndTest(
                from: directory ?? FashionMNIST.defaultDirectory, scaling: scaling, as: T.self)
        case .cifar100, .cifar10:
            guard let directory else {
                throw IDLError.io("\(title) needs --data-dir DIR naming \(expectedFiles); nothing is downloaded")
            }
            let load: (DataSplit) throws -> Dataset<T> = { split in
                self == .cifar100
                    ? try CIFAR.load100(split, from: directory, labels: .fine, scaling: scaling, as: T.self)
                    : try CIFAR.load10(split, from: directory, scaling: scaling, as: T.self)
            }
            return (try load(.train), try load(.test))
        }
    }

    /// The data set `--dataset` names (default FashionMNIST) and the folder `--data-dir` names;
    /// exits with status 2 and a message for an unknown name or a CIFAR set without a folder.
    /// - Parameter options: the parsed command line (must accept `--dataset` and `--data-dir`).
    /// - Returns: the set and the folder (nil: FashionMNIST's default folder).
    public static func parseOrExit(_ options: ExperimentOptions) -> (ExperimentDataset, URL?) {
        let name = options.string("--dataset") ?? ExperimentDataset.fashionMNIST.rawValue
        guard let dataset = ExperimentDataset(rawValue: name) else {
            ExperimentOptions.exitWithMessage(
                "--dataset expects one of \(allCases.map(\.rawValue).joined(separator: ", ")), got '\(name)'",
                program: options.program)
        }
        let directory = options.string("--data-dir").map { URL(fileURLWithPath: $0) }
        if dataset != .fashionMNIST && directory == nil {
            ExperimentOptions.exitWithMessage(
                "--dataset \(name) needs --data-dir DIR naming \(dataset.expectedFiles); nothing is downloaded",
                program: options.program)
        }
        return (dataset, directory)
    }

    /// Reads the widths of `--layers` ("3072,256,128,100"), or `defaultLayers`; exits with status
    /// 2 unless there are at least three positive widths, the first the set's pixel count and the
    /// last its class count.
    /// - Parameters:
    ///   - options: the parsed command line (must accept `--layers`).
    ///   - defaultLayers: the widths when `--layers` is absent.
    /// - Returns: the widths.
    public func layersOrExit(_ options: ExperimentOptions, default defaultLayers: [Int]) -> [Int] {
        guard let text = options.string("--layers") else { return defaultLayers }
        let widths = text.split(separator: ",", omittingEmptySubsequences: false).map {
            Int($0.trimmingCharacters(in: .whitespaces))
        }
        guard widths.count >= 3, widths.allSatisfy({ ($0 ?? 0) > 0 }), let first = widths.first!,
            let last = widths.last!, first == featureCount, last == classCount
        else {
            ExperimentOptions.exitWithMessage(
                "--layers expects at least three positive widths separated by commas, the first \(featureCount) (\(title)'s pixels) and the last \(classCount) (its classes), e.g. \(defaultLayers.map(String.init).joined(separator: ",")); got '\(text)'",
                program: options.program)
        }
        return widths.map { $0! }
    }
}

/// An integer with its digits in groups of three separated by spaces, as the tables print
/// counts: 10000 → "10 000", 784 → "784".
/// - Parameter value: the integer.
/// - Returns: the grouped digits (with a leading "-" for a negative value).
public func formatGrouped(_ value: Int) -> String {
    let digits = String(value.magnitude)
    var groups: [Substring] = []
    var end = digits.endIndex
    while end > digits.startIndex {
        let start = digits.index(end, offsetBy: -3, limitedBy: digits.startIndex) ?? digits.startIndex
        groups.insert(digits[start..<end], at: 0)
        end = start
    }
    return (value < 0 ? "-" : "") + groups.joined(separator: " ")
}
