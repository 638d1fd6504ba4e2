import RealModule

// torchidl's least-squares and consensus-ADMM SIM solvers, and the certificate of any candidate.

/// Objective and duality gap of each row of `weights` (rows×d) for the row problem
/// λ‖w‖₁ + ½λ₂‖w‖² + ½‖t − Mᵀw‖² under `constraint` (see ``SIMExactSolver`` for the dual), and,
/// when `inputCap` is given, ‖w[n..<d]‖₁ ≤ `inputCap` (``SIMRowCaps``).
///
/// Works for any candidate that satisfies the constraint (it is the certificate used to report
/// ADMM's answers); a candidate that violates it gets gap +∞. Needs λ > 0 or λ₂ > 0 for a
/// finite gap unless the residual's correlations vanish.
/// - Throws: ``IDLError/shapeMismatch(_:)`` for inconsistent shapes; ``IDLError/invalidArgument(_:)``
///   for an input cap that is not finite and positive.
@_specialize(where T == Double)
@_specialize(where T == Float)
public func simRowCertificates<T: BLASScalar>(
    weights: Matrix<T>, features: Matrix<T>, targets: Matrix<T>, stateCount n: Int,
    lambda: Double, lambda2: Double = 0, constraint: SIMWellPosedness, inputCap: Double? = nil
) throws -> [(objective: Double, gap: Double)] {
    guard weights.rows == targets.rows, weights.cols == features.rows, features.cols == targets.cols,
        n >= 0, n <= features.rows
    else {
        throw IDLError.shapeMismatch(
            "certificates need weights rows×d, features d×m, targets rows×m and n ≤ d; got weights \(weights.shapeDescription), features \(features.shapeDescription), targets \(targets.shapeDescription), n = \(n)"
        )
    }
    try SIMRowCaps(d: inputCap).validate()
    let d = features.rows
    let m = features.cols
    let (radius, triangular) = constraint.rowConstraint(as: T.self)
    let settings = FISTASettings<T>(
        d: d, m: m, rowCount: targets.rows, n: n, radius: radius, triangular: triangular,
        lambda: T(lambda), lambda2: T(lambda2), lipschitz: 1, tolerance: 0, maxIterations: 1,
        checkInterval: 1, zeroThreshold: 0, inputRadius: inputCap.map { T($0) } ?? .infinity)
    // Residuals R = T − W M (rows×m) and correlations Gc = M Rᵀ (d×rows).
    var residuals = targets
    gemm(weights, features, into: &residuals, alpha: -1, beta: 1)
    let correlations = matmul(features, residuals, transposeB: true)
    let wt = weights.transposed
    var scratch = [T](repeating: 0, count: Swift.max(2, 2 * d))
    var out: [(objective: Double, gap: Double)] = []
    for i in 0..<targets.rows {
        var r2: T = 0
        for j in 0..<m { r2 += residuals[i, j] * residuals[i, j] }
        let fixed = triangular ? Swift.min(i + 1, n) : 0
        var feasible = true
        var l1: T = 0
        for j in 0..<n { l1 += abs(weights[i, j]) }
        if radius.isFinite && l1 > radius * (1 + 64 * T.ulpOfOne) { feasible = false }
        if let inputCap {
            var l1Input: T = 0
            for j in n..<d { l1Input += abs(weights[i, j]) }
            if l1Input > T(inputCap) * (1 + 64 * T.ulpOfOne) { feasible = false }
        }
        for j in 0..<fixed where weights[i, j] != 0 { feasible = false }
        let cert = wt.storage.withUnsafeBufferPointer { wp in
            correlations.storage.withUnsafeBufferPointer { gp in
                scratch.withUnsafeMutableBufferPointer { sp in
                    simRowCertificate(
                        w: wp.baseAddress! + i * d, g: gp.baseAddress! + i * d, r2: r2,
                        fixed: fixed, settings: settings, scratch: sp.baseAddress!)
                }
            }
        }
        out.append((Double(cert.objective), feasible ? Double(cert.gap) : .infinity))
    }
    return out
}

