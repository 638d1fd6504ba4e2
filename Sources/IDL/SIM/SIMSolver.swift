import Foundation
import RealModule

// The two-stage SIM fit shared by all row-wise solvers.

/// A thread-safe counter of solved rows that forwards progress.
final class SIMRowCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var done = 0
    private let report: (@Sendable (Int) -> Void)?

    init(_ report: (@Sendable (Int) -> Void)?) { self.report = report }

    func add(_ k: Int = 1) {
        guard let report else { return }
        lock.lock()
        done += k
        let now = done
        lock.unlock()
        report(now)
    }
}

/// Seconds elapsed since `start`.
func secondsSince(_ start: ContinuousClock.Instant) -> Double {
    let d = ContinuousClock.now - start
    return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
}

/// Checks the hyperparameters every solver shares.
func validateSIMHyperparameters(
    lambdaState: Double, lambdaOutput: Double, zeroThreshold: Double,
    wellPosedness: SIMWellPosedness
) throws {
    try wellPosedness.validate()
    for (name, v) in [("lambdaState (λ of stage 1)", lambdaState), ("lambdaOutput (λ of stage 2)", lambdaOutput)]
    where !(v >= 0 && v.isFinite) {
        throw IDLError.invalidArgument("\(name) must be finite and ≥ 0, got \(v)")
    }
    guard zeroThreshold >= 0, zeroThreshold.isFinite else {
        throw IDLError.invalidArgument("zeroThreshold must be finite and ≥ 0, got \(zeroThreshold)")
    }
}

/// Sets entries with |w| < threshold to exact zero; returns how many changed.
@discardableResult
func applyZeroThreshold<T: BLASScalar>(_ w: inout Matrix<T>, _ threshold: Double) -> Int {
    guard threshold > 0 else { return 0 }
    let t = T(threshold)
    var changed = 0
    w.storage.withUnsafeMutableBufferPointer { p in
        for k in p.indices where p[k] != 0 && abs(p[k]) < t {
            p[k] = 0
            changed += 1
        }
    }
    return changed
}

/// Whether the fitted A meets the constraint (‖A‖∞ ≤ κ up to rounding, or strictly upper
/// triangular).
func simWellPosednessHolds<T: BLASScalar>(_ a: Matrix<T>, _ w: SIMWellPosedness) -> Bool {
    switch w {
    case .unconstrained:
        return true
    case .infinityNorm(let kappa):
        return Double(a.infinityNorm) <= kappa * (1 + 64 * Double(T.ulpOfOne))
    case .strictlyUpperTriangular:
        for j in 0..<a.cols {
            for i in j..<a.rows where a[i, j] != 0 { return false }
        }
        return true
    }
}

extension SIMSolver {
    /// The default regeneration settings: tolerance 1e-10 relative to the states' scale, 2 000
    /// Picard iterations.
    public var equilibrium: SIMEquilibriumSettings { SIMEquilibriumSettings() }

    /// The two-stage SIM fit.
    ///
    /// 1. (A, B): for each row z of Z, ``fitStage(features:targets:stateCount:lambda:constraint:progress:)``
    ///    on [X; U] with `lambdaState` and `wellPosedness`.
    /// 2. If `regenerateStates`, X ← the equilibrium of X = φ(A X + B U) with the fitted
    ///    A, B and the states' activation φ
    ///    (``simEquilibrium(A:B:inputs:activation:tolerance:maxIterations:)``, with the solver's
    ///    ``SIMSolver/equilibrium`` settings); a warning is added if it does not converge.
    /// 3. (C, D): for each row y of Y, the same row problem with `lambdaOutput` and no constraint.
    ///
    /// Progress counts rows over both stages (n + q in all).
    /// - Throws: ``IDLError/invalidArgument(_:)`` for κ ∉ (0, 1), negative λ or threshold, or a
    ///   fit too large for the memory available (``MemoryEstimate/sim(stateCount:inputCount:outputCount:sampleCount:scalarSize:threads:)``),
    ///   and whatever the stage solver throws.
    public func fit<T: BLASScalar>(_ states: SIMStates<T>, progress: SIMProgress? = nil) throws -> SIMFit<T> {
        try runTwoStageSIM(self, states, progress: progress) { f, t, n, l, c, _, p in
            try fitStage(features: f, targets: t, stateCount: n, lambda: l, constraint: c, progress: p)
        }
    }
}

