/// The order in which one epoch visits the samples, cut into batches of indices.
///
/// Shuffling draws one permutation from the caller's ``SeededGenerator`` when the sampler is
/// made, so the same seed gives the same batches, and calling it again with the same
/// (advanced) generator gives the next epoch's different order, reproducibly.
public struct BatchSampler: Sequence, Sendable {
    /// The batches of sample indices, in visiting order.
    public let batches: [[Int]]

    /// Batches in the original order 0, 1, 2, ….
    /// - Parameters:
    ///   - count: number of samples.
    ///   - batchSize: samples per batch (the last may be smaller unless `dropLast`).
    ///   - dropLast: drop a final batch smaller than `batchSize`.
    /// - Throws: ``IDLError/invalidArgument(_:)`` for a batch size below 1 or a negative count.
    public init(count: Int, batchSize: Int, dropLast: Bool = false) throws {
        try self.init(order: Array(0..<Swift.max(count, 0)), count: count, batchSize: batchSize, dropLast: dropLast)
    }

    /// Batches in a random order drawn from `generator`.
    /// - Parameters:
    ///   - count: number of samples.
    ///   - batchSize: samples per batch.
    ///   - dropLast: drop a final batch smaller than `batchSize`.
    ///   - generator: the seeded generator, advanced by one permutation.
    /// - Throws: ``IDLError/invalidArgument(_:)`` as the unshuffled initializer.
    public init(count: Int, batchSize: Int, dropLast: Bool = false, shuffledWith generator: inout SeededGenerator)
        throws
    {
        guard count >= 0 else { throw IDLError.invalidArgument("sample count must be non-negative, got \(count)") }
        try self.init(order: generator.permutation(count), count: count, batchSize: batchSize, dropLast: dropLast)
    }

    private init(order: [Int], count: Int, batchSize: Int, dropLast: Bool) throws {
        guard count >= 0 else { throw IDLError.invalidArgument("sample count must be non-negative, got \(count)") }
        guard batchSize >= 1 else { throw IDLError.invalidArgument("batch size must be at least 1, got \(batchSize)") }
        var out: [[Int]] = []
        var start = 0
        while start < count {
            let end = Swift.min(start + batchSize, count)
            if end - start < batchSize && dropLast { break }
            out.append(Array(order[start..<end]))
            start = end
        }
        batches = out
    }

    /// Number of batches.
    public var count: Int { batches.count }

    /// Iterates over the batches of indices.
    public func makeIterator() -> IndexingIterator<[[Int]]> { batches.makeIterator() }
}

/// One batch of a ``Dataset``: the chosen columns and their labels.
public struct Batch<T: BLASScalar>: Sendable {
    /// features × batchSize.
    public let inputs: Matrix<T>
    /// The labels of the columns.
    public let labels: [Int]
    /// Which samples of the data set these are.
    public let indices: [Int]
}

/// The batches of a ``Dataset`` for one epoch, gathered lazily as they are iterated.
public struct DatasetBatches<T: BLASScalar>: Sequence, Sendable {
    /// The data set.
    public let dataset: Dataset<T>
    /// The batches of indices.
    public let sampler: BatchSampler

    /// Number of batches.
    public var count: Int { sampler.count }

    /// Iterates over the batches.
    public func makeIterator() -> Iterator { Iterator(dataset: dataset, batches: sampler.batches) }

    /// Gathers each batch's columns when it is reached.
    public struct Iterator: IteratorProtocol {
        let dataset: Dataset<T>
        let batches: [[Int]]
        var position = 0

        /// The next batch, or nil after the last.
        public mutating func next() -> Batch<T>? {
            guard position < batches.count else { return nil }
            let indices = batches[position]
            position += 1
            return Batch(
                inputs: dataset.inputs.columns(at: indices),
                labels: indices.map { dataset.labels[$0] }, indices: indices)
        }
    }
}

extension Dataset {
    /// The samples in order, in batches of `size`.
    /// - Parameters:
    ///   - size: samples per batch.
    ///   - dropLast: drop a final incomplete batch.
    /// - Throws: ``IDLError/invalidArgument(_:)`` for a size below 1.
    public func batches(size: Int, dropLast: Bool = false) throws -> DatasetBatches<T> {
        DatasetBatches(dataset: self, sampler: try BatchSampler(count: count, batchSize: size, dropLast: dropLast))
    }

    /// One epoch of shuffled batches (a fresh permutation drawn from `generator`).
    /// - Parameters:
    ///   - size: samples per batch.
    ///   - dropLast: drop a final incomplete batch.
    ///   - generator: the seeded generator; same seed, same batches.
    /// - Throws: ``IDLError/invalidArgument(_:)`` for a size below 1.
    public func batches(size: Int, dropLast: Bool = false, shuffledWith generator: inout SeededGenerator) throws
        -> DatasetBatches<T>
    {
        DatasetBatches(
            dataset: self,
            sampler: try BatchSampler(count: count, batchSize: size, dropLast: dropLast, shuffledWith: &generator))
    }
}