/// torchidl's `LeastSquareSolver`: [A B] = Z [X; U]⁺ and [C D] = Y [X; U]⁺, the minimum-norm
/// least-squares fits (LAPACK gelsd), followed by the zero threshold (default 1e-6 as torchidl).
///
/// **It ignores well-posedness and λ**: the fitted A may have ‖A‖∞ ≥ 1 (torchidl's MNIST fit
/// has ‖A‖∞ ≈ 16.8), so the fixed-point iteration of the implicit model may diverge. Each
/// stage result carries a warning saying so, with the ‖A‖∞ that was obtained. Row statistics
/// hold ½‖t − Mᵀw‖² as the objective, gap NaN (nothing is certified), 0 iterations.
public struct SIMLeastSquaresSolver: SIMSolver {
    /// "least squares".
    public var name: String { "least squares" }
    /// Always 0: least squares has no ℓ1 term (stage 1).
    public var lambdaState: Double { 0 }
    /// Always 0 (stage 2).
    public var lambdaOutput: Double { 0 }
    /// The constraint that was *requested*: it is not enforced, only reported on.
    public var wellPosedness: SIMWellPosedness
    /// Entries with |w| < zeroThreshold become exact zeros.
    public var zeroThreshold: Double
    /// Whether stage 2 uses states regenerated with the fitted (A, B).
    public var regenerateStates: Bool
    /// Tolerance and Picard budget of the state regeneration (torchidl's `atol`).
    public var equilibrium = SIMEquilibriumSettings()

    /// A least-squares solver; `wellPosedness` is only reported on, `zeroThreshold` as torchidl's `tol`.
    public init(
        wellPosedness: SIMWellPosedness = .infinityNorm(kappa: 0.99), zeroThreshold: Double = 1e-6,
        regenerateStates: Bool = false
    ) {
        self.wellPosedness = wellPosedness
        self.zeroThreshold = zeroThreshold
        self.regenerateStates = regenerateStates
    }

    /// Minimum-norm least squares for all rows at once: W = argmin ‖Mᵀ Wᵀ − Tᵀ‖_F.
    /// - Throws: ``IDLError/shapeMismatch(_:)`` for different sample counts,
    ///   ``IDLError/numerical(_:)`` if the SVD fails.
    public func fitStage<T: BLASScalar>(
        features: Matrix<T>, targets: Matrix<T>, stateCount: Int, lambda: Double,
        constraint: SIMWellPosedness, progress: (@Sendable (Int) -> Void)?
    ) throws -> SIMStageResult<T> {
        guard features.cols == targets.cols else {
            throw IDLError.shapeMismatch(
                "features [X; U] have \(features.cols) samples (columns) but the targets have \(targets.cols)")
        }
        guard stateCount >= 0, stateCount <= features.rows else {
            throw IDLError.shapeMismatch("stateCount n = \(stateCount) must lie in 0...\(features.rows)")
        }
        let (solution, rank) = try features.transposed.leastSquares(targets.transposed)
        var weights = solution.transposed
        applyZeroThreshold(&weights, zeroThreshold)
        var residuals = targets
        gemm(weights, features, into: &residuals, alpha: -1, beta: 1)
        let rows = (0..<targets.rows).map { i -> SIMRowStatistics in
            var r2 = 0.0
            for j in 0..<residuals.cols { r2 += Double(residuals[i, j] * residuals[i, j]) }
            return SIMRowStatistics(iterations: 0, objective: r2 / 2, gap: .nan, converged: true)
        }
        progress?(targets.rows)
        var warnings: [String] = []
        if rank < features.rows {
            warnings.append("[X; U] has rank \(rank) < \(features.rows): the minimum-norm solution was taken")
        }
        if constraint != .unconstrained {
            let a = weights.columns(0..<stateCount)
            let meets = simWellPosednessHolds(a, constraint)
            warnings.append(
                "least squares ignores well-posedness (\(constraint) requested, not enforced): ‖A‖∞ = \(formatScalar(a.infinityNorm)), constraint \(meets ? "happens to hold" : "violated")"
            )
        }
        return SIMStageResult(weights: weights, rows: rows, warnings: warnings)
    }
}