/// The two-stage fit of ``SIMSolver/fit(_:progress:)`` with a given stage solver.
func runTwoStageSIM<T: BLASScalar, S: SIMSolver>(
    _ solver: S, _ states: SIMStates<T>, progress: SIMProgress?,
    stage: (Matrix<T>, Matrix<T>, Int, Double, SIMWellPosedness, Int, (@Sendable (Int) -> Void)?) throws ->
        SIMStageResult<T>
) throws -> SIMFit<T> {
    let lambdaState = solver.lambdaState
    let lambdaOutput = solver.lambdaOutput
    let wellPosedness = solver.wellPosedness
    let zeroThreshold = solver.zeroThreshold
    let regenerateStates = solver.regenerateStates
    try validateSIMHyperparameters(
        lambdaState: lambdaState, lambdaOutput: lambdaOutput,
        zeroThreshold: zeroThreshold, wellPosedness: wellPosedness)
    let n = states.stateCount
    let p = states.inputCount
    let q = states.outputCount
    let total = n + q
    var need = MemoryEstimate.sim(
        stateCount: n, inputCount: p, outputCount: q, sampleCount: states.sampleCount,
        scalarSize: MemoryLayout<T>.size)
    need.parts.removeFirst()  // the states themselves are already in memory
    try need.check()
    var report = SIMReport()

    let start1 = ContinuousClock.now
    let features1 = Matrix.vcat([states.states, states.inputs])
    let stage1 = try stage(
        features1, states.preActivations, n, lambdaState, wellPosedness, 1,
        progress.map { cb in { @Sendable k in cb(k, total) } })
    report.stage1Seconds = secondsSince(start1)
    let a = stage1.weights.columns(0..<n)
    let b = stage1.weights.columns(n..<(n + p))

    var x = states.states
    if regenerateStates {
        let startR = ContinuousClock.now
        let settings = solver.equilibrium
        let tolerance = settings.tolerance ?? 1e-10 * Swift.max(1, Double(states.states.maxAbs))
        let eq = try simEquilibrium(
            A: a, B: b, inputs: states.inputs, activation: states.activation, tolerance: tolerance,
            maxIterations: settings.maxIterations)
        if !eq.converged {
            report.warnings.append(
                "state regeneration: Picard did not converge in \(eq.iterations) iterations (last change \(eq.residual)); stage 2 used the last iterate"
            )
        }
        x = eq.states
        report.regenerationIterations = eq.iterations
        report.regenerationSeconds = secondsSince(startR)
    }

    let start2 = ContinuousClock.now
    let features2 = Matrix.vcat([x, states.inputs])
    let stage2 = try stage(
        features2, states.outputs, n, lambdaOutput, .unconstrained, 2,
        progress.map { cb in { @Sendable k in cb(n + k, total) } })
    report.stage2Seconds = secondsSince(start2)
    let c = stage2.weights.columns(0..<n)
    let d = stage2.weights.columns(n..<(n + p))

    report.rowsSolved = (stage1.weights.rows, stage2.weights.rows)
    report.stage1Rows = stage1.rows
    report.stage2Rows = stage2.rows
    report.objectiveTraces = (stage1.objectiveTrace, stage2.objectiveTrace)
    let gaps = (stage1.rows + stage2.rows).map(\.gap).filter { !$0.isNaN }
    report.maxGap = gaps.max() ?? .nan
    report.unconvergedRows = (stage1.rows + stage2.rows).filter { !$0.converged }.count
    report.infinityNormA = Double(a.infinityNorm)
    report.wellPosednessMet = simWellPosednessHolds(a, wellPosedness)
    report.zeros = (a.zeroCount, b.zeroCount, c.zeroCount, d.zeroCount)
    report.totalEntries = a.count + b.count + c.count + d.count
    report.warnings += stage1.warnings.map { "stage 1 (A, B): " + $0 } + stage2.warnings.map { "stage 2 (C, D): " + $0 }
    if report.unconvergedRows > 0 {
        report.warnings.append("\(report.unconvergedRows) row(s) did not meet the solver's stopping rule")
    }
    if !report.wellPosednessMet {
        report.warnings.append("the fitted A does not meet \(wellPosedness) (‖A‖∞ = \(report.infinityNormA))")
    }
    return SIMFit(A: a, B: b, C: c, D: d, report: report)
}
