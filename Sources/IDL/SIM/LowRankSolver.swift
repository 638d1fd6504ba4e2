import RealModule

// torchidl's ProjectedGDLowRankSolver: A = L Rᵀ, fitted by Adam with ℓ1-ball projections.

/// torchidl's `ProjectedGDLowRankSolver`: stage 1 fits A = L Rᵀ (L, R ∈ ℝ^{n×r}) and B by
/// projected gradient descent (Adam), stage 2 fits (C, D) by least squares.
///
/// **Stage 1.** Minimise the mean squared error plus Frobenius penalties,
///
///     f(L, R, B) = (1/(n·m))‖L Rᵀ X + B U − Z‖²_F + λ(‖L‖_F + ‖R‖_F)
///
/// (torchidl's `F.mse_loss` + `λ·torch.norm(L)` + `λ·torch.norm(R)`), one Adam step per epoch on
/// the whole data, followed by the projection of every row of L and every row of Rᵀ onto the ℓ1
/// ball of radius κ. Then ‖A‖∞ ≤ ‖L‖∞‖Rᵀ‖∞ ≤ κ² < κ: the fit is well posed by construction.
/// Gradients use the Gram form: with W = [L Rᵀ, B] and M = [X; U], ∇_W of the squared error is
/// (2/(n·m))(W G − Z Mᵀ), G = M Mᵀ formed once, so an epoch costs O(n·d²), not O(n·d·m).
/// L, R, B start from N(0, 1) entries (seeded), as torchidl's `torch.randn`.
///
/// **Stage 2.** Least squares, as torchidl (``SIMLeastSquaresSolver``), with the zero threshold.
///
/// Only `.infinityNorm(κ)` and `.unconstrained` (no projection) are supported for stage 1; the
/// triangular structure does not fit a low-rank factorisation and throws.
public struct SIMLowRankSolver: SIMSolver {
    /// "projected gradient, low rank".
    public var name: String { "projected gradient, low rank" }
    /// λ of the Frobenius penalties on L and R (torchidl's `lambda_z`).
    public var lambdaState: Double
    /// Stage 2 is least squares: 0.
    public var lambdaOutput: Double { 0 }
    /// `.infinityNorm(κ)`: rows of L and of Rᵀ are projected onto the κ ball.
    public var wellPosedness: SIMWellPosedness
    /// The rank r of A (nil or ≥ n: full rank n).
    public var rank: Int?
    /// Adam steps (torchidl's `num_epoch`, default there 10 000).
    public var epochs: Int
    /// Adam learning rate (torchidl's `lr`).
    public var learningRate: Double
    /// Entries with |w| < zeroThreshold become exact zeros (torchidl's `tol`).
    public var zeroThreshold: Double
    /// Whether stage 2 uses states regenerated with the fitted (A, B).
    public var regenerateStates: Bool
    /// Tolerance and Picard budget of the state regeneration (torchidl's `atol`).
    public var equilibrium = SIMEquilibriumSettings()
    /// Seed of the N(0, 1) initialisation.
    public var seed: UInt64

    /// A low-rank solver with the given hyperparameters (see the properties).
    public init(
        rank: Int? = nil, lambdaState: Double = 1e-6, wellPosedness: SIMWellPosedness = .infinityNorm(kappa: 0.99),
        epochs: Int = 2000, learningRate: Double = 1e-3, zeroThreshold: Double = 1e-6,
        regenerateStates: Bool = false, seed: UInt64 = 0
    ) {
        self.rank = rank
        self.lambdaState = lambdaState
        self.wellPosedness = wellPosedness
        self.epochs = epochs
        self.learningRate = learningRate
        self.zeroThreshold = zeroThreshold
        self.regenerateStates = regenerateStates
        self.seed = seed
    }

