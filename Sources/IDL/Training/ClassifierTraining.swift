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
///   - model: the classifier; its output has one row per class.
///   - optimizer: the optimizer over the model's parameters.
///   - train: the training set.
///   - test: a test set, evaluated after each epoch, or nil.
///   - epochs: number of passes over the training set.
///   - batchSize: samples per optimizer step.
///   - generator: the seeded generator that shuffles the batches.
///   - solveLog: an implicit model's log, reset each epoch, whose statistics go into the reports.
///   - stepsPerEpoch: stop each epoch after this many steps (quick runs).
///   - progress: how to show progress within an epoch (quiet by default).
///   - onEpoch: called after each epoch with its report (print, log to a file…).
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
public func evaluateAccuracy<Model: Layer>(_ model: Model, _ data: Dataset<Model.Scalar>, batchSize: Int = 1000) throws -> Double {
    var correct = 0
    for batch in try data.batches(size: batchSize) {
        let scores = try model.predict(batch.inputs)
        correct += zip(scores.argmaxPerColumn(), batch.labels).filter { $0 == $1 }.count
    }
    return data.count == 0 ? 0 : Double(correct) / Double(data.count)
}
