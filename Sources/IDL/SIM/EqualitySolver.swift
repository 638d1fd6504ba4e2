import RealModule

// torchidl's CVXSolver(regularized=False): the state equations met exactly, ℓ1 norm minimised.

/// SIM with the state equations as constraints instead of a squared error (torchidl's
/// `CVXSolver(regularized=False)`): for every target row t,
///
///     minimise ‖w‖₁  subject to  Mᵀw = t  (and ‖a‖₁ ≤ κ in stage 1)
///
/// with M = [X; U] and w = (a, b). When the equations have no exact solution — states recorded
/// in floating point never fit a linear model exactly when m > n + p — the constraint is read
/// as "w is a least-squares solution", G w = M t with G = M Mᵀ, which is the same set whenever
/// Mᵀw = t is solvable and is never empty. (cvxpy reports such a problem infeasible.)
///
/// **Method.** Douglas–Rachford splitting between the affine set S = {w : G w = M t} and
/// g(w) = ‖w‖₁ + indicator(‖a‖₁ ≤ κ) (+ a_j = 0 for j ≤ i under the triangular structure):
/// y = P_S(z), x = prox_{γg}(2y − z), z ← z + x − y. The projection P_S(v) = v − G⁺(G v − M t)
/// uses one eigendecomposition of G (eigenvalues below `rankTolerance`·λ_max count as zero), so
/// an iteration is two matrix products for all rows of a stage at once; the prox is soft
/// thresholding by γ followed by the ℓ1-ball projection of the a-block. Each row stops when
/// ‖x − y‖∞ ≤ `tolerance`·max(1, ‖y‖∞). The returned row is x: it meets the ball and the
/// triangular structure exactly and has exact zeros; its equations hold to the reported
/// residual. When the ball and S do not meet (the states cannot be matched with ‖a‖₁ ≤ κ) the
/// row does not converge and a warning says how many rows were affected.
///
/// Row statistics: objective ‖w‖₁, gap NaN (no certificate), the iterations, and whether the
/// stopping rule was met. λ is not used (only the ℓ1 norm's minimiser matters).
public struct SIMEqualitySolver: SIMSolver {
    /// "exact state equations, minimum ℓ1".
    public var name: String { "exact state equations, minimum ℓ1" }
    /// Not used: 0.
    public var lambdaState: Double { 0 }
    /// Not used: 0.
    public var lambdaOutput: Double { 0 }
    /// The stage-1 constraint (torchidl's `well_pose`, `kappa`).
    public var wellPosedness: SIMWellPosedness
    /// Relative stopping tolerance on ‖x − y‖∞.
    public var tolerance: Double
    /// Douglas–Rachford iteration budget per stage.
    public var maxIterations: Int
    /// Eigenvalues of G below this share of the largest count as zero (the rank of [X; U]).
    public var rankTolerance: Double
    /// Entries with |w| < zeroThreshold become exact zeros (torchidl's `tol`, default there 1e-6).
    public var zeroThreshold: Double
    /// Whether stage 2 uses states regenerated with the fitted (A, B).
    public var regenerateStates: Bool
    /// Tolerance and Picard budget of the state regeneration (torchidl's `atol`).
    public var equilibrium = SIMEquilibriumSettings()

    /// A solver with the given settings (see the properties).
    public init(
        wellPosedness: SIMWellPosedness = .infinityNorm(kappa: 0.99), tolerance: Double = 1e-8,
        maxIterations: Int = 20_000, rankTolerance: Double = 1e-12, zeroThreshold: Double = 1e-6,
        regenerateStates: Bool = false
    ) {
        self.wellPosedness = wellPosedness
        self.tolerance = tolerance
        self.maxIterations = maxIterations
        self.rankTolerance = rankTolerance
        self.zeroThreshold = zeroThreshold
        self.regenerateStates = regenerateStates
    }

