/// What one training epoch did.
public struct EpochReport: Sendable {
    /// 1-based epoch number.
    public var epoch: Int
    /// Mean training loss over the epoch's steps.
    public var loss: Double
    /// Number of optimizer steps.
    public var steps: Int
    /// Wall-clock seconds spent in the training steps (not in evaluation).
    public var seconds: Double
    /// Test accuracy after the epoch, when a test set was given.
    public var testAccuracy: Double?
    /// Mean forward fixed-point iterations per step (implicit models), else nil.
    public var forwardIterations: Double?
    /// Mean backward fixed-point iterations per step (implicit models), else nil.
    public var backwardIterations: Double?
    /// Share of fixed-point solves (forward and backward) that converged, else nil.
    public var convergedFraction: Double?

    /// Milliseconds per training step.
    public var msPerStep: Double { steps == 0 ? 0 : 1000 * seconds / Double(steps) }
}

/// Trains a classifier with cross-entropy, the loop every tutorial and experiment uses:
/// for each epoch, shuffled mini-batches (seeded), `zeroGrad` → forward → loss → `backward` →
/// `step`, then the test accuracy.
///
/// Training health: a NaN or infinite loss stops training *before* the optimizer step, so the
/// model keeps its last finite parameters, and throws an error naming the epoch, the step and
/// the likely causes.
///
/// - Parameters:
///   - model: The classifier (scores = classes × samples).
///   - optimizer: The optimizer over the model's parameters.
///   - train: The training set, reshuffled every epoch.
///   - test: A set whose accuracy is measured after each epoch, or nil.
///   - epochs: The number of passes over `train` (≥ 1).
///   - batchSize: Samples per mini-batch (≥ 1).
///   - generator: The seeded generator for the shuffles; same seed, same run.
///   - solveLog: an implicit model's log, reset each epoch, whose statistics go into the reports.
///   - stepsPerEpoch: stop each epoch after this many steps (quick runs).
///   - progress: How progress is shown while an epoch runs.
///   - onEpoch: called after each epoch with its report (print, log to a file…).
/// - Returns: One report per epoch.
/// - Throws: ``IDLError/invalidArgument(_:)`` for epochs or batch size below 1 or a label
///   outside the classes; ``IDLError/nonFinite(_:)`` when the loss becomes NaN or infinite;
///   ``IDLError/shapeMismatch(_:)`` when the data does not fit the model; whatever `onEpoch`
///   throws.
public func trainClassifier<Model: Layer, Opt: Optimizer>(
    _ model: Model, optimizer: Opt, train: Dataset<Model.Scalar>, test: Dataset<Model.Scalar>? = nil,
    epochs: Int, batchSize: Int, generator: inout SeededGenerator,
    solveLog: SolveLog? = nil, stepsPerEpoch: Int? = nil,
    progress: ProgressReporter.Style = .quiet,
    onEpoch: (EpochReport) throws -> Void = { _ in }
) throws -> [EpochReport] where Opt.Scalar == Model.Scalar {
    guard epochs >= 1, batchSize >= 1 else {
        throw IDLError.invalidArgument("training needs epochs ≥ 1 and batch size ≥ 1, got \(epochs) and \(batchSize)")
    }
    var reports = [EpochReport]()
    for epoch in 1...epochs {
        solveLog?.reset()
        model.setTraining(true)
        let batches = try train.batches(size: batchSize, shuffledWith: &generator)
        let total = min(batches.count, stepsPerEpoch ?? Int.max)
        let bar = ProgressReporter("epoch \(epoch)/\(epochs)", total: total, style: progress)
        var lossSum = 0.0, steps = 0
        let start = monotonicSeconds()
        for batch in batches {
            if steps >= total { break }
            optimizer.zeroGrad()
            let loss = try crossEntropyLoss(model(Tensor(batch.inputs)), batch.labels)
            let value = Double(loss.value[0, 0])
            guard value.isFinite else {
                throw IDLError.nonFinite("the training loss became \(value) at epoch \(epoch), step \(steps + 1); the model keeps its last finite parameters. Likely causes: a learning rate too large (now \(optimizer.learningRate)), or for an implicit model a κ too close to 1 or non-converging solves (\(solveLog?.summary ?? "no solver statistics"))")
            }
            loss.backward()
            optimizer.step()
            lossSum += value
            steps += 1
            bar.advance()
        }
        let seconds = monotonicSeconds() - start
        model.setTraining(false)
        var report = EpochReport(epoch: epoch, loss: lossSum / Double(max(1, steps)), steps: steps, seconds: seconds)
        if let test { report.testAccuracy = try evaluateAccuracy(model, test) }
        if let log = solveLog {
            report.forwardIterations = Double(log.forwardIterations) / Double(max(1, steps))
            report.backwardIterations = Double(log.backwardIterations) / Double(max(1, steps))
            let solves = log.forwardSolves + log.backwardSolves
            report.convergedFraction = solves == 0 ? 1 : Double(log.forwardConverged + log.backwardConverged) / Double(solves)
        }
        bar.finish("loss \(formatFixed(report.loss, decimals: 4))")
        reports.append(report)
        try onEpoch(report)
    }
    return reports
}

/// Accuracy of a classifier on a data set, evaluated in batches of 1 000 (no gradients kept).
///
/// - Parameters:
///   - model: The classifier.
///   - data: The samples and labels.
///   - batchSize: Samples per forward pass.
/// - Returns: The share of correctly classified samples in [0, 1] (0 for an empty set).
/// - Throws: ``IDLError/invalidArgument(_:)`` for a batch size below 1; what the model's
///   forward pass throws, e.g. ``IDLError/shapeMismatch(_:)``.
public func evaluateAccuracy<Model: Layer>(_ model: Model, _ data: Dataset<Model.Scalar>, batchSize: Int = 1000) throws -> Double {
    var correct = 0
    for batch in try data.batches(size: batchSize) {
        let scores = try model.predict(batch.inputs)
        correct += zip(scores.argmaxPerColumn(), batch.labels).filter { $0 == $1 }.count
    }
    return data.count == 0 ? 0 : Double(correct) / Double(data.count)
}