    /// Stage 1 by projected Adam on (L, R, B) (targets must be n×m with n = `stateCount`, A is n×n),
    /// stage 2 by least squares. See ``fitStage(features:targets:stateCount:lambda:constraint:progress:)``.
    ///
    /// - Parameters:
    ///   - states: The recorded U, X, Z and Y.
    ///   - progress: Called with (rows done, rows in total) as rows finish, or nil.
    /// - Returns: The four matrices (A = L·Rᵀ) and the fit's report.
    /// - Throws: ``IDLError/invalidArgument(_:)`` for a negative or non-finite λ or zero
    ///   threshold, or an invalid hyperparameter of the solver; ``IDLError/shapeMismatch(_:)``,
    ///   ``IDLError/nonFinite(_:)``, ``IDLError/numerical(_:)`` or ``IDLError/unsupported(_:)``
    ///   from a stage, as ``fitStage(features:targets:stateCount:lambda:constraint:progress:)``
    ///   documents for the solver.
    public func fit<T: BLASScalar>(_ states: SIMStates<T>, progress: SIMProgress? = nil) throws -> SIMFit<T> {
        try runTwoStageSIM(self, states, progress: progress) { f, t, n, l, c, stage, p in
            if stage == 1 {
                return try fitStage(features: f, targets: t, stateCount: n, lambda: l, constraint: c, progress: p)
            }
            return try SIMLeastSquaresSolver(wellPosedness: .unconstrained, zeroThreshold: zeroThreshold)
                .fitStage(features: f, targets: t, stateCount: n, lambda: 0, constraint: .unconstrained, progress: p)
        }
    }

