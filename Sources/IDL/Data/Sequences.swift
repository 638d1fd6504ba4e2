import RealModule

/// A data set of sequences for recurrent models.
///
/// **Layout.** A batch of sequences is stored as one matrix per time step: `steps[t]` is
/// features × count, column j holding sample j's input at time t. That is exactly what a
/// recurrent model consumes (`[Matrix<T>]` of length `sequenceLength`, each features × batch),
/// and it keeps "columns are samples" at every step. Targets are outputs × count; for
/// classification tasks `labels` holds the class of each sample as well.
public struct SequenceDataset<T: BLASScalar>: Sendable {
    /// The inputs, one features × count matrix per time step.
    public private(set) var steps: [Matrix<T>]
    /// The targets, outputs × count (regression values, or one-hot classes).
    public private(set) var targets: Matrix<T>
    /// Class labels per sample for classification tasks; empty for regression.
    public private(set) var labels: [Int]

    /// Number of sequences.
    public var count: Int { targets.cols }
    /// Number of time steps.
    public var sequenceLength: Int { steps.count }
    /// Input features per time step.
    public var featureCount: Int { steps.first?.rows ?? 0 }

    /// A sequence data set.
    /// - Parameters:
    ///   - steps: one features × count matrix per time step (at least one).
    ///   - targets: outputs × count.
    ///   - labels: empty, or one class per sample.
    /// - Throws: ``IDLError/shapeMismatch(_:)`` if the steps differ in shape or their column
    ///   count differs from the targets' or the labels'; ``IDLError/invalidArgument(_:)`` for
    ///   no steps.
    public init(steps: [Matrix<T>], targets: Matrix<T>, labels: [Int] = []) throws {
        guard let first = steps.first else {
            throw IDLError.invalidArgument("a sequence data set needs at least one time step")
        }
        if let bad = steps.firstIndex(where: { $0.rows != first.rows || $0.cols != first.cols }) {
            throw IDLError.shapeMismatch(
                "time step \(bad) is \(steps[bad].shapeDescription) but step 0 is \(first.shapeDescription); every step must be features × count"
            )
        }
        guard targets.cols == first.cols else {
            throw IDLError.shapeMismatch(
                "targets are \(targets.shapeDescription) but the steps have \(first.cols) samples (columns)")
        }
        guard labels.isEmpty || labels.count == first.cols else {
            throw IDLError.shapeMismatch("\(labels.count) labels for \(first.cols) sequences")
        }
        self.steps = steps
        self.targets = targets
        self.labels = labels
    }

    /// The sequences at `indices`, in that order.
    /// - Throws: ``IDLError/invalidArgument(_:)`` for an index outside 0..<count.
    public func subset(_ indices: [Int]) throws -> SequenceDataset {
        if let bad = indices.first(where: { $0 < 0 || $0 >= count }) {
            throw IDLError.invalidArgument("sequence index \(bad) is outside 0..<\(count)")
        }
        var copy = self
        copy.steps = steps.map { $0.columns(at: indices) }
        copy.targets = targets.columns(at: indices)
        copy.labels = labels.isEmpty ? [] : indices.map { labels[$0] }
        return copy
    }

    /// All steps stacked into one (sequenceLength·features) × count matrix, step 0 on top:
    /// the input of a feed-forward model that sees the whole window at once.
    public func flattened() -> Matrix<T> { Matrix.vcat(steps) }

    /// One epoch of batches in order.
    /// - Throws: ``IDLError/invalidArgument(_:)`` for a size below 1.
    public func batches(size: Int, dropLast: Bool = false) throws -> SequenceBatches<T> {
        SequenceBatches(dataset: self, sampler: try BatchSampler(count: count, batchSize: size, dropLast: dropLast))
    }

    /// One epoch of shuffled batches (a fresh permutation drawn from `generator`).
    /// - Throws: ``IDLError/invalidArgument(_:)`` for a size below 1.
    public func batches(size: Int, dropLast: Bool = false, shuffledWith generator: inout SeededGenerator) throws
        -> SequenceBatches<T>
    {
        SequenceBatches(
            dataset: self,
            sampler: try BatchSampler(count: count, batchSize: size, dropLast: dropLast, shuffledWith: &generator))
    }
}

/// One batch of a ``SequenceDataset``.
public struct SequenceBatch<T: BLASScalar>: Sendable {
    /// One features × batchSize matrix per time step.
    public let steps: [Matrix<T>]
    /// outputs × batchSize.
    public let targets: Matrix<T>
    /// Labels (empty for regression).
    public let labels: [Int]
    /// Which sequences of the data set these are.
    public let indices: [Int]
}

/// The batches of a ``SequenceDataset`` for one epoch, gathered lazily.
public struct SequenceBatches<T: BLASScalar>: Sequence, Sendable {
    /// The data set.
    public let dataset: SequenceDataset<T>
    /// The batches of indices.
    public let sampler: BatchSampler

    /// Number of batches.
    public var count: Int { sampler.count }

    /// Iterates over the batches.
    public func makeIterator() -> Iterator { Iterator(dataset: dataset, batches: sampler.batches) }