/// torchidl's `ADMMSolver` (consensus ADMM), with the constraint met exactly at the end.
///
/// For a batch of rows at once (W is d×rows, one column per row), three blocks agree on a
/// consensus W̄ with scaled duals ν₁, ν₂, ν₃:
///
///     W₁ = (G + (ρ + λ₂)I)⁻¹ (M Tᵀ + ρ(W̄ − ν₁))      least squares (+ elastic net)
///     W₂ = soft(W̄ − ν₂, λ/ρ)                          ℓ1 term
///     W₃ = Proj(W̄ − ν₃)                               a-block of each column onto the
///                                                       ℓ1 ball of radius κ (or zeros where
///                                                       the triangular option fixes them)
///     W̄ ← (W₁ + W₂ + W₃)/3,  νᵢ ← νᵢ + Wᵢ − W̄
///
/// The inverse is formed once per stage by Cholesky, so each iteration is one gemm. Target rows
/// are solved `batchFeatureSize` at a time (torchidl's `batch_feature_size`; nil: all at once),
/// which bounds the memory of the six d×rows iterates. A batch stops when the primal residual
/// (Σᵢ‖Wᵢ − W̄‖²_F)^½ and the dual residual ρ‖W̄ − W̄_prev‖_F are both below
/// tolerance·max(1, ‖W̄‖_F), or after its stage's budget (`maxIterations` for (A, B),
/// `maxIterationsOutput` for (C, D), as torchidl's `num_epoch_ab`, `num_epoch_cd`; likewise ρ
/// and `rhoOutput`). torchidl returns W̄, which need not meet ‖a‖₁ ≤ κ; here the final W̄'s
/// a-blocks are projected, so the constraint holds exactly. Row statistics carry the certified
/// gap of the returned rows (``simRowCertificates(weights:features:targets:stateCount:lambda:lambda2:constraint:inputCap:)``).
///
/// With `recordObjective`, every iteration's objective ½‖T − W̄ᵀM‖² + λ‖W̄‖₁ (+ ½λ₂‖W̄‖²),
/// summed over the batches, is kept in ``SIMStageResult/objectiveTrace`` and the fit's
/// ``SIMReport/objectiveTraces`` — torchidl's `plot_loss` curve (one more gemm per iteration).
public struct SIMADMMSolver: SIMSolver {
    /// "ADMM (consensus)".
    public var name: String { "ADMM (consensus)" }
    /// λ of stage 1 (torchidl's `lambda_z`).
    public var lambdaState: Double
    /// λ of stage 2 (torchidl's `lambda_y`).
    public var lambdaOutput: Double
    /// Elastic-net weight λ₂ ≥ 0.
    public var lambda2: Double
    /// The stage-1 constraint, met exactly by the returned A.
    public var wellPosedness: SIMWellPosedness
    /// The penalty ρ > 0 of stage 1 (torchidl's `rho_ab`, and of ``fitStage(features:targets:stateCount:lambda:constraint:progress:)``);
    /// nil picks trace(G)/d, the mean eigenvalue of the Gram matrix.
    public var rho: Double?
    /// The penalty ρ of stage 2 (torchidl's `rho_cd`); nil: the same as ``rho``.
    public var rhoOutput: Double?
    /// Relative tolerance on the primal and dual residuals.
    public var tolerance: Double
    /// Iteration budget of stage 1 (torchidl's `num_epoch_ab`, default there 1 000) and of
    /// ``fitStage(features:targets:stateCount:lambda:constraint:progress:)``.
    public var maxIterations: Int
    /// Iteration budget of stage 2 (torchidl's `num_epoch_cd`, default there 100); nil: the
    /// same as ``maxIterations``.
    public var maxIterationsOutput: Int?
    /// Target rows solved together (torchidl's `batch_feature_size`); nil: all rows at once.
    public var batchFeatureSize: Int?
    /// Entries with |w| < zeroThreshold become exact zeros.
    public var zeroThreshold: Double
    /// Whether stage 2 uses states regenerated with the fitted (A, B).
    public var regenerateStates: Bool
    /// Tolerance and Picard budget of the state regeneration (torchidl's `atol`).
    public var equilibrium = SIMEquilibriumSettings()
    /// Whether to keep the objective of every iteration (torchidl's `plot_loss`).
    public var recordObjective: Bool
    /// Which iterate to return: the consensus average W̄ (torchidl's choice, the default) or the
    /// soft-thresholded ℓ1 block W₂. W̄ averages the dense least-squares block W₁ with W₂ and
    /// W₃, so it is dense wherever W₁ is; W₂ is exactly sparse (entries below λ/ρ are zero).
    /// Either way the a-blocks are projected at the end, so the constraint holds.
    public var returnsSparseIterate = false