    /// Solves every row of `targets` (see the type's documentation); `lambda` is ignored.
    /// - Throws: ``IDLError/shapeMismatch(_:)`` for different sample counts or n > rows of M;
    ///   ``IDLError/invalidArgument(_:)`` for a non-positive tolerance or budget, a rank
    ///   tolerance outside (0, 1) or an invalid κ; ``IDLError/nonFinite(_:)`` for NaN or ±∞
    ///   data; ``IDLError/numerical(_:)`` if the eigendecomposition fails.
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
        guard tolerance > 0, maxIterations > 0, rankTolerance > 0, rankTolerance < 1 else {
            throw IDLError.invalidArgument(
                "the equality solver needs tolerance > 0, maxIterations > 0 and rankTolerance in (0, 1), got \(tolerance), \(maxIterations), \(rankTolerance)"
            )
        }
        guard features.isFinite, targets.isFinite else {
            throw IDLError.nonFinite("the features [X; U] or the targets hold NaN or infinite values")
        }
        let d = features.rows
        let rowCount = targets.rows
        let (values, vectorsOrNil) = try matmul(features, features, transposeB: true).symmetricEigen()
        let vectors = vectorsOrNil!
        let top = values.last ?? 0
        let kept = (0..<d).filter { values[$0] > T(rankTolerance) * top && values[$0] > 0 }
        let basis = vectors.columns(at: kept)  // d × r, an orthonormal basis of range(G)
        let r = kept.count
        // w₀ = G⁺ M t for every row (d × rows): the minimum-norm least-squares solutions.
        var projected = matmul(basis, matmul(features, targets, transposeB: true), transposeA: true)  // r × rows
        for k in 0..<r {
            let inverse = 1 / values[kept[k]]
            for i in 0..<rowCount { projected[k, i] *= inverse }
        }
        let minimumNorm = matmul(basis, projected)
        /// P_S(v) = v − V_r V_rᵀ v + w₀, in place on the d × rows matrix.
        func projectOntoS(_ v: inout Matrix<T>) {
            let coefficients = matmul(basis, v, transposeA: true)
            gemm(basis, coefficients, into: &v, alpha: -1, beta: 1)
            for k in 0..<v.count { v.storage[k] += minimumNorm.storage[k] }
        }
        // γ of the prox: the mean magnitude of the minimum-norm solutions (scale-free).
        var meanMagnitude: T = 0
        for v in minimumNorm.storage { meanMagnitude += abs(v) }
        let gamma = Swift.max(meanMagnitude / T(Swift.max(1, minimumNorm.count)), T.leastNormalMagnitude.squareRoot())
        let (radius, triangular) = constraint.rowConstraint(as: T.self)
        var scratch = [T](repeating: 0, count: Swift.max(1, n))

        var z = minimumNorm
        var y = z
        var x = z
        var active = [Bool](repeating: true, count: rowCount)
        var iterations = [Int](repeating: 0, count: rowCount)
        var iteration = 0
        while iteration < maxIterations && active.contains(true) {
            iteration += 1
            y = z
            projectOntoS(&y)
            for i in 0..<rowCount where active[i] {
                let base = i * d
                for j in 0..<d {
                    let v = 2 * y.storage[base + j] - z.storage[base + j]
                    x.storage[base + j] = v > gamma ? v - gamma : (v < -gamma ? v + gamma : 0)
                }
                let fixed = triangular ? Swift.min(i + 1, n) : 0
                for j in 0..<fixed { x.storage[base + j] = 0 }
                if radius.isFinite && n > 0 {
                    x.storage.withUnsafeMutableBufferPointer { p in
                        scratch.withUnsafeMutableBufferPointer { s in
                            projectOntoL1BallInPlace(
                                UnsafeMutableBufferPointer(start: p.baseAddress! + base, count: n), radius: radius,
                                scratch: s.baseAddress!)
                        }
                    }
                }
                var difference: T = 0
                var size: T = 0
                for j in 0..<d {
                    let e = x.storage[base + j] - y.storage[base + j]
                    z.storage[base + j] += e
                    difference = Swift.max(difference, abs(e))
                    size = Swift.max(size, abs(y.storage[base + j]))
                }
                iterations[i] = iteration
                if difference <= T(tolerance) * Swift.max(1, size) { active[i] = false }
            }
        }
        var weights = x.transposed
        applyZeroThreshold(&weights, zeroThreshold)
        progress?(rowCount)
        var residuals = targets
        gemm(weights, features, into: &residuals, alpha: -1, beta: 1)
        var worstResidual = 0.0
        let rows = (0..<rowCount).map { i -> SIMRowStatistics in
            var l1 = 0.0
            for j in 0..<d { l1 += Double(abs(weights[i, j])) }
            for j in 0..<targets.cols { worstResidual = Swift.max(worstResidual, Double(abs(residuals[i, j]))) }
            return SIMRowStatistics(iterations: iterations[i], objective: l1, gap: .nan, converged: !active[i])
        }
        var warnings: [String] = []
        let stuck = active.filter { $0 }.count
        if stuck > 0 {
            warnings.append(
                "\(stuck) of \(rowCount) rows did not settle in \(maxIterations) iterations: the state equations may not be satisfiable within the constraint (largest equation residual \(formatScalar(worstResidual)))"
            )
        }
        if r < d {
            warnings.append("[X; U] has rank \(r) < \(d): the ℓ1 norm picked one of many exact solutions")
        }
        return SIMStageResult(weights: weights, rows: rows, warnings: warnings)
    }
}
