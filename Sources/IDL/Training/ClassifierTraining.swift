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
    /// Forward solves of the training steps that did not converge (implicit models), else nil.
    public var forwardFailures: Int?
    /// Backward solves of the training steps that did not converge (implicit models), else nil.
    public var backwardFailures: Int?

    /// Milliseconds per training step.
    public var msPerStep: Double { steps == 0 ? 0 : 1000 * seconds / Double(steps) }

    /// When fixed-point solves did not converge this epoch: how many, and what to try; else nil.
    public var solveWarning: String? {
        let forward = forwardFailures ?? 0
        let backward = backwardFailures ?? 0
        guard forward + backward > 0 else { return nil }
        return "\(forward) forward and \(backward) backward fixed-point solves did not converge in epoch \(epoch) "
            + "(try the Anderson solver, a larger iteration budget mitr, a looser tolerance, or a smaller κ)"
    }
}

extension EpochReport: CustomStringConvertible {
    /// One line: epoch, loss, accuracy, time per step, solver figures and any solve warning.
    public var description: String {
        var s = "epoch \(epoch): loss \(formatFixed(loss, decimals: 4))"
        if let testAccuracy { s += ", test accuracy \(formatFixed(100 * testAccuracy, decimals: 2)) %" }
        s += ", \(formatFixed(msPerStep, decimals: 2)) ms/step"
        if let forwardIterations, let backwardIterations {
            s +=
                ", forward \(formatFixed(forwardIterations, decimals: 1)) it, backward \(formatFixed(backwardIterations, decimals: 1)) it"
        }
        if let convergedFraction { s += ", converged \(formatFixed(100 * convergedFraction, decimals: 1)) %" }
        if let solveWarning { s += "; warning: " + solveWarning }
        return s
    }
}

/// Trains a classifier with cross-entropy, the loop every tutorial and experiment uses:
/// for each epoch, shuffled mini-batches (seeded), `zeroGrad` → forward → loss → `backward` →
/// `step`, then the test accuracy.
///
/// Training health: a NaN or infinite loss stops training *before* the optimizer step, and a
/// step that makes a parameter NaN or infinite is undone, so the model always keeps its last
/// finite parameters; either throws ``IDLError/nonFinite(_:)`` naming the epoch, the step and the
/// likely causes. Fixed-point solves that did not converge are counted per epoch
/// (``EpochReport/forwardFailures``, ``EpochReport/solveWarning``); the counts cover the training
/// steps only, not the evaluation on the test set.
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
///   - communicator: the ranks of a data-parallel run, or nil for one process. Every rank
///     calls this function with the same arguments (the same seed, so the same batches); rank
///     0's parameters are broadcast first, each rank runs the model on its fixed shard of every
///     batch, and the summed gradients make the same optimizer step on every rank (see
///     `dataParallelLoss` in DataParallel.swift). The reports' solver statistics are the rank's own.
///   - onEpoch: called after each epoch with its report (print, log to a file…).
/// - Returns: One report per epoch.
/// - Throws: ``IDLError/invalidArgument(_:)`` for epochs or batch size below 1, an empty
///   training or test set, or a label outside the classes; ``IDLError/nonFinite(_:)`` when the
///   loss or a parameter becomes NaN or infinite; ``IDLError/shapeMismatch(_:)`` when the data
///   does not fit the model; whatever `onEpoch` throws.
public func trainClassifier<Model: Layer, Opt: Optimizer>(
    _ model: Model, optimizer: Opt, train: Dataset<Model.Scalar>, test: Dataset<Model.Scalar>? = nil,
    epochs: Int, batchSize: Int, generator: inout SeededGenerator,
    solveLog: SolveLog? = nil, stepsPerEpoch: Int? = nil,
    progress: ProgressReporter.Style = .quiet, communicator: (any Communicator)? = nil,
    onEpoch: (EpochReport) throws -> Void = { _ in }
) throws -> [EpochReport] where Opt.Scalar == Model.Scalar {
    guard epochs >= 1, batchSize >= 1 else {
        throw IDLError.invalidArgument("training needs epochs ≥ 1 and batch size ≥ 1, got \(epochs) and \(batchSize)")
    }
    guard train.count > 0 else {
        throw IDLError.invalidArgument(
            "the training set has no samples (inputs \(train.inputs.shapeDescription)); load or select at least one")
    }
    if let test, test.count == 0 {
        throw IDLError.invalidArgument(
            "the test set has no samples (inputs \(test.inputs.shapeDescription)); pass nil to train without one")
    }
    // The parameters before each step, to undo a step that makes them non-finite.
    let parameters = optimizer.parameters
    if let communicator { try broadcastParameters(parameters, over: communicator) }
    var saved = parameters.map { $0.value.storage }
    let kappa = (model as? ImplicitModel<Model.Scalar>).map { " (κ = \($0.kappa))" } ?? ""
    func causes() -> String {
        "Likely causes: a learning rate too large (now \(optimizer.learningRate)), or for an implicit model a κ too close to 1\(kappa) or non-converging solves (\(solveLog?.summary ?? "no solver statistics"))"
    }
    var reports = [EpochReport]()
    for epoch in 1...epochs {
        solveLog?.reset()
        model.setTraining(true)
        let batches = try train.batches(size: batchSize, shuffledWith: &generator)
        let total = min(batches.count, stepsPerEpoch ?? Int.max)
        let bar = ProgressReporter("epoch \(epoch)/\(epochs)", total: total, style: progress)
        var lossSum = 0.0
        var steps = 0
        let start = monotonicSeconds()
        for batch in batches {
            if steps >= total { break }
            optimizer.zeroGrad()
            let loss = communicator == nil ? try crossEntropyLoss(model(Tensor(batch.inputs)), batch.labels) : nil
            let value =
                try loss.map { Double($0.value[0, 0]) }
                ?? dataParallelLoss(model, batch: batch, parameters: parameters, communicator: communicator!)
            guard value.isFinite else {
                throw IDLError.nonFinite(
                    "the training loss became \(value) at epoch \(epoch), step \(steps + 1); the model keeps its last finite parameters. \(causes())"
                )
            }
            loss?.backward()
            for (k, p) in parameters.enumerated() { copyStorage(p.value.storage, into: &saved[k]) }
            optimizer.step()
            if let bad = parameters.firstIndex(where: { !allFinite($0.value.storage) }) {
                for (k, p) in parameters.enumerated() { copyStorage(saved[k], into: &p.value.storage) }
                throw IDLError.nonFinite(
                    "the optimizer step at epoch \(epoch), step \(steps + 1) made parameter \(parameters[bad].name ?? "#\(bad)") NaN or infinite (the loss before it was \(value)); the step was undone, so the model keeps its last finite parameters. \(causes())"
                )
            }
            lossSum += value
            steps += 1
            bar.advance()
        }
        let seconds = monotonicSeconds() - start
        model.setTraining(false)
        var report = EpochReport(epoch: epoch, loss: lossSum / Double(max(1, steps)), steps: steps, seconds: seconds)
        if let log = solveLog {  // before the evaluation, whose solves are not training steps
            report.forwardIterations = Double(log.forwardIterations) / Double(max(1, steps))
            report.backwardIterations = Double(log.backwardIterations) / Double(max(1, steps))
            let solves = log.forwardSolves + log.backwardSolves
            report.convergedFraction =
                solves == 0 ? 1 : Double(log.forwardConverged + log.backwardConverged) / Double(solves)
            report.forwardFailures = log.forwardFailures
            report.backwardFailures = log.backwardFailures
        }
        if let test { report.testAccuracy = try evaluateAccuracy(model, test) }
        bar.finish("loss \(formatFixed(report.loss, decimals: 4))")
        reports.append(report)
        try onEpoch(report)
    }
    return reports
}

