import Foundation
import IDL

/// The mean and the sample standard deviation (n − 1 in the denominator) of the values of one
/// quantity over seeds.
public struct SeedSpread: Sendable {
    /// The values, one per seed, in seed order.
    public let values: [Double]

    /// The spread of `values` (at least one).
    public init(_ values: [Double]) {
        precondition(!values.isEmpty, "a spread over seeds needs at least one value")
        self.values = values
    }

    /// The arithmetic mean.
    public var mean: Double { values.reduce(0, +) / Double(values.count) }

    /// The sample standard deviation, or nil for a single seed.
    public var standardDeviation: Double? {
        guard values.count > 1 else { return nil }
        let m = mean
        return (values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(values.count - 1)).squareRoot()
    }

    /// The mean, `scale`d (100 for percent) and rounded to `decimals`.
    public func meanCell(scale: Double = 1, decimals: Int) -> String { formatFixed(scale * mean, decimals: decimals) }

    /// The standard deviation, `scale`d and rounded to `decimals`, or "—" for a single seed.
    public func standardDeviationCell(scale: Double = 1, decimals: Int) -> String {
        standardDeviation.map { formatFixed(scale * $0, decimals: decimals) } ?? "—"
    }

    /// The error bar to draw (the standard deviation, `scale`d), 0 for a single seed.
    public func errorBar(scale: Double = 1) -> Double { scale * (standardDeviation ?? 0) }
}

/// Values of named quantities collected seed by seed, in the order the names first appear.
public struct SeedCollector: Sendable {
    /// The names, in first-seen order.
    public private(set) var names: [String] = []
    private var values: [String: [Double]] = [:]

    /// An empty collector.
    public init() {}

    /// Records one seed's `value` of `name`.
    public mutating func add(_ name: String, _ value: Double) {
        if values[name] == nil { names.append(name) }
        values[name, default: []].append(value)
    }

    /// The spread of `name` over the seeds recorded.
    public func spread(_ name: String) -> SeedSpread {
        guard let v = values[name] else { preconditionFailure("no value recorded for \(name)") }
        return SeedSpread(v)
    }

    /// Whether anything was recorded for `name`.
    public func contains(_ name: String) -> Bool { values[name] != nil }
}

/// One row of a table over seeds: its label cells, and per seed its numbers by name.
public struct SeedRow: Sendable {
    /// The label cells (method, λ, ε …), the same in every seed.
    public var labels: [String]
    /// The numbers recorded for the row, seed by seed.
    public var values = SeedCollector()

    /// A row with these labels and no numbers yet.
    public init(labels: [String]) { self.labels = labels }
}

/// Adds one seed's numbers to row `index` of `rows`: creates the row in the first seed (index ==
/// rows.count) and checks that the labels agree in the others (every seed makes the same rows in
/// the same order).
/// - Parameters:
///   - rows: the table's rows so far.
///   - index: the row's position.
///   - labels: the row's label cells.
///   - values: the seed's numbers, by name.
public func record(_ rows: inout [SeedRow], _ index: Int, labels: [String], _ values: [(String, Double)]) {
    if index == rows.count { rows.append(SeedRow(labels: labels)) }
    precondition(rows[index].labels == labels, "row \(index) differs between seeds: \(rows[index].labels) vs \(labels)")
    for (name, v) in values { rows[index].values.add(name, v) }
}

/// The sentence a table's footnote says about its seeds: "One seed (0): the std columns are
/// empty." or "Mean over the seeds 0, 1, 2 (what each draws) and the sample standard deviation
/// (std, in points)."
/// - Parameters:
///   - seeds: the seeds of the run.
///   - draws: what each seed draws, in parentheses after the seeds, or nil.
///   - columns: "columns" or "column", as the table has one std column or several.
///   - sentence: a capitalised sentence with a full stop (true) or a lower-case clause (false).
/// - Returns: the sentence.
public func seedNote(_ seeds: [UInt64], draws: String? = nil, columns: String = "columns", sentence: Bool = true)
    -> String
{
    let text =
        seeds.count == 1
        ? "one seed (\(seeds[0])): the std \(columns) \(columns == "column" ? "is" : "are") empty"
        : "mean over the seeds \(seeds.map(String.init).joined(separator: ", "))\(draws.map { " (\($0))" } ?? "") and the sample standard deviation (std, in points)"
    return sentence ? text.prefix(1).uppercased() + text.dropFirst() + "." : text
}