    /// Gathers each batch when it is reached.
    public struct Iterator: IteratorProtocol {
        let dataset: SequenceDataset<T>
        let batches: [[Int]]
        var position = 0

        /// The next batch, or nil after the last.
        public mutating func next() -> SequenceBatch<T>? {
            guard position < batches.count else { return nil }
            let indices = batches[position]
            position += 1
            return SequenceBatch(
                steps: dataset.steps.map { $0.columns(at: indices) },
                targets: dataset.targets.columns(at: indices),
                labels: dataset.labels.isEmpty ? [] : indices.map { dataset.labels[$0] },
                indices: indices)
        }
    }
}

/// The "spiky" synthetic time series of torchidl's `examples/idl_rnn`, and its sliding windows.
///
/// Recipe (after `spiky_data.py`, with our own seeded generator, so the numbers differ from
/// torchidl's torch/numpy streams but follow the same distribution): `pointCount` points
/// xᵢ evenly spaced on [0, 100]; `20 + level` regions of `100 + level` consecutive points start
/// at uniformly random positions and there y = (level/2)·(sin 2x + sin 23x + sin 78x + sin 100x)
/// (later regions overwrite earlier ones where they overlap); elsewhere y = sin x + ε with
/// ε ~ N(0, (0.05·level)²).
///
/// Windows: the runs of `lookBack` consecutive points starting at 0, 1, …, N − lookBack − 1
/// (N − lookBack windows, as the original, whose last point is never a target) each give one
/// sample: the first `lookBack − 1` values are the input sequence (one feature per step), the
/// last value the target. The first 60 % of windows (in time order) train, the last 40 % test — no shuffling
/// across the split, as in the original.
public enum SpikyTimeSeries {
    /// Parameters of the series and of the windowing.
    public struct Configuration: Sendable, Equatable {
        /// Difficulty: number, length and amplitude of the spiky regions and the noise level (7).
        public var level: Int
        /// Length of the series (10 000).
        public var pointCount: Int
        /// Window length: `lookBack − 1` input steps plus one target (60).
        public var lookBack: Int
        /// Share of windows used for testing, taken from the end (0.4).
        public var testFraction: Double

        /// The settings of torchidl's example (level 7, 10 000 points, look-back 60, 40 % test).
        public init(level: Int = 7, pointCount: Int = 10_000, lookBack: Int = 60, testFraction: Double = 0.4) {
            self.level = level
            self.pointCount = pointCount
            self.lookBack = lookBack
            self.testFraction = testFraction
        }
    }

    /// The raw series y₀ … y_{N−1}.
    /// - Parameters:
    ///   - configuration: level and length.
    ///   - generator: the seeded generator (region positions, then noise).
    /// - Throws: ``IDLError/invalidArgument(_:)`` if the series is too short for one spiky
    ///   region or the level is negative.
    public static func series(_ configuration: Configuration = .init(), using generator: inout SeededGenerator) throws
        -> [Double]
    {
        let level = configuration.level
        let n = configuration.pointCount
        let regionSize = 100 + level
        let regionCount = 20 + level
        guard level >= 0 else { throw IDLError.invalidArgument("level must be non-negative, got \(level)") }
        guard n > regionSize else {
            throw IDLError.invalidArgument(
                "the series needs more than \(regionSize) points for spiky regions of that size, got \(n)")
        }
        let magnitude = Double(level) / 2
        let noise = 0.05 * Double(level)
        let x = (0..<n).map { 100 * Double($0) / Double(n - 1) }
        var y = [Double](repeating: 0, count: n)
        var spiky = [Bool](repeating: false, count: n)
        for _ in 0..<regionCount {
            let start = generator.integer(below: n - regionSize)
            for i in start..<(start + regionSize) {
                let t = x[i]
                y[i] = magnitude * (Double.sin(2 * t) + Double.sin(23 * t) + Double.sin(78 * t) + Double.sin(100 * t))
                spiky[i] = true
            }
        }
        for i in 0..<n where !spiky[i] {
            y[i] = Double.sin(x[i]) + noise * generator.normal()
        }
        return y
    }

