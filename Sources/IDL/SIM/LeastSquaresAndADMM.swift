import RealModule

// torchidl's least-squares and consensus-ADMM SIM solvers, and the certificate of any candidate.

/// Objective and duality gap of each row of `weights` (rows×d) for the row problem
/// λ‖w‖₁ + ½λ₂‖w‖² + ½‖t − Mᵀw‖² under `constraint` (see ``SIMExactSolver`` for the dual).
///
/// Works for any candidate that satisfies the constraint (it is the certificate used to report
/// ADMM's answers); a candidate that violates it gets gap +∞. Needs λ > 0 or λ₂ > 0 for a
/// finite gap unless the residual's correlations vanish.
/// - Throws: ``IDLError/shapeMismatch(_:)`` for inconsistent shapes.
@_specialize(where T == Double)
@_specialize(where T == Float)
public func simRowCertificates<T: BLASScalar>(
    weights: Matrix<T>, features: Matrix<T>, targets: Matrix<T>, stateCount n: Int,
    lambda: Double, lambda2: Double = 0, constraint: SIMWellPosedness
) throws -> [(objective: Double, gap: Double)] {
    guard weights.rows == targets.rows, weights.cols == features.rows, features.cols == targets.cols,
        n >= 0, n <= features.rows
    else {
        throw IDLError.shapeMismatch(
            "certificates need weights rows×d, features d×m, targets rows×m and n ≤ d; got weights \(weights.shapeDescription), features \(features.shapeDescription), targets \(targets.shapeDescription), n = \(n)"
        )
    }
    let d = features.rows
    let m = features.cols
    let (radius, triangular) = constraint.rowConstraint(as: T.self)
    let settings = FISTASettings<T>(
        d: d, m: m, rowCount: targets.rows, n: n, radius: radius, triangular: triangular,
        lambda: T(lambda), lambda2: T(lambda2), lipschitz: 1, tolerance: 0, maxIterations: 1,
        checkInterval: 1, zeroThreshold: 0)
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
/// For all rows at once (W is d×rows, one column per row), three blocks agree on a consensus
/// W̄ with scaled duals ν₁, ν₂, ν₃:
///
///     W₁ = (G + (ρ + λ₂)I)⁻¹ (M Tᵀ + ρ(W̄ − ν₁))      least squares (+ elastic net)
///     W₂ = soft(W̄ − ν₂, λ/ρ)                          ℓ1 term
///     W₃ = Proj(W̄ − ν₃)                               a-block of each column onto the
///                                                       ℓ1 ball of radius κ (or zeros where
///                                                       the triangular option fixes them)
///     W̄ ← (W₁ + W₂ + W₃)/3,  νᵢ ← νᵢ + Wᵢ − W̄
///
/// The inverse is formed once by Cholesky, so each iteration is one gemm. Stops when the primal
/// residual (Σᵢ‖Wᵢ − W̄‖²_F)^½ and the dual residual ρ‖W̄ − W̄_prev‖_F are both below
/// tolerance·max(1, ‖W̄‖_F), or after `maxIterations`. torchidl returns W̄, which need not meet
/// ‖a‖₁ ≤ κ; here the final W̄'s a-blocks are projected, so the constraint holds exactly. Row
/// statistics carry the certified gap of the returned rows (``simRowCertificates(weights:features:targets:stateCount:lambda:lambda2:constraint:)``).
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
    /// The penalty ρ > 0; nil picks trace(G)/d, the mean eigenvalue of the Gram matrix.
    public var rho: Double?
    /// Relative tolerance on the primal and dual residuals.
    public var tolerance: Double
    /// Iteration budget (torchidl: 1000 for (A, B), 100 for (C, D)).
    public var maxIterations: Int
    /// Entries with |w| < zeroThreshold become exact zeros.
    public var zeroThreshold: Double
    /// Whether stage 2 uses states regenerated with the fitted (A, B).
    public var regenerateStates: Bool

    /// A consensus-ADMM solver with the given hyperparameters (see the properties).
    public init(
        lambdaState: Double = 1e-3, lambdaOutput: Double = 1e-3, lambda2: Double = 0,
        wellPosedness: SIMWellPosedness = .infinityNorm(kappa: 0.99), rho: Double? = nil,
        tolerance: Double = 1e-6, maxIterations: Int = 5000, zeroThreshold: Double = 0,
        regenerateStates: Bool = false
    ) {
        self.lambdaState = lambdaState
        self.lambdaOutput = lambdaOutput
        self.lambda2 = lambda2
        self.wellPosedness = wellPosedness
        self.rho = rho
        self.tolerance = tolerance
        self.maxIterations = maxIterations
        self.zeroThreshold = zeroThreshold
        self.regenerateStates = regenerateStates
    }

    /// Runs consensus ADMM on all rows of `targets` at once (see the type's documentation).
    /// - Throws: ``IDLError/shapeMismatch(_:)``, ``IDLError/invalidArgument(_:)`` for ρ ≤ 0,
    ///   λ < 0, λ₂ < 0, a non-positive tolerance or budget; ``IDLError/numerical(_:)`` if the
    ///   Cholesky factorisation fails.
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
        guard tolerance > 0, maxIterations > 0 else {
            throw IDLError.invalidArgument(
                "tolerance and maxIterations must be positive, got \(tolerance), \(maxIterations)")
        }
        let d = features.rows
        let rowCount = targets.rows
        let gram = matmul(features, features, transposeB: true)
        var trace: T = 0
        for j in 0..<d { trace += gram[j, j] }
        let rhoValue = rho ?? Swift.max(Double(trace) / Double(Swift.max(1, d)), 1e-12)
        guard rhoValue > 0, rhoValue.isFinite else {
            throw IDLError.invalidArgument("ADMM needs ρ > 0, got \(rhoValue)")
        }
        let rhoT = T(rhoValue)
        var shifted = gram
        for j in 0..<d { shifted[j, j] += rhoT + T(lambda2) }
        let inverse = try shifted.choleskySolve(Matrix<T>.identity(d))
        let linear = matmul(features, targets, transposeB: true)  // d × rows

        let (radius, triangular) = constraint.rowConstraint(as: T.self)
        var scratch = [T](repeating: 0, count: Swift.max(1, n))
        /// Projects the a-block of every column of `w` (d×rows) onto the constraint set.
        func project(_ w: inout Matrix<T>) {
            w.storage.withUnsafeMutableBufferPointer { p in
                scratch.withUnsafeMutableBufferPointer { s in
                    for i in 0..<rowCount {
                        let col = p.baseAddress! + i * d
                        let fixed = triangular ? Swift.min(i + 1, n) : 0
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
            let scale = Swift.max(1, T.sqrt(norm))
            converged = T.sqrt(primal) <= T(tolerance) * scale && rhoT * T.sqrt(dual) <= T(tolerance) * scale * rhoT
        }
        project(&avg)
        var weights = avg.transposed
        applyZeroThreshold(&weights, zeroThreshold)
        progress?(rowCount)
        let certs = try simRowCertificates(
            weights: weights, features: features, targets: targets, stateCount: n,
            lambda: lambda, lambda2: lambda2, constraint: constraint)
        let rows = certs.map {
            SIMRowStatistics(iterations: iterations, objective: $0.objective, gap: $0.gap, converged: converged)
        }
        var warnings: [String] = []
        if !converged {
            warnings.append(
                "ADMM stopped at its budget of \(maxIterations) iterations before the residuals fell below \(tolerance)"
            )
        }
        return SIMStageResult(weights: weights, rows: rows, warnings: warnings)
    }
}