/// Copies `source` over `destination` element by element (same count), without reallocating.
private func copyStorage<T>(_ source: [T], into destination: inout [T]) {
    if destination.count != source.count {
        destination = source
        return
    }
    destination.withUnsafeMutableBufferPointer { d in
        source.withUnsafeBufferPointer { s in d.baseAddress!.update(from: s.baseAddress!, count: s.count) }
    }
}

/// Whether every entry is finite, by a max-reduction over the bit patterns with the sign bit
/// cleared (non-finite values have the largest ones), which the compiler vectorises: the check
/// after every optimizer step costs a few microseconds.
private func allFinite<T: BLASScalar>(_ values: [T]) -> Bool {
    values.withUnsafeBufferPointer { p -> Bool in
        if T.self == Float.self {
            return p.withMemoryRebound(to: UInt32.self) { b in
                var top: UInt32 = 0
                for x in b { top = max(top, x & 0x7FFF_FFFF) }
                return top < 0x7F80_0000
            }
        }
        if T.self == Double.self {
            return p.withMemoryRebound(to: UInt64.self) { b in
                var top: UInt64 = 0
                for x in b { top = max(top, x & 0x7FFF_FFFF_FFFF_FFFF) }
                return top < 0x7FF0_0000_0000_0000
            }
        }
        return p.allSatisfy(\.isFinite)
    }
}

/// Accuracy of a classifier on a data set, evaluated in batches of 1 000 (no gradients kept).
///
/// - Parameters:
///   - model: The classifier.
///   - data: The samples and labels.
///   - batchSize: Samples per forward pass.
/// - Returns: The share of correctly classified samples, in [0, 1].
/// - Throws: ``IDLError/invalidArgument(_:)`` for a data set with no samples (an accuracy of
///   nothing is undefined) or a batch size below 1, and whatever the model throws.
public func evaluateAccuracy<Model: Layer>(_ model: Model, _ data: Dataset<Model.Scalar>, batchSize: Int = 1000) throws
    -> Double
{
    guard data.count > 0 else {
        throw IDLError.invalidArgument(
            "cannot measure accuracy on a data set with no samples (inputs \(data.inputs.shapeDescription))")
    }
    var correct = 0
    for batch in try data.batches(size: batchSize) {
        let scores = try model.predict(batch.inputs)
        correct += zip(scores.argmaxPerColumn(), batch.labels).filter { $0 == $1 }.count
    }
    return data.count == 0 ? 0 : Double(correct) / Double(data.count)
}