    /// A consensus-ADMM solver with the given hyperparameters (see the properties).
    public init(
        lambdaState: Double = 1e-3, lambdaOutput: Double = 1e-3, lambda2: Double = 0,
        wellPosedness: SIMWellPosedness = .infinityNorm(kappa: 0.99), rho: Double? = nil, rhoOutput: Double? = nil,
        tolerance: Double = 1e-6, maxIterations: Int = 5000, maxIterationsOutput: Int? = nil,
        batchFeatureSize: Int? = nil, zeroThreshold: Double = 0, regenerateStates: Bool = false,
        recordObjective: Bool = false
    ) {
        self.lambdaState = lambdaState
        self.lambdaOutput = lambdaOutput
        self.lambda2 = lambda2
        self.wellPosedness = wellPosedness
        self.rho = rho
        self.rhoOutput = rhoOutput
        self.tolerance = tolerance
        self.maxIterations = maxIterations
        self.maxIterationsOutput = maxIterationsOutput
        self.batchFeatureSize = batchFeatureSize
        self.zeroThreshold = zeroThreshold
        self.regenerateStates = regenerateStates
        self.recordObjective = recordObjective
    }

    /// The two-stage fit with stage 2's own budget and ρ (``maxIterationsOutput``, ``rhoOutput``).
    ///
    /// - Parameters:
    ///   - states: The recorded U, X, Z and Y.
    ///   - progress: Called with (rows done, rows in total) as batches finish, or nil.
    /// - Returns: The four matrices and the fit's report.
    /// - Throws: ``IDLError/invalidArgument(_:)`` for a negative or non-finite λ or zero
    ///   threshold, or an invalid hyperparameter; the errors of
    ///   ``fitStage(features:targets:stateCount:lambda:constraint:progress:)``.
    public func fit<T: BLASScalar>(_ states: SIMStates<T>, progress: SIMProgress? = nil) throws -> SIMFit<T> {
        try runTwoStageSIM(self, states, progress: progress) { f, t, n, l, c, stage, p in
            var solver = self
            if stage == 2 {
                solver.rho = rhoOutput ?? rho
                solver.maxIterations = maxIterationsOutput ?? maxIterations
            }
            return try solver.fitStage(features: f, targets: t, stateCount: n, lambda: l, constraint: c, progress: p)
        }
    }