    /// Sliding windows of a series, split in time order into training and test sets.
    /// - Parameters:
    ///   - series: the values.
    ///   - lookBack: window length (inputs are the first `lookBack − 1` values, the target the last).
    ///   - testFraction: share of windows for testing (rounded), taken from the end.
    ///   - type: `Float` or `Double`.
    /// - Returns: sequence data sets with one feature per step and one target row.
    /// - Throws: ``IDLError/invalidArgument(_:)`` if `lookBack < 2`, the series has no more
    ///   points than `lookBack`, or `testFraction` is outside [0, 1].
    public static func windows<T: BLASScalar>(
        of series: [Double], lookBack: Int, testFraction: Double, as type: T.Type = T.self
    ) throws -> (train: SequenceDataset<T>, test: SequenceDataset<T>) {
        guard lookBack >= 2 else {
            throw IDLError.invalidArgument("lookBack must be at least 2 (inputs plus a target), got \(lookBack)")
        }
        guard series.count > lookBack else {
            throw IDLError.invalidArgument("a series of \(series.count) points has no windows of length \(lookBack)")
        }
        guard testFraction >= 0 && testFraction <= 1 else {
            throw IDLError.invalidArgument("testFraction must be in [0, 1], got \(testFraction)")
        }
        // As the original (`range(len(data) - look_back)`): N − lookBack windows, so the very
        // last point of the series is never a target.
        let windowCount = series.count - lookBack
        let testCount = Int((testFraction * Double(windowCount)).rounded(.toNearestOrEven))
        let trainCount = windowCount - testCount
        func make(_ range: Range<Int>) throws -> SequenceDataset<T> {
            let m = range.count
            var steps: [Matrix<T>] = []
            for t in 0..<(lookBack - 1) {
                steps.append(Matrix(uncheckedRows: 1, cols: m, storage: range.map { T(series[$0 + t]) }))
            }
            let targets = Matrix(uncheckedRows: 1, cols: m, storage: range.map { T(series[$0 + lookBack - 1]) })
            return try SequenceDataset(steps: steps, targets: targets)
        }
        return (try make(0..<trainCount), try make(trainCount..<windowCount))
    }

    /// The series and its windows, as torchidl's example builds them.
    /// - Parameters:
    ///   - configuration: level, length, look-back and split.
    ///   - seed: seed of the generator; the same seed gives the same data.
    ///   - type: `Float` or `Double`.
    /// - Throws: as ``series(_:using:)`` and ``windows(of:lookBack:testFraction:as:)``.
    public static func make<T: BLASScalar>(
        _ configuration: Configuration = .init(), seed: UInt64 = 0, as type: T.Type = T.self
    ) throws -> (train: SequenceDataset<T>, test: SequenceDataset<T>, series: [Double]) {
        var g = SeededGenerator(seed: seed)
        let y = try series(configuration, using: &g)
        let (train, test) = try windows(
            of: y, lookBack: configuration.lookBack, testFraction: configuration.testFraction, as: type)
        return (train, test, y)
    }
}

/// The argmax sequence task: given a sequence of numbers, name the position of the largest.
///
/// Each sequence has `length` steps of one feature; values are uniform in [−range, range).
/// The label is the position of the maximum (0-based, the first one if tied), and the target
/// is its one-hot column (length × count). Training sets use range 1; test sets use
/// range `factor`, so `factor > 1` asks the model to extrapolate beyond the values it saw.
public enum ArgmaxSequences {
    /// `count` random sequences.
    /// - Parameters:
    ///   - count: number of sequences.
    ///   - length: steps per sequence (= number of classes).
    ///   - range: values are uniform in [−range, range).
    ///   - generator: the seeded generator.
    ///   - type: `Float` or `Double`.
    /// - Throws: ``IDLError/invalidArgument(_:)`` for a negative count, a length below 1 or a
    ///   range that is not positive and finite.
    public static func make<T: BLASScalar>(
        count: Int, length: Int, range: Double = 1, using generator: inout SeededGenerator, as type: T.Type = T.self
    ) throws -> SequenceDataset<T> {
        guard count >= 0 else { throw IDLError.invalidArgument("count must be non-negative, got \(count)") }
        guard length >= 1 else { throw IDLError.invalidArgument("sequence length must be at least 1, got \(length)") }
        guard range > 0 && range.isFinite else {
            throw IDLError.invalidArgument("range must be positive and finite, got \(range)")
        }
        var steps = (0..<length).map { _ in Matrix<T>(rows: 1, cols: count) }
        var labels = [Int](repeating: 0, count: count)
        var targets = Matrix<T>(rows: length, cols: count)
        for j in 0..<count {
            var best = 0
            var bestValue = -Double.infinity
            for t in 0..<length {
                let v = range * (2 * generator.uniform() - 1)
                steps[t].storage[j] = T(v)
                if T(v) > T(bestValue) || t == 0 {
                    best = t
                    bestValue = v
                }
            }
            labels[j] = best
            targets.storage[best + j * length] = 1
        }
        return try SequenceDataset(steps: steps, targets: targets, labels: labels)
    }

    /// A training set (values in [−1, 1)) and a test set (values in [−factor, factor)).
    /// - Parameters:
    ///   - trainCount: training sequences.
    ///   - testCount: test sequences.
    ///   - length: steps per sequence.
    ///   - factor: widening of the test value range (1 = same distribution).
    ///   - seed: seed; the training set is drawn first, then the test set.
    ///   - type: `Float` or `Double`.
    /// - Throws: as ``make(count:length:range:using:as:)``.
    public static func makeSplits<T: BLASScalar>(
        trainCount: Int, testCount: Int, length: Int, factor: Double = 1, seed: UInt64 = 0, as type: T.Type = T.self
    ) throws -> (train: SequenceDataset<T>, test: SequenceDataset<T>) {
        var g = SeededGenerator(seed: seed)
        let train = try make(count: trainCount, length: length, range: 1, using: &g, as: type)
        let test = try make(count: testCount, length: length, range: factor, using: &g, as: type)
        return (train, test)
    }
}