/// The seeds of an experiment: 0, 1, …, count − 1 (`--seeds count`, default 3 in full mode and
/// 1 in quick mode). Seed 0 reproduces the runs of one seed made before seeds were added.
/// - Parameters:
///   - options: the parsed command line (must accept `--seeds`).
///   - quick: whether the program runs in quick mode.
/// - Returns: the seeds; exits with status 2 for a count below 1.
public func experimentSeeds(_ options: ExperimentOptions, quick: Bool) -> [UInt64] {
    let count = options.int("--seeds") ?? (quick ? 1 : 3)
    guard count >= 1 else {
        ExperimentOptions.exitWithMessage(
            "--seeds expects a count of at least 1, got \(count)", program: options.program)
    }
    return (0..<UInt64(count)).map { $0 }
}

/// The teacher of the SIM experiments for one seed, and the states SIM is fitted to: a ReLU MLP
/// without biases trained by Adam (0.01, batch 128), rescaled so that its hidden layers have
/// ‖W‖∞ ≤ κ, and the states of `sampleCount` random training images. The seed drives, in this
/// order, the optional training subset, the initial weights, the batch order and the images
/// whose states are taken.
public struct SeededSIMTeacher<T: BLASScalar> {
    /// The seed.
    public let seed: UInt64
    /// The teacher (rescaled unless κ was nil).
    public let network: Sequential<T>
    /// The factors ``rescaleForWellPosedness(_:kappa:)`` applied to each Linear layer (empty
    /// when κ was nil).
    public let rescaleFactors: [Double]
    /// Test accuracy of the teacher (in [0, 1]).
    public let accuracy: Double
    /// The teacher's nonzero weights.
    public let nonzeros: Int
    /// The training set used (the subset in quick runs).
    public let train: Dataset<T>
    /// The states of the sampled training images, in Double for the convex fits.
    public let states: SIMStates<Double>
    /// The row count of each state block, last layer first.
    public let blocks: [Int]

    /// Trains the teacher of `seed` and takes its states.
    /// - Parameters:
    ///   - seed: the seed of everything random.
    ///   - layers: the layer widths, e.g. [784, 64, 32, 16, 10].
    ///   - train: the training set.
    ///   - test: the test set (accuracy after each epoch and at the end).
    ///   - trainSubset: train on a random subset of this size (quick runs), or nil for all.
    ///   - epochs: training epochs.
    ///   - sampleCount: images whose states are taken.
    ///   - kappa: the bound ‖W‖∞ ≤ κ of the rescaling, or nil to keep the trained scales.
    ///   - log: whether to print each epoch.
    /// - Throws: what training, rescaling or state extraction throws.
    public init(
        seed: UInt64, layers: [Int], train: Dataset<T>, test: Dataset<T>, trainSubset: Int? = nil, epochs: Int,
        sampleCount: Int, kappa: Double?, log: Bool = true
    ) throws {
        var g = SeededGenerator(seed: seed)
        let data = try trainSubset.map { try train.randomSubset($0, using: &g) } ?? train
        let network = Sequential<T>.mlp(layers, bias: false, using: &g)
        let optimizer = try Adam(network.parameters, learningRate: 0.01)
        _ = try trainClassifier(
            network, optimizer: optimizer, train: data, test: test, epochs: epochs, batchSize: 128, generator: &g
        ) { r in
            if log {
                print(
                    "seed \(seed), teacher epoch \(r.epoch): loss \(formatFixed(r.loss, decimals: 4)), test accuracy \(formatFixed(100 * r.testAccuracy!, decimals: 2)) %"
                )
            }
        }
        rescaleFactors = try kappa.map { try rescaleForWellPosedness(network, kappa: $0) } ?? []
        accuracy = try evaluateAccuracy(network, test)
        nonzeros = network.parameters.reduce(0) { $0 + $1.value.count - $1.value.zeroCount }
        let subset = try data.randomSubset(sampleCount, using: &g)
        states = try StateExtraction.states(of: network, inputs: subset.inputs).converted(to: Double.self)
        blocks = try StateExtraction.stateBlockSizes(of: network, inputDim: layers[0])
        self.seed = seed
        self.network = network
        self.train = data
    }
}