    /// Runs consensus ADMM on the rows of `targets`, ``batchFeatureSize`` at a time (see the
    /// type's documentation), with ``rho`` and ``maxIterations``.
    /// - Throws: ``IDLError/shapeMismatch(_:)``, ``IDLError/invalidArgument(_:)`` for ρ ≤ 0,
    ///   λ < 0, λ₂ < 0, a non-positive tolerance, budget or batch size; ``IDLError/numerical(_:)``
    ///   if the Cholesky factorisation fails.
    @_specialize(where T == Double)
    @_specialize(where T == Float)
    public func fitStage<T: BLASScalar>(
        features: Matrix<T>, targets: Matrix<T>, stateCount n: Int, lambda: Double,
        constraint: SIMWellPosedness, progress: (@Sendable (Int) -> Void)?
    ) throws -> SIMStageResult<T> {
        try constraint.validate()
        guard features.cols == targets.cols else {
            throw IDLError.shapeMismatch(
                "features [X; U] have \(features.cols) samples (columns) but the targets have \(targets.cols)")
        }
        guard n >= 0, n <= features.rows else {
            throw IDLError.shapeMismatch("stateCount n = \(n) must lie in 0...\(features.rows)")
        }
        guard lambda >= 0, lambda2 >= 0, lambda.isFinite, lambda2.isFinite else {
            throw IDLError.invalidArgument("λ and λ₂ must be finite and ≥ 0, got λ = \(lambda), λ₂ = \(lambda2)")
        }
        guard tolerance > 0, maxIterations > 0, (maxIterationsOutput ?? 1) > 0, (batchFeatureSize ?? 1) > 0 else {
            throw IDLError.invalidArgument(
                "tolerance, iteration budgets and batchFeatureSize must be positive, got tolerance \(tolerance), maxIterations \(maxIterations), maxIterationsOutput \(maxIterationsOutput.map(String.init) ?? "nil"), batchFeatureSize \(batchFeatureSize.map(String.init) ?? "nil")"
            )
        }
        let d = features.rows
        let gram = matmul(features, features, transposeB: true)
        var trace: T = 0
        for j in 0..<d { trace += gram[j, j] }
        let rhoValue = rho ?? Swift.max(Double(trace) / Double(Swift.max(1, d)), 1e-12)
        guard rhoValue > 0, rhoValue.isFinite else {
            throw IDLError.invalidArgument("ADMM needs ρ > 0, got \(rhoValue)")
        }
        var shifted = gram
        for j in 0..<d { shifted[j, j] += T(rhoValue) + T(lambda2) }
        let inverse = try shifted.choleskySolve(Matrix<T>.identity(d))
        let linear = matmul(features, targets, transposeB: true)  // d × rows

        let rowCount = targets.rows
        let batch = Swift.max(1, Swift.min(batchFeatureSize ?? rowCount, rowCount))
        var weights = Matrix<T>(rows: rowCount, cols: d)
        var iterationsPerRow = [Int](repeating: 0, count: rowCount)
        var convergedPerRow = [Bool](repeating: false, count: rowCount)
        var traces: [[Double]] = []
        var start = 0
        while start < rowCount {
            let end = Swift.min(rowCount, start + batch)
            let targetRows = targets.rows(start..<end)
            let result = admmBatch(
                gram: gram, inverse: inverse, linear: linear.columns(start..<end), targets: targetRows,
                firstRow: start, n: n, lambda: lambda, rho: rhoValue, constraint: constraint,
                sparse: returnsSparseIterate)
            for i in start..<end {
                for j in 0..<d { weights[i, j] = result.weights[j, i - start] }
                iterationsPerRow[i] = result.iterations
                convergedPerRow[i] = result.converged
            }
            traces.append(result.trace)
            progress?(end)
            start = end
        }
        applyZeroThreshold(&weights, zeroThreshold)
        let certs = try simRowCertificates(
            weights: weights, features: features, targets: targets, stateCount: n,
            lambda: lambda, lambda2: lambda2, constraint: constraint)
        let rows = certs.indices.map { i in
            SIMRowStatistics(
                iterations: iterationsPerRow[i], objective: certs[i].objective, gap: certs[i].gap,
                converged: convergedPerRow[i])
        }
        var warnings: [String] = []
        if convergedPerRow.contains(false) {
            warnings.append(
                "ADMM stopped at its budget of \(maxIterations) iterations before the residuals fell below \(tolerance) (\(convergedPerRow.filter { !$0 }.count) of \(rowCount) rows)"
            )
        }
        // The objective per iteration summed over the batches (a batch that stopped early keeps
        // contributing its last value).
        let longest = traces.map(\.count).max() ?? 0
        let total = (0..<longest).map { k in
            traces.reduce(0.0) { $0 + ($1.isEmpty ? 0 : $1[Swift.min(k, $1.count - 1)]) }
        }
        return SIMStageResult(weights: weights, rows: rows, warnings: warnings, objectiveTrace: total)
    }