    /// The low-rank stage: [L Rᵀ, B] for targets (rows×m) with L rows×r, R n×r.
    /// Row statistics hold each row's ½‖t − Mᵀw‖² + λ-share as objective, gap NaN.
    /// - Throws: ``IDLError/unsupported(_:)`` for `.strictlyUpperTriangular`;
    ///   ``IDLError/invalidArgument(_:)`` for a non-positive rank, epochs or learning rate, λ < 0;
    ///   ``IDLError/shapeMismatch(_:)`` for inconsistent shapes.
    @_specialize(where T == Double)
    @_specialize(where T == Float)
    public func fitStage<T: BLASScalar>(
        features: Matrix<T>, targets: Matrix<T>, stateCount n: Int, lambda: Double,
        constraint: SIMWellPosedness, progress: (@Sendable (Int) -> Void)?
    ) throws -> SIMStageResult<T> {
        try constraint.validate()
        if constraint == .strictlyUpperTriangular {
            throw IDLError.unsupported(
                "the low-rank solver cannot impose a strictly upper triangular A; use .infinityNorm(kappa:)")
        }
        guard features.cols == targets.cols, n >= 0, n <= features.rows else {
            throw IDLError.shapeMismatch(
                "features [X; U] \(features.shapeDescription), targets \(targets.shapeDescription) and n = \(n) do not fit together"
            )
        }
        guard epochs > 0, learningRate > 0, learningRate.isFinite, lambda >= 0, lambda.isFinite, (rank ?? 1) > 0 else {
            throw IDLError.invalidArgument(
                "the low-rank solver needs rank > 0, epochs > 0, a positive learning rate and λ ≥ 0; got rank \(rank.map(String.init) ?? "full"), epochs \(epochs), lr \(learningRate), λ \(lambda)"
            )
        }
        let d = features.rows
        let p = d - n
        let rows = targets.rows
        let m = features.cols
        let r = Swift.min(rank ?? n, n)
        var radius = T.infinity
        if case .infinityNorm(let kappa) = constraint { radius = T(kappa) }

        let gram = matmul(features, features, transposeB: true)  // d×d
        let cross = matmul(targets, features, transposeB: true)  // rows×d: Z Mᵀ
        var g = SeededGenerator(seed: seed)
        var l = Matrix<T>.randomNormal(rows, r, using: &g)
        var rr = Matrix<T>.randomNormal(n, r, using: &g)
        var b = Matrix<T>.randomNormal(rows, p, using: &g)
        let scale = T(2) / T(Swift.max(1, rows * m))
        let lam = T(lambda)
        let (beta1, beta2, eps): (T, T, T) = (0.9, 0.999, 1e-8)
        let lr = T(learningRate)
        var adam = [(Matrix<T>, Matrix<T>)](
            [(l, l), (rr, rr), (b, b)].map {
                (Matrix<T>(rows: $0.0.rows, cols: $0.0.cols), Matrix<T>(rows: $0.0.rows, cols: $0.0.cols))
            })
        var w = Matrix<T>(rows: rows, cols: d)
        var scratch = [T](repeating: 0, count: Swift.max(1, Swift.max(n, r)))

        func assemble() {
            let a = matmul(l, rr, transposeB: true)  // rows×n
            w.setColumns(0, to: a)
            w.setColumns(n, to: b)
        }
        func step(_ param: inout Matrix<T>, _ grad: Matrix<T>, _ slot: Int, _ t: Int) {
            let c1 = 1 - T.pow(beta1, t)
            let c2 = 1 - T.pow(beta2, t)
            for k in 0..<param.count {
                let gk = grad.storage[k]
                adam[slot].0.storage[k] = beta1 * adam[slot].0.storage[k] + (1 - beta1) * gk
                adam[slot].1.storage[k] = beta2 * adam[slot].1.storage[k] + (1 - beta2) * gk * gk
                let mHat = adam[slot].0.storage[k] / c1
                let vHat = adam[slot].1.storage[k] / c2
                param.storage[k] -= lr * mHat / (T.sqrt(vHat) + eps)
            }
        }
        /// Projects every row of `x` onto the ℓ1 ball of radius κ.
        func projectRows(_ x: inout Matrix<T>) {
            guard radius.isFinite else { return }
            var row = [T](repeating: 0, count: x.cols)
            for i in 0..<x.rows {
                for j in 0..<x.cols { row[j] = x[i, j] }
                row.withUnsafeMutableBufferPointer { rp in
                    scratch.withUnsafeMutableBufferPointer { sp in
                        projectOntoL1BallInPlace(rp, radius: radius, scratch: sp.baseAddress!)
                    }
                }
                for j in 0..<x.cols { x[i, j] = row[j] }
            }
        }

        for epoch in 1...epochs {
            assemble()
            // ∇_W of the mean squared error: (2/(rows·m))(W G − Z Mᵀ).
            var gradW = cross
            gemm(w, gram, into: &gradW, alpha: scale, beta: -scale)
            let gradA = gradW.columns(0..<n)
            var gradL = matmul(gradA, rr)  // rows×r
            var gradR = matmul(gradA, l, transposeA: true)  // n×r
            let gradB = gradW.columns(n..<d)
            let nl = l.frobeniusNorm
            let nr = rr.frobeniusNorm
            if lam > 0 && nl > 0 { gradL.addScaled(l, lam / nl) }
            if lam > 0 && nr > 0 { gradR.addScaled(rr, lam / nr) }
            step(&l, gradL, 0, epoch)
            step(&rr, gradR, 1, epoch)
            step(&b, gradB, 2, epoch)
            // Project rows of L and rows of Rᵀ (columns of R) onto the κ ball.
            projectRows(&l)
            var rt = rr.transposed
            projectRows(&rt)
            rr = rt.transposed
        }
        assemble()
        applyZeroThreshold(&w, zeroThreshold)
        var residuals = targets
        gemm(w, features, into: &residuals, alpha: -1, beta: 1)
        let stats = (0..<rows).map { i -> SIMRowStatistics in
            var r2 = 0.0
            for j in 0..<m { r2 += Double(residuals[i, j] * residuals[i, j]) }
            return SIMRowStatistics(iterations: epochs, objective: r2 / 2, gap: .nan, converged: true)
        }
        progress?(rows)
        return SIMStageResult(
            weights: w, rows: stats,
            warnings: ["low-rank projected gradient: rank \(r), \(epochs) Adam epochs; no optimality certificate"])
    }
}