    /// Consensus ADMM on one batch of target rows (`linear` = M Tᵀ for them, d × rows); returns
    /// W̄ (or, with `sparse`, the last soft-thresholded block W₂) (d × rows) with its a-blocks
    /// projected, the iterations, whether the residuals met the tolerance, and the objective per
    /// iteration when ``recordObjective`` is set.
    private func admmBatch<T: BLASScalar>(
        gram: Matrix<T>, inverse: Matrix<T>, linear: Matrix<T>, targets: Matrix<T>, firstRow: Int, n: Int,
        lambda: Double, rho rhoValue: Double, constraint: SIMWellPosedness, sparse: Bool
    ) -> (weights: Matrix<T>, iterations: Int, converged: Bool, trace: [Double]) {
        let d = gram.rows
        let rowCount = linear.cols
        let rhoT = T(rhoValue)
        let (radius, triangular) = constraint.rowConstraint(as: T.self)
        var scratch = [T](repeating: 0, count: Swift.max(1, n))
        /// Projects the a-block of every column of `w` (d×rows) onto the constraint set.
        func project(_ w: inout Matrix<T>) {
            w.storage.withUnsafeMutableBufferPointer { p in
                scratch.withUnsafeMutableBufferPointer { s in
                    for i in 0..<rowCount {
                        let col = p.baseAddress! + i * d
                        let fixed = triangular ? Swift.min(firstRow + i + 1, n) : 0
                        for j in 0..<fixed { col[j] = 0 }
                        if radius.isFinite && n > 0 {
                            projectOntoL1BallInPlace(
                                UnsafeMutableBufferPointer(start: col, count: n),
                                radius: radius, scratch: s.baseAddress!)
                        }
                    }
                }
            }
        }
        // ½‖t‖² per batch, for the objective ½(‖t‖² − 2cᵀw + wᵀGw) + λ‖w‖₁ + ½λ₂‖w‖².
        var targetEnergy = 0.0
        if recordObjective { for v in targets.storage { targetEnergy += Double(v * v) } }
        var gw = Matrix<T>(rows: d, cols: rowCount)
        func objective(_ w: Matrix<T>) -> Double {
            gemm(gram, w, into: &gw)
            var quadratic = 0.0
            var l1 = 0.0
            var l2 = 0.0
            for k in 0..<w.count {
                let v = Double(w.storage[k])
                quadratic += v * (Double(gw.storage[k]) - 2 * Double(linear.storage[k]))
                l1 += abs(v)
                l2 += v * v
            }
            return 0.5 * (targetEnergy + quadratic) + lambda * l1 + 0.5 * lambda2 * l2
        }

        var avg = Matrix<T>(rows: d, cols: rowCount)
        var nu1 = avg
        var nu2 = avg
        var nu3 = avg
        var w1 = avg
        var w2 = avg
        var w3 = avg
        var rhs = avg
        let third = T(1) / 3
        let shrink = T(lambda / rhoValue)
        var iterations = 0
        var converged = false
        var trace: [Double] = []
        while iterations < maxIterations && !converged {
            iterations += 1
            // Least-squares block.
            for k in 0..<rhs.count { rhs.storage[k] = linear.storage[k] + rhoT * (avg.storage[k] - nu1.storage[k]) }
            gemm(inverse, rhs, into: &w1)
            // ℓ1 block and constraint block.
            for k in 0..<w2.count {
                let v = avg.storage[k] - nu2.storage[k]
                w2.storage[k] = v > shrink ? v - shrink : (v < -shrink ? v + shrink : 0)
                w3.storage[k] = avg.storage[k] - nu3.storage[k]
            }
            project(&w3)
            // Consensus and dual updates.
            var primal: T = 0
            var dual: T = 0
            var norm: T = 0
            for k in 0..<avg.count {
                let newAvg = (w1.storage[k] + w2.storage[k] + w3.storage[k]) * third
                let e1 = w1.storage[k] - newAvg
                let e2 = w2.storage[k] - newAvg
                let e3 = w3.storage[k] - newAvg
                nu1.storage[k] += e1
                nu2.storage[k] += e2
                nu3.storage[k] += e3
                primal += e1 * e1 + e2 * e2 + e3 * e3
                let change = newAvg - avg.storage[k]
                dual += change * change
                norm += newAvg * newAvg
                avg.storage[k] = newAvg
            }
            if recordObjective { trace.append(objective(avg)) }
            let scale = Swift.max(1, T.sqrt(norm))
            converged = T.sqrt(primal) <= T(tolerance) * scale && rhoT * T.sqrt(dual) <= T(tolerance) * scale * rhoT
        }
        if sparse {
            project(&w2)
            return (w2, iterations, converged, trace)
        }
        project(&avg)
        return (avg, iterations, converged, trace)
    }
}
