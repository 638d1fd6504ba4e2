import Dispatch
import Foundation
import RealModule

// The exact row solver of SIM: accelerated proximal gradient with a duality-gap certificate.

/// Solves SIM's row problems exactly: accelerated proximal gradient (FISTA with adaptive
/// restart) on the Gram matrix, stopped by a duality-gap certificate.
///
/// **Row problem.** With M = [X; U] ((n+p)×m) and a target row t (m values), over w = (a, b):
///
///     P(w) = ½‖t − Mᵀw‖² + λ‖w‖₁ + ½λ₂‖w‖²   subject to  ‖a‖₁ ≤ κ
///
/// (stage 1 with `.infinityNorm(κ)`; with `.strictlyUpperTriangular` row i's a has
/// a_j = 0 for j ≤ i and no ball; stage 2 is unconstrained). ``caps`` adds ‖b‖₁ ≤ cap_b in
/// stage 1 and ‖a‖₁ ≤ cap_c, ‖b‖₁ ≤ cap_d in stage 2 (there a, b stand for c, d).
///
/// **Iteration.** G = M Mᵀ and c = M t are formed once (one gemm for all rows: M·Targetsᵀ).
/// With L = λ_max(G) + λ₂, w⁺ = prox(y − (G y − c + λ₂ y)/L), where the prox is soft
/// thresholding by λ/L on every coordinate followed by the projection of the a-block onto the
/// ℓ1 ball of radius κ (the exact prox of λ‖a‖₁ + indicator(‖a‖₁ ≤ κ)), and of the b-block onto
/// its own ball when it is capped (the prox is separable over the two blocks). Momentum is
/// restarted when (y − w⁺)ᵀ(w⁺ − w) > 0 (O'Donoghue & Candès). Rows are solved in blocks so that
/// the Gram products are one product per block and iteration (G w is kept alongside w, so G y
/// costs no extra product). The product touches only the nonzeros of the new iterates (soft
/// thresholding makes most coordinates exact zeros — on the SIM benchmark a third of them in
/// stage 1): G's columns at those coordinates, read where G lies, with no packing of G (a gemm
/// would copy all of G at every iteration). Each row's G w is its own sum in coordinate order,
/// so its bits do not depend on which rows share its block, and each row starts from w = 0 and
/// checks its gap on its own schedule (every ``gapCheckInterval`` of its own iterations). One
/// lane per worker of ``ThreadPolicy`` iterates up to k rows together and takes the next row
/// (in index order) whenever one of its rows finishes, so the work stays balanced; since a
/// row's arithmetic depends only on the row, neither the number of workers, the lane a row
/// lands in, nor their timing changes a bit: the weights are bitwise the same for any thread
/// count.
///
/// **Deflated metric.** Non-centred data (pixels, ReLU states ≥ 0) give G one eigenvalue far
/// above the rest (≈ 290× on MNIST-sized random data), and 1/λ_max steps crawl. When
/// λ₁ > 4λ₂, steps are taken in the metric H = αI + βvvᵀ with v the top eigenvector,
/// α = λ₂(G) + λ₂ and α + β = λ₁(G) + λ₂, so H ⪰ G + λ₂I still majorises the smooth part:
/// u = y − H⁻¹∇f(y) with H⁻¹ = (I − β/(α+β)·vvᵀ)/α, and the prox in the H-metric,
/// x = argmin h(x) + ½‖x − u‖²_H, is x(t) = prox_{h/α}(u − (β/α)t·v) at the root of the
/// increasing function φ(t) = t − vᵀ(x(t) − u) (slope in [1, 1 + β/α]), found by safeguarded
/// Newton steps (φ is piecewise linear), warm-started from the previous iteration.
///
/// **Jacobi scaling** (``scaleByGramDiagonal``, on by default). Features of very different
/// scales (the states of a rescaled teacher's layers differ by 10⁴ in G's diagonal) leave the
/// small ones crawling with any αI metric. Where thousands of pixel features of like scale
/// dominate and there are fewer samples than features (CIFAR-sized inputs), the scaled metric
/// was measured to need several times more iterations than the unscaled one: turn it off there. With h_j = G_jj + λ₂ and D = diag(h), the metric is
/// H = αD + β(D^{1/2}z)(D^{1/2}z)ᵀ from the spectrum σ₁ ≥ σ₂ of S = D^{-1/2}(G + λ₂I)D^{-1/2}
/// (z its top vector; α = σ₂, α + β = σ₁ when σ₁ > 4σ₂, else α = σ₁, β = 0), which majorises
/// G + λ₂I. The prox in diag(αh) shrinks coordinate j by λ/(αh_j) and projects onto the ℓ1
/// ball in that metric (x_j = sign·max(|v_j| − τ/(αh_j), 0), τ by Newton steps from 0); the
/// rank-one part is handled as above, with the direction D⁻¹U. On the SIM benchmark this cuts
/// the iterations about threefold. The certificate does not depend on the metric.
///
/// **Certificate.** From the residual r = t − Mᵀw and g = M r, the Fenchel dual of the row
/// problem, D(ρ) = ρᵀt − ½‖ρ‖² − H*(Mρ) with H(w) = λ‖w‖₁ + ½λ₂‖w‖² + indicator(‖a‖₁ ≤ κ), is
/// evaluated at ρ = s·r. Without λ₂: H*(s) = κ·max(0, ‖s_a‖∞ − λ) on the ball block (the
/// dual norm term of the constraint), cap_b·max(0, ‖s_b‖∞ − λ) on a capped b-block, and the
/// indicator of ‖s_j‖∞ ≤ λ on unconstrained coordinates, so s ∈ [0, λ/‖g_free‖∞] and the best s
/// on that segment is taken (a 1-D piecewise quadratic: its breakpoints and the stationary
/// point of each piece are tried). With λ₂ > 0, s = 1 and H* is finite everywhere (each ball
/// block uses the maximiser sign(g)·Proj_r((|g| − λ)₊/λ₂), r its radius). The gap
/// P(w) − D(s·r) ≥ 0 bounds P(w) − P*; the row has converged when gap ≤ tolerance·max(1, |P(w)|).
/// Gaps are screened cheaply in Gram form and confirmed from the true residual (two gemv with
/// M). Rounding can make the computed gap slightly negative; such values are reported as 0.
///
/// **Requirements.** λ > 0 or λ₂ > 0 (with λ = λ₂ = 0 the dual has no feasible scaling of the
/// residual unless it is exactly 0; use ``SIMLeastSquaresSolver``). For `Float`, gaps below about
/// 1e-5 relative are not reachable; use `Double` for certificates.
public struct SIMExactSolver: SIMSolver {
    /// "exact (FISTA + duality gap)".
    public var name: String { "exact (FISTA + duality gap)" }
    /// λ of stage 1 (A, B).
    public var lambdaState: Double
    /// λ of stage 2 (C, D).
    public var lambdaOutput: Double
    /// Elastic-net weight λ₂ ≥ 0 (both stages): adds ½λ₂‖w‖².
    public var lambda2: Double
    /// λ₂ of stage 2 when it differs from stage 1's (torchidl's elastic net weighs each stage by
    /// its own λ: see ``torchidlElasticNet(lambdaState:lambdaOutput:l1Ratio:)``); nil: ``lambda2``.
    public var lambda2Output: Double? = nil
    /// The stage-1 constraint; default ‖A‖∞ ≤ 0.99.
    public var wellPosedness: SIMWellPosedness
    /// Relative duality-gap tolerance: stop when gap ≤ tolerance·max(1, |P|).
    public var tolerance: Double
    /// Iteration budget per row; rows that hit it are returned with `converged == false`.
    public var maxIterations: Int
    /// Entries with |w| < zeroThreshold become exact zeros (the reported gap is that of the
    /// thresholded coefficients).
    public var zeroThreshold: Double
    /// Whether stage 2 uses states regenerated with the fitted (A, B).
    public var regenerateStates: Bool
    /// Tolerance and Picard budget of the state regeneration (torchidl's `atol`).
    public var equilibrium = SIMEquilibriumSettings()
    /// Iterations between gap screenings (≥ 1).
    public var gapCheckInterval: Int
    /// Rows iterated together by one lane (the width of the Gram product): nil, ⌈rows / workers⌉
    /// up to 32. A distributed fit splits the rows among ranks in blocks of this many rows (nil:
    /// ⌈rows / 8⌉ clamped to 4...32). Any value gives bitwise the same weights (a row's
    /// arithmetic does not depend on the rows beside it); it changes the speed only.
    public var rowsPerBlock: Int?
    /// Whether to take steps in the metric H = αI + βvvᵀ that deflates an outlying top
    /// eigenvalue of G (see the type's documentation). Off: plain FISTA with L = λ_max(G) + λ₂.
    public var deflateTopEigenvalue: Bool
    /// Whether the step metric is scaled by G's diagonal (Jacobi): H = α·diag(h) (+ the
    /// deflated top direction) with h_j = G_jj + λ₂, so that features of very different scales
    /// (ReLU states of different layers, pixels) take steps of their own size. See the type's
    /// documentation. Off: the metric αI (+ βvvᵀ). The certificate is the same either way.
    public var scaleByGramDiagonal: Bool
    /// Per-row ℓ1 caps on B, C and D for fits aimed at robustness (none by default): see
    /// ``SIMRowCaps``. Stage 1 adds ‖bᵢ‖₁ ≤ `caps.b` to each row problem, stage 2 ‖cᵢ‖₁ ≤ `caps.c`
    /// and ‖dᵢ‖₁ ≤ `caps.d`; each is one more ℓ1 ball in the prox and one more
    /// r·max(0, ‖s_block‖∞ − λ) term in the certificate's conjugate.
    public var caps = SIMRowCaps()

    /// A solver with the given hyperparameters (see the properties). The default tolerance,
    /// 1e-6, certifies every row's objective within 1e-6 relative of its optimum.
    public init(
        lambdaState: Double = 1e-3, lambdaOutput: Double = 1e-3, lambda2: Double = 0,
        wellPosedness: SIMWellPosedness = .infinityNorm(kappa: 0.99),
        tolerance: Double = 1e-6, maxIterations: Int = 20_000, zeroThreshold: Double = 0,
        regenerateStates: Bool = false, gapCheckInterval: Int = 5, rowsPerBlock: Int? = nil,
        deflateTopEigenvalue: Bool = true, scaleByGramDiagonal: Bool = true
    ) {
        self.lambdaState = lambdaState
        self.lambdaOutput = lambdaOutput
        self.lambda2 = lambda2
        self.wellPosedness = wellPosedness
        self.tolerance = tolerance
        self.maxIterations = maxIterations
        self.zeroThreshold = zeroThreshold
        self.regenerateStates = regenerateStates
        self.gapCheckInterval = gapCheckInterval
        self.rowsPerBlock = rowsPerBlock
        self.deflateTopEigenvalue = deflateTopEigenvalue
        self.scaleByGramDiagonal = scaleByGramDiagonal
    }

    /// Solves every row of `targets` (rows×m) against `features` M ((n+p)×m): see the type's
    /// documentation for the problem, the iteration and the certificate.
    /// - Throws: ``IDLError/shapeMismatch(_:)`` for different sample counts or n > rows of M;
    ///   ``IDLError/invalidArgument(_:)`` for λ < 0, λ₂ < 0, λ = λ₂ = 0, a non-positive
    ///   tolerance or budget, or an invalid κ; ``IDLError/nonFinite(_:)`` for NaN/∞ data;
    ///   ``IDLError/numerical(_:)`` if the eigenvalue computation fails.
    public func fitStage<T: BLASScalar>(
        features: Matrix<T>, targets: Matrix<T>, stateCount: Int, lambda: Double,
        constraint: SIMWellPosedness, progress: (@Sendable (Int) -> Void)?
    ) throws -> SIMStageResult<T> {
        try fitStage(
            features: features, targets: targets, stateCount: stateCount, lambda: lambda,
            constraint: constraint, progress: progress, cache: nil)
    }

    /// One stage with per-row ℓ1 caps beside `constraint`: every row's state block (its first
    /// `stateCount` coefficients) also in the ℓ1 ball of radius `stateCap`, its input block (the
    /// rest) in the ball of radius `inputCap` (nil: no cap). See the type's documentation and
    /// ``SIMRowCaps``.
    /// - Throws: As ``fitStage(features:targets:stateCount:lambda:constraint:progress:)``, and
    ///   ``IDLError/invalidArgument(_:)`` for a cap that is not finite and positive.
    public func fitStage<T: BLASScalar>(
        features: Matrix<T>, targets: Matrix<T>, stateCount: Int, lambda: Double,
        constraint: SIMWellPosedness, stateCap: Double?, inputCap: Double?, progress: (@Sendable (Int) -> Void)?
    ) throws -> SIMStageResult<T> {
        try fitStage(
            features: features, targets: targets, stateCount: stateCount, lambda: lambda,
            constraint: constraint, progress: progress, cache: nil, stateCap: stateCap, inputCap: inputCap)
    }

    /// The two-stage fit of ``SIMSolver/fit(_:progress:)``, computing G and its spectrum once
    /// when stage 2 uses the same features as stage 1 (no state regeneration).
    ///
    /// - Parameters:
    ///   - states: The recorded U, X, Z and Y.
    ///   - progress: Called with (rows done, rows in total) as rows finish, or nil.
    /// - Returns: The four matrices and the fit's report.
    /// - Throws: ``IDLError/invalidArgument(_:)`` for a negative or non-finite λ or zero
    ///   threshold, or an invalid hyperparameter of the solver; ``IDLError/shapeMismatch(_:)``,
    ///   ``IDLError/nonFinite(_:)``, ``IDLError/numerical(_:)`` or ``IDLError/unsupported(_:)``
    ///   from a stage, as ``fitStage(features:targets:stateCount:lambda:constraint:progress:)``
    ///   documents for the solver.
    @_specialize(where T == Double)
    @_specialize(where T == Float)
    public func fit<T: BLASScalar>(_ states: SIMStates<T>, progress: SIMProgress? = nil) throws -> SIMFit<T> {
        let cache = SIMGramCache<T>()
        try caps.validate()
        return try runTwoStageSIM(self, states, progress: progress) { f, t, n, l, c, stage, p in
            try fitStage(
                stage, features: f, targets: t, stateCount: n, lambda: l, constraint: c, progress: p, cache: cache)
        }
    }

    /// Stage `stage` of the two-stage fit (1: A, B; 2: C, D) with the settings this solver gives
    /// that stage: stage 2's own λ₂ (``lambda2Output``) and the stage's row caps (B in stage 1;
    /// C and D in stage 2). `share` picks the row blocks solved (all of them by default).
    func fitStage<T: BLASScalar>(
        _ stage: Int, features: Matrix<T>, targets: Matrix<T>, stateCount: Int, lambda: Double,
        constraint: SIMWellPosedness, progress: (@Sendable (Int) -> Void)?, cache: SIMGramCache<T>?,
        share: SIMRowShare = .whole
    ) throws -> SIMStageResult<T> {
        var solver = self
        if stage == 2, let lambda2Output { solver.lambda2 = lambda2Output }
        return try solver.fitStage(
            features: features, targets: targets, stateCount: stateCount, lambda: lambda, constraint: constraint,
            progress: progress, cache: cache, stateCap: stage == 2 ? caps.c : nil,
            inputCap: stage == 2 ? caps.d : caps.b, share: share)
    }

    @_specialize(where T == Double)
    @_specialize(where T == Float)
    func fitStage<T: BLASScalar>(
        features: Matrix<T>, targets: Matrix<T>, stateCount: Int, lambda: Double,
        constraint: SIMWellPosedness, progress: (@Sendable (Int) -> Void)?, cache: SIMGramCache<T>?,
        stateCap: Double? = nil, inputCap: Double? = nil, share: SIMRowShare = .whole
    ) throws -> SIMStageResult<T> {
        try constraint.validate()
        try SIMRowCaps(c: stateCap, d: inputCap).validate()
        guard features.cols == targets.cols else {
            throw IDLError.shapeMismatch(
                "features [X; U] have \(features.cols) samples (columns) but the targets have \(targets.cols)")
        }
        guard stateCount >= 0, stateCount <= features.rows else {
            throw IDLError.shapeMismatch(
                "stateCount n = \(stateCount) must lie in 0...\(features.rows) (rows of [X; U])")
        }
        guard lambda >= 0, lambda.isFinite, lambda2 >= 0, lambda2.isFinite else {
            throw IDLError.invalidArgument("λ and λ₂ must be finite and ≥ 0, got λ = \(lambda), λ₂ = \(lambda2)")
        }
        guard lambda > 0 || lambda2 > 0 else {
            throw IDLError.invalidArgument(
                "the exact solver needs λ > 0 or λ₂ > 0 for its duality-gap certificate; for λ = 0 use SIMLeastSquaresSolver"
            )
        }
        guard tolerance > 0, maxIterations > 0, gapCheckInterval > 0, (rowsPerBlock ?? 1) > 0 else {
            throw IDLError.invalidArgument(
                "tolerance, maxIterations, gapCheckInterval and rowsPerBlock must be positive, got \(tolerance), \(maxIterations), \(gapCheckInterval), \(rowsPerBlock.map(String.init) ?? "automatic")"
            )
        }
        guard zeroThreshold >= 0 else {
            throw IDLError.invalidArgument("zeroThreshold must be ≥ 0, got \(zeroThreshold)")
        }
        guard features.isFinite, targets.isFinite else {
            throw IDLError.nonFinite("the features [X; U] and the targets must be finite")
        }

        let d = features.rows
        let m = features.cols
        let rowCount = targets.rows
        var weights = Matrix<T>(rows: rowCount, cols: d)
        var stats = [SIMRowStatistics](
            repeating: SIMRowStatistics(iterations: 0, objective: 0, gap: 0, converged: true),
            count: rowCount)
        if rowCount == 0 { return SIMStageResult(weights: weights, rows: []) }

        // Gram matrix and its spectrum (reused across stages when the features are the same),
        // linear terms (one gemm for all rows) and ‖t‖².
        let scaledBy: T? = scaleByGramDiagonal ? T(lambda2) : nil
        let spectrum =
            try cache?.spectrum(of: features, deflate: deflateTopEigenvalue, scaledBy: scaledBy)
            ?? SIMGramSpectrum(features: features, deflate: deflateTopEigenvalue, scaledBy: scaledBy)
        let gram = spectrum.gram
        let linear = matmul(features, targets, transposeB: true)  // d × rows
        var targetNorms = [T](repeating: 0, count: rowCount)
        for j in 0..<m {
            for i in 0..<rowCount {
                let v = targets.storage[i + j * rowCount]
                targetNorms[i] += v * v
            }
        }
        let metric = SIMStepMetric(spectrum: spectrum, lambda2: T(lambda2), d: d)

        var (radius, triangular) = constraint.rowConstraint(as: T.self)
        if let stateCap { radius = Swift.min(radius, T(stateCap)) }

        let counter = SIMRowCounter(progress)
        // This share's rows (whole blocks of `blockCapacity`, as the ranks of a distributed fit
        // split them), handed out in index order to one lane per worker.
        let shareRows = share.rows(of: rowCount, capacity: blockCapacity(rowCount: rowCount))
        let lanes = Swift.max(1, Swift.min(ThreadPolicy.workers, shareRows.count))
        let capacity = laneCapacity(rowCount: shareRows.count, lanes: lanes)
        let queue = SIMRowQueue(shareRows)
        let settings = FISTASettings<T>(
            d: d, m: m, rowCount: rowCount, n: stateCount, radius: radius, triangular: triangular,
            lambda: T(lambda), lambda2: T(lambda2), lipschitz: metric.alpha, tolerance: T(tolerance),
            maxIterations: maxIterations, checkInterval: gapCheckInterval, zeroThreshold: T(zeroThreshold),
            metricBeta: metric.beta, inputRadius: inputCap.map { T($0) } ?? .infinity, scaled: metric.scaled,
            metricCoupling: metric.coupling)

        gram.storage.withUnsafeBufferPointer { gp in
            features.storage.withUnsafeBufferPointer { mp in
                targets.storage.withUnsafeBufferPointer { tp in
                    linear.storage.withUnsafeBufferPointer { cp in
                        targetNorms.withUnsafeBufferPointer { np in
                            metric.vector.withUnsafeBufferPointer { vp in
                                weights.storage.withUnsafeMutableBufferPointer { wp in
                                    stats.withUnsafeMutableBufferPointer { sp in
                                        let shared = FISTAShared(
                                            gram: gp.baseAddress!, features: mp.baseAddress!, targets: tp.baseAddress!,
                                            linear: cp.baseAddress!, targetNorms: np.baseAddress!,
                                            topVector: vp.baseAddress!, metricDiagonal: metric.diagonalPointer,
                                            metricInverse: metric.inversePointer,
                                            metricDirection: metric.directionPointer,
                                            weights: wp.baseAddress!, stats: sp.baseAddress!, counter: counter)
                                        ThreadPolicy.forEachTask(lanes) { _ in
                                            solveFISTABlock(
                                                capacity: capacity, pool: queue, settings: settings, shared: shared)
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }

        return SIMStageResult(weights: weights, rows: stats)
    }
}

extension SIMExactSolver {
    /// The rows of one block for a stage of `rowCount` rows: ``rowsPerBlock``, or by default
    /// ⌈rows / 8⌉ clamped to 4...32. The ranks of a distributed fit split the rows in these
    /// blocks.
    func blockCapacity(rowCount: Int) -> Int {
        rowsPerBlock ?? Swift.min(32, Swift.max(4, (rowCount + 7) / 8))
    }

    /// The rows one lane iterates together when `rowCount` rows are shared by `lanes` lanes:
    /// ``rowsPerBlock``, or by default ⌈rows / lanes⌉ up to 32. It sets the speed only: a row's
    /// arithmetic does not depend on the rows beside it.
    func laneCapacity(rowCount: Int, lanes: Int) -> Int {
        rowsPerBlock ?? Swift.max(1, Swift.min(32, (rowCount + lanes - 1) / Swift.max(1, lanes)))
    }
}

/// The Gram matrix G = M Mᵀ of the features and what the step metric needs of its spectrum.
///
/// Unscaled, the spectrum is G's. Scaled (Jacobi), it is that of S = D^{-1/2}(G + λ₂I)D^{-1/2}
/// with D = diag(h), h_j = G_jj + λ₂ (floored at 1e-12·max h, or 1 when every h_j is 0), and the
/// top vector is S's: the metric is then H = αD + β(D^{1/2}z)(D^{1/2}z)ᵀ, which majorises
/// G + λ₂I exactly when σ₂ I + (σ₁ − σ₂)zzᵀ majorises S.
struct SIMGramSpectrum<T: BLASScalar>: @unchecked Sendable {
    let gram: Matrix<T>
    /// λ₁ and λ₂ of G, or of S when scaled (0 when d < 2).
    let top: T, second: T
    /// The top eigenvector (of G, or of S when scaled) when the metric deflates it (λ₁ > 4λ₂
    /// and deflation requested).
    let topVector: [T]?
    /// h (the Jacobi weights) when scaled, nil otherwise.
    let diagonal: [T]?

    /// Forms G (gemm) unless `gram` is given, the eigenvalues of G or S (LAPACK syevd, values
    /// only) and, when λ₁ > 4λ₂, the top eigenvector by power iteration (rate λ₂/λ₁ ≤ 1/4, so a
    /// few dozen gemv). `scaledBy` is λ₂ for the Jacobi-scaled metric, nil for G's own.
    init(features: Matrix<T>, deflate: Bool, scaledBy lambda2: T? = nil, gram known: Matrix<T>? = nil) throws {
        let d = features.rows
        let g = known ?? matmul(features, features, transposeB: true)
        gram = g
        guard d > 0 else {
            top = 0
            second = 0
            topVector = nil
            diagonal = nil
            return
        }
        var matrix = g
        if let lambda2 {
            var h = (0..<d).map { g[$0, $0] + lambda2 }
            let largest = h.max() ?? 0
            let floor = largest > 0 ? largest * T(1e-12) : 1
            for j in 0..<d { h[j] = Swift.max(h[j], floor) }
            let root = h.map { 1 / $0.squareRoot() }
            for j in 0..<d {
                for i in 0..<d {
                    matrix.storage[i + j * d] =
                        (g.storage[i + j * d] + (i == j ? lambda2 : 0)) * root[i] * root[j]
                }
            }
            diagonal = h
        } else {
            diagonal = nil
        }
        let values = try matrix.symmetricEigen(vectors: false).values
        top = Swift.max(values[d - 1], 0)
        second = d > 1 ? Swift.max(values[d - 2], 0) : 0
        guard deflate, d > 1, top > 4 * second, top > 0 else {
            topVector = nil
            return
        }
        var v = Matrix<T>(rows: d, cols: 1, repeating: 1 / T(d).squareRoot())
        var found = false
        for _ in 0..<500 {
            var next = matmul(matrix, v)
            let norm = next.frobeniusNorm
            guard norm > 0 else { break }
            next *= 1 / norm
            let change = (next - v).maxAbs
            v = next
            if change <= 8 * T.ulpOfOne * T(d).squareRoot() {
                found = true
                break
            }
        }
        topVector = found ? v.storage : nil
    }
}

/// The step metric H ⪰ G + λ₂I of one stage, from its spectrum (see ``SIMExactSolver``).
///
/// Unscaled: H = αI + βvvᵀ, α = λ₂(G) + λ₂ and α + β = λ₁(G) + λ₂ when the top eigenvalue is
/// deflated, else α = λ₁(G) + λ₂ and β = 0. Scaled: H = α·diag(h) + βUUᵀ with σ₁ ≥ σ₂ the top
/// eigenvalues of S = D^{-1/2}(G + λ₂I)D^{-1/2}, α = σ₂ and α + β = σ₁ (deflated) or α = σ₁,
/// β = 0, and U = D^{1/2}z for S's top vector z; `diagonal` holds hw = α·h, `inverse` 1/hw,
/// `direction` ΩU and `coupling` β/(1 + βUᵀΩU).
final class SIMStepMetric<T: BLASScalar>: @unchecked Sendable {
    let scaled: Bool
    let alpha: T, beta: T, coupling: T
    /// v (unscaled) or U (scaled); zeros when β = 0.
    let vector: [T]
    let diagonal: UnsafeMutablePointer<T>, inverse: UnsafeMutablePointer<T>, direction: UnsafeMutablePointer<T>

    init(spectrum: SIMGramSpectrum<T>, lambda2: T, d: Int) {
        let size = Swift.max(1, d)
        diagonal = .allocate(capacity: size)
        inverse = .allocate(capacity: size)
        direction = .allocate(capacity: size)
        diagonal.initialize(repeating: 1, count: size)
        inverse.initialize(repeating: 1, count: size)
        direction.initialize(repeating: 0, count: size)
        scaled = spectrum.diagonal != nil
        // Scaled: S already holds λ₂. Unscaled: α + β = λ₁(G) + λ₂.
        let top = scaled ? spectrum.top : spectrum.top + lambda2
        var a = top
        var b: T = 0
        if spectrum.topVector != nil {
            a = Swift.max(spectrum.second, spectrum.top * T(1e-8)) + (scaled ? 0 : lambda2)
            b = top - a
        }
        if !(a > 0) { a = 1 }
        alpha = a
        beta = b
        var v = spectrum.topVector ?? [T](repeating: 0, count: size)
        var c: T = 0
        if let h = spectrum.diagonal {
            if spectrum.topVector != nil { for j in 0..<d { v[j] *= h[j].squareRoot() } }
            var uou: T = 0
            for j in 0..<d {
                diagonal[j] = a * h[j]
                inverse[j] = 1 / diagonal[j]
                direction[j] = inverse[j] * v[j]
                uou += v[j] * direction[j]
            }
            c = b / (1 + b * uou)
        }
        vector = v
        coupling = c
    }

    deinit {
        diagonal.deallocate()
        inverse.deallocate()
        direction.deallocate()
    }

    var diagonalPointer: UnsafePointer<T> { UnsafePointer(diagonal) }
    var inversePointer: UnsafePointer<T> { UnsafePointer(inverse) }
    var directionPointer: UnsafePointer<T> { UnsafePointer(direction) }
}

/// The rows of a stage not yet started, handed out in index order to the lanes that solve
/// them (whichever asks first: which lane solves a row changes no bit of it).
final class SIMRowQueue: @unchecked Sendable {
    private let next: LockedValue<Int>
    private let end: Int

    init(_ rows: Range<Int>) {
        next = LockedValue(rows.lowerBound)
        end = rows.upperBound
    }

    /// The next row to solve, or nil when all have been handed out.
    func take() -> Int? {
        next.withLock { n -> Int? in
            guard n < end else { return nil }
            n += 1
            return n - 1
        }
    }
}

/// Remembers the Gram matrix and the spectrum of the last features seen, so that the two stages
/// of one fit share them (the spectrum only when the metric's settings agree too).
final class SIMGramCache<T: BLASScalar>: @unchecked Sendable {
    private var features: Matrix<T>?
    private var value: SIMGramSpectrum<T>?
    private var key: (deflate: Bool, scaledBy: T?) = (false, nil)

    func spectrum(of f: Matrix<T>, deflate: Bool, scaledBy lambda2: T?) throws -> SIMGramSpectrum<T> {
        let same = features.map { $0 == f } ?? false
        if same, let value, deflate == key.deflate, lambda2 == key.scaledBy { return value }
        let computed = try SIMGramSpectrum(
            features: f, deflate: deflate, scaledBy: lambda2, gram: same ? value?.gram : nil)
        features = f
        value = computed
        key = (deflate, lambda2)
        return computed
    }
}

/// Scalars shared by all blocks.
struct FISTASettings<T: BLASScalar>: Sendable {
    let d: Int, m: Int, rowCount: Int, n: Int
    let radius: T
    let triangular: Bool
    let lambda: T, lambda2: T, lipschitz: T, tolerance: T
    let maxIterations: Int, checkInterval: Int
    let zeroThreshold: T
    /// β of the step metric H = αI + βvvᵀ (α = `lipschitz`); 0 for the plain Euclidean step.
    var metricBeta: T = 0
    /// Radius of the ℓ1 ball of the input block [n, d) (b or d of a row); ∞ for none.
    var inputRadius: T = .infinity
    /// Whether the metric is the Jacobi-scaled H = diag(hw) + βUUᵀ (``SIMStepMetric``) rather
    /// than αI + βvvᵀ.
    var scaled = false
    /// β/(1 + βUᵀΩU) of the scaled metric's inverse (Sherman–Morrison), Ω = diag(1/hw).
    var metricCoupling: T = 0
}

/// Pointers shared by all blocks. Each block reads the inputs and writes only its own rows of
/// `weights` and `stats`, so the concurrent accesses never overlap.
struct FISTAShared<T: BLASScalar>: @unchecked Sendable {
    let gram: UnsafePointer<T>  // d×d
    let features: UnsafePointer<T>  // d×m
    let targets: UnsafePointer<T>  // rows×m
    let linear: UnsafePointer<T>  // d×rows, column i = M t_i
    let targetNorms: UnsafePointer<T>  // ‖t_i‖²
    let topVector: UnsafePointer<T>  // v (or U when scaled), used when metricBeta > 0
    let metricDiagonal: UnsafePointer<T>  // hw, the scaled metric's diagonal (scaled only)
    let metricInverse: UnsafePointer<T>  // ω = 1/hw (scaled only)
    let metricDirection: UnsafePointer<T>  // ΩU (scaled only)
    let weights: UnsafeMutablePointer<T>  // rows×d output
    let stats: UnsafeMutablePointer<SIMRowStatistics>
    let counter: SIMRowCounter
}

/// Objective and duality gap of one row: see ``SIMExactSolver``.
///
/// The coefficients form two blocks, the state block [fixed, n) (ball of radius `radius` when
/// finite) and the input block [n, d) (ball of radius `inputRadius` when finite); coordinates
/// [0, fixed) are fixed at 0. H*(s) is separable over the blocks: a ball block of radius r
/// contributes r·max(0, ‖s_block‖∞ − λ) (without λ₂), an unconstrained coordinate the indicator
/// of |s_j| ≤ λ.
///
/// - Parameters: `w` the coefficients (d), `g` = M r (d), `r2` = ‖r‖², `fixed` the number of
///   leading a-coordinates fixed at 0, `scratch` 2·d slots (used only with λ₂ > 0 and a ball).
@inline(__always)
@_specialize(where T == Double)
@_specialize(where T == Float)
func simRowCertificate<T: BLASScalar>(
    w: UnsafePointer<T>, g: UnsafePointer<T>, r2: T, fixed: Int, settings s: FISTASettings<T>,
    scratch: UnsafeMutablePointer<T>
) -> (objective: T, gap: T) {
    let d = s.d
    let n = s.n
    let lambda = s.lambda
    let lambda2 = s.lambda2
    let ball = s.radius.isFinite
    let inputBall = s.inputRadius.isFinite
    var l1: T = 0
    var sq: T = 0
    var wg: T = 0
    for j in fixed..<d {
        let v = w[j]
        l1 += abs(v)
        sq += v * v
        wg += v * g[j]
    }
    let objective = r2 / 2 + lambda * l1 + lambda2 / 2 * sq
    // Coordinates with the plain ℓ1 term (no ball): the state block's unless it has a ball, and
    // the input block's unless it has one.
    let freeStart = ball ? n : fixed
    let freeEnd = inputBall ? n : d
    if lambda2 > 0 {
        var hstar: T = 0
        for j in freeStart..<Swift.max(freeStart, freeEnd) {
            let e = abs(g[j]) - lambda
            if e > 0 { hstar += e * e / (2 * lambda2) }
        }
        /// sup over the ball of radius r of xᵀg − λ‖x‖₁ − ½λ₂‖x‖² on [start, end): the maximiser is
        /// sign(g)·Proj_r((|g| − λ)₊/λ₂).
        func ballConjugate(_ start: Int, _ end: Int, _ radius: T) {
            guard end > start else { return }
            let k = end - start
            var sum: T = 0
            for j in 0..<k {
                let e = Swift.max(abs(g[start + j]) - lambda, 0)
                scratch[j] = e / lambda2
                sum += scratch[j]
            }
            let target = UnsafeMutableBufferPointer(start: scratch, count: k)
            if sum > radius {
                projectOntoL1BallInPlace(target, radius: radius, scratch: scratch + k)
            }
            for j in 0..<k {
                let e = Swift.max(abs(g[start + j]) - lambda, 0)
                let a = scratch[j]
                hstar += e * a - lambda2 / 2 * a * a
            }
        }
        if ball { ballConjugate(fixed, n, s.radius) }
        if inputBall { ballConjugate(n, d, s.inputRadius) }
        let gap = Swift.max(0, lambda * l1 + lambda2 / 2 * sq + hstar - wg)
        return (objective, gap)
    }
    var gammaBall: T = 0
    if ball { for j in fixed..<n { gammaBall = Swift.max(gammaBall, abs(g[j])) } }
    var gammaInput: T = 0
    if inputBall { for j in n..<d { gammaInput = Swift.max(gammaInput, abs(g[j])) } }
    var gammaFree: T = 0
    for j in freeStart..<Swift.max(freeStart, freeEnd) { gammaFree = Swift.max(gammaFree, abs(g[j])) }
    let sMax: T = gammaFree > 0 ? lambda / gammaFree : T.infinity
    let radius = s.radius
    let inputRadius = s.inputRadius
    func gapAt(_ sc: T) -> T {
        var penalty: T = ball ? radius * Swift.max(0, sc * gammaBall - lambda) : 0
        if inputBall { penalty += inputRadius * Swift.max(0, sc * gammaInput - lambda) }
        return (1 - sc) * (1 - sc) * r2 / 2 + Swift.max(0, lambda * l1 - sc * wg + penalty)
    }
    var best = gapAt(0)
    func consider(_ candidate: T) {
        guard candidate.isFinite else { return }
        let c = Swift.min(Swift.max(candidate, 0), sMax)
        best = Swift.min(best, gapAt(c))
    }
    consider(1)
    consider(sMax)
    if ball && gammaBall > 0 { consider(lambda / gammaBall) }
    if inputBall && gammaInput > 0 { consider(lambda / gammaInput) }
    if r2 > 0 {
        // The stationary point of each quadratic piece: the balls whose penalty is active there.
        consider(1 + wg / r2)
        if ball { consider(1 + (wg - radius * gammaBall) / r2) }
        if inputBall {
            consider(1 + (wg - inputRadius * gammaInput) / r2)
            if ball { consider(1 + (wg - radius * gammaBall - inputRadius * gammaInput) / r2) }
        }
    }
    return (objective, best)
}

/// Runs FISTA on the rows `rows` as one block: see ``SIMExactSolver``.
@_specialize(where T == Double)
@_specialize(where T == Float)
func solveFISTABlock<T: BLASScalar>(
    capacity k: Int, pool: SIMRowQueue, settings s: FISTASettings<T>, shared: FISTAShared<T>
) {
    let d = s.d
    let m = s.m
    let rowCount = s.rowCount
    if k <= 0 { return }
    let size = Swift.max(1, d * k)
    // Workspace, allocated once per block.
    let wA = UnsafeMutablePointer<T>.allocate(capacity: size)  // current iterates w_k
    let wB = UnsafeMutablePointer<T>.allocate(capacity: size)  // next iterates w_{k+1}
    let gwA = UnsafeMutablePointer<T>.allocate(capacity: size)  // G w_k
    let gwB = UnsafeMutablePointer<T>.allocate(capacity: size)  // G w_{k+1}
    let yv = UnsafeMutablePointer<T>.allocate(capacity: size)  // extrapolated points y
    let gy = UnsafeMutablePointer<T>.allocate(capacity: size)  // G y
    let cv = UnsafeMutablePointer<T>.allocate(capacity: size)  // M t for each row
    let gvec = UnsafeMutablePointer<T>.allocate(capacity: Swift.max(1, d))
    let residual = UnsafeMutablePointer<T>.allocate(capacity: Swift.max(1, m))
    let scratch = UnsafeMutablePointer<T>.allocate(capacity: Swift.max(2, 2 * d))
    var momentum = [T](repeating: 1, count: k)
    var rowOf = [Int](repeating: 0, count: k)
    var iterations = [Int](repeating: 0, count: k)
    var nextExactCheck = [Int](repeating: 0, count: k)
    defer {
        for p in [wA, wB, gwA, gwB, yv, gy, cv, gvec, residual, scratch] { p.deallocate() }
    }
    var curW = wA
    var nextW = wB
    var curGW = gwA
    var nextGW = gwB
    let step = 1 / s.lipschitz
    let shrink = s.lambda * step
    let ball = s.radius.isFinite
    let inputBall = s.inputRadius.isFinite
    let n = s.n
    // The deflated metric H = αI + βvvᵀ (α = lipschitz).
    let metric = s.metricBeta > 0
    let vvec = shared.topVector
    let cMetric = s.metricBeta / s.lipschitz  // β/α
    let kappaH = s.metricBeta / (s.lipschitz + s.metricBeta)  // β/(α+β)
    // The Jacobi-scaled metric H = diag(hw) + βUUᵀ (vvec holds U): see ``SIMStepMetric``.
    let scaled = s.scaled
    let hw = shared.metricDiagonal
    let omega = shared.metricInverse
    let ou = shared.metricDirection
    let ubuf = UnsafeMutablePointer<T>.allocate(capacity: Swift.max(1, d))
    defer { ubuf.deallocate() }
    var tWarm = [T](repeating: 0, count: k)
    var nonzeros = SparseColumns<T>(rows: d, capacity: d * k)

    /// Starts `row` in slot `c` from w = 0.
    func load(_ row: Int, into c: Int) {
        for j in 0..<d {
            let idx = j + c * d
            curW[idx] = 0
            curGW[idx] = 0
            yv[idx] = 0
            gy[idx] = 0
            cv[idx] = shared.linear[j + row * d]
        }
        rowOf[c] = row
        momentum[c] = 1
        iterations[c] = 0
        nextExactCheck[c] = 0
        tWarm[c] = 0
    }

    /// Projects out[start..<end] onto the ℓ1 ball of `radius` in the metric diag(hw):
    /// x_j ← sign(x_j)·max(|x_j| − τω_j, 0) with τ ≥ 0 the root of f(τ) = Σ max(|x_j| − τω_j, 0) − r.
    /// f is convex, decreasing and piecewise linear, so Newton steps from τ = 0 rise monotonically
    /// to the root and stop on its piece (Michelot's scheme with weights). Returns whether it
    /// projected.
    func projectWeighted(_ out: UnsafeMutablePointer<T>, _ start: Int, _ end: Int, _ radius: T) -> Bool {
        var tau: T = 0
        var first = true
        for _ in 0...(end - start) {
            var l1: T = 0
            var weight: T = 0
            for j in start..<end {
                let v = abs(out[j])
                if v > tau * omega[j] {
                    l1 += v
                    weight += omega[j]
                }
            }
            if first {
                guard l1 > radius else { return false }
                first = false
            }
            guard weight > 0 else { break }
            let next = (l1 - radius) / weight
            if !(next > tau) { break }
            tau = next
        }
        for j in start..<end {
            let v = abs(out[j]) - tau * omega[j]
            out[j] = v > 0 ? (out[j] > 0 ? v : -v) : 0
        }
        return true
    }

    /// The scaled form of `proxAt`: x(t) = prox of h in the metric diag(hw) at u − tβΩU, and
    /// φ(t) = t − Uᵀ(x(t) − u), φ'(t) = 1 + βUᵀJΩU (J the prox's Jacobian: the identity on the
    /// support minus (Ωs)sᵀ/Σω on each projected block, s the signs).
    func proxAtScaled(_ t: T, vu: T, out: UnsafeMutablePointer<T>, fixed: Int) -> (phi: T, slope: T) {
        let shift = s.metricBeta * t
        for j in 0..<d {
            let v = ubuf[j] - shift * ou[j]
            let threshold = s.lambda * omega[j]
            out[j] = v > threshold ? v - threshold : (v < -threshold ? v + threshold : 0)
        }
        for j in 0..<fixed { out[j] = 0 }
        let projected = ball && n > fixed && projectWeighted(out, fixed, n, s.radius)
        let inputProjected = inputBall && d > n && projectWeighted(out, n, d, s.inputRadius)
        var ux: T = 0
        var uJu: T = 0
        var su: T = 0
        var sw: T = 0
        var suInput: T = 0
        var swInput: T = 0
        for j in 0..<d where out[j] != 0 {
            let oj = ou[j]
            ux += vvec[j] * out[j]
            uJu += vvec[j] * oj
            if projected && j < n {
                su += out[j] > 0 ? oj : -oj
                sw += omega[j]
            }
            if inputProjected && j >= n {
                suInput += out[j] > 0 ? oj : -oj
                swInput += omega[j]
            }
        }
        if sw > 0 { uJu -= su * su / sw }
        if swInput > 0 { uJu -= suInput * suInput / swInput }
        return (t - (ux - vu), 1 + s.metricBeta * Swift.max(uJu, 0))
    }

    /// x(t) = prox_{h/α}(u − (β/α)t·v) into `out`; returns φ(t) = t − vᵀ(x(t) − u) and φ'(t).
    func proxAt(_ t: T, vu: T, out: UnsafeMutablePointer<T>, fixed: Int) -> (phi: T, slope: T) {
        if scaled { return proxAtScaled(t, vu: vu, out: out, fixed: fixed) }
        let shift = cMetric * t
        for j in 0..<d {
            let v = ubuf[j] - shift * vvec[j]
            out[j] = v > shrink ? v - shrink : (v < -shrink ? v + shrink : 0)
        }
        for j in 0..<fixed { out[j] = 0 }
        /// Projects out[start..<end] onto the ℓ1 ball of `radius` when it lies outside; returns whether it did.
        func projectBlock(_ start: Int, _ end: Int, _ radius: T) -> Bool {
            var l1: T = 0
            for j in start..<end { l1 += abs(out[j]) }
            guard l1 > radius else { return false }
            projectOntoL1BallInPlace(
                UnsafeMutableBufferPointer(start: out + start, count: end - start), radius: radius, scratch: scratch)
            return true
        }
        let projected = ball && n > fixed && projectBlock(fixed, n, s.radius)
        let inputProjected = inputBall && d > n && projectBlock(n, d, s.inputRadius)
        // φ'(t) = 1 + (β/α)·vᵀJv with J the Jacobian of the prox: the identity on the support,
        // minus (1/k)·ssᵀ (s the signs, k the support size) on each block that was projected.
        var vx: T = 0
        var vJv: T = 0
        var sv: T = 0
        var count = 0
        var svInput: T = 0
        var countInput = 0
        for j in 0..<d where out[j] != 0 {
            let vj = vvec[j]
            vx += vj * out[j]
            vJv += vj * vj
            if projected && j < n {
                sv += out[j] > 0 ? vj : -vj
                count += 1
            }
            if inputProjected && j >= n {
                svInput += out[j] > 0 ? vj : -vj
                countInput += 1
            }
        }
        if count > 0 { vJv -= sv * sv / T(count) }
        if countInput > 0 { vJv -= svInput * svInput / T(countInput) }
        return (t - (vx - vu), 1 + cMetric * Swift.max(vJv, 0))
    }

    /// The prox in the H-metric of the point in `ubuf` (see ``SIMExactSolver``): safeguarded
    /// Newton on the increasing, piecewise linear φ, warm-started at `t0`. Returns t*.
    func metricProx(vu: T, out: UnsafeMutablePointer<T>, fixed: Int, t0: T) -> T {
        var t = t0
        var (phi, slope) = proxAt(t, vu: vu, out: out, fixed: fixed)
        if phi == 0 { return t }
        // φ' ≥ 1, so the root lies between t and t − φ(t).
        var lo = phi > 0 ? t - phi : t
        var hi = phi > 0 ? t : t - phi
        for _ in 0..<60 {
            let tol = 64 * T.ulpOfOne * (1 + abs(t) + abs(vu))
            if abs(phi) <= tol || hi - lo <= tol { break }
            var next = t - phi / slope
            if !(next > lo && next < hi) { next = (lo + hi) / 2 }
            t = next
            (phi, slope) = proxAt(t, vu: vu, out: out, fixed: fixed)
            if phi > 0 { hi = t } else if phi < 0 { lo = t } else { break }
        }
        return t
    }

    func fixedCount(_ row: Int) -> Int { s.triangular ? Swift.min(row + 1, n) : 0 }

    /// Exact certificate of column `c` (its coefficients at `w`) from the true residual.
    func exactCertificate(_ w: UnsafePointer<T>, row: Int) -> (objective: T, gap: T) {
        for j in 0..<m { residual[j] = shared.targets[row + j * rowCount] }
        if d > 0 {
            T.gemv(
                .transpose, m: d, n: m, alpha: -1, a: shared.features, lda: d, x: w, incx: 1,
                beta: 1, y: residual, incy: 1)
            T.gemv(
                .none, m: d, n: m, alpha: 1, a: shared.features, lda: d, x: residual, incx: 1,
                beta: 0, y: gvec, incy: 1)
        }
        let r2 = T.dot(n: m, x: residual, incx: 1, y: residual, incy: 1)
        return simRowCertificate(w: w, g: gvec, r2: r2, fixed: fixedCount(row), settings: s, scratch: scratch)
    }

    /// Writes column `c` as the final answer of its row and removes it from the block.
    func finish(_ c: Int, active: inout Int, converged: Bool, objective: T, gap: T) {
        let row = rowOf[c]
        let w = curW + c * d
        var obj = objective
        var gp = gap
        if s.zeroThreshold > 0 {
            var changed = false
            for j in 0..<d where w[j] != 0 && abs(w[j]) < s.zeroThreshold {
                w[j] = 0
                changed = true
            }
            if changed { (obj, gp) = exactCertificate(UnsafePointer(w), row: row) }
        }
        for j in 0..<d { shared.weights[row + j * rowCount] = w[j] }
        shared.stats[row] = SIMRowStatistics(
            iterations: iterations[c], objective: Double(obj),
            gap: Double(gp), converged: converged)
        shared.counter.add()
        if let next = pool.take() {
            load(next, into: c)
            return
        }
        let last = active - 1
        if c != last {
            for p in [curW, curGW, yv, gy, cv] {
                (p + c * d).update(from: p + last * d, count: d)
            }
            momentum[c] = momentum[last]
            rowOf[c] = rowOf[last]
            iterations[c] = iterations[last]
            nextExactCheck[c] = nextExactCheck[last]
            tWarm[c] = tWarm[last]
        }
        active -= 1
    }

    var active = 0
    while active < k, let row = pool.take() {
        load(row, into: active)
        active += 1
    }
    while active > 0 {
        // Proximal gradient step from y, and the restart test.
        for c in 0..<active {
            let y = yv + c * d
            let gyc = gy + c * d
            let cc = cv + c * d
            let wNew = nextW + c * d
            let w = curW + c * d
            let fixed = fixedCount(rowOf[c])
            var restart: T = 0
            if scaled {
                // u = y − H⁻¹∇f(y) with H⁻¹ = Ω − (β/(1 + βUᵀΩU))·ΩU(ΩU)ᵀ, then the prox in the
                // H-metric (a single weighted prox when β = 0).
                var og: T = 0
                for j in 0..<d {
                    let grad = gyc[j] - cc[j] + s.lambda2 * y[j]
                    ubuf[j] = grad
                    og += ou[j] * grad
                }
                let coef = og * s.metricCoupling
                var vu: T = 0
                for j in 0..<d {
                    let u = y[j] - (omega[j] * ubuf[j] - coef * ou[j])
                    ubuf[j] = u
                    vu += vvec[j] * u
                }
                if metric {
                    tWarm[c] = metricProx(vu: vu, out: wNew, fixed: fixed, t0: tWarm[c])
                } else {
                    _ = proxAtScaled(0, vu: vu, out: wNew, fixed: fixed)
                }
                var vA: T = 0
                var vB: T = 0
                for j in 0..<d {
                    let a = y[j] - wNew[j]
                    let b = wNew[j] - w[j]
                    restart += hw[j] * a * b
                    vA += vvec[j] * a
                    vB += vvec[j] * b
                }
                restart += s.metricBeta * vA * vB
            } else if metric {
                // u = y − H⁻¹∇f(y), then the prox in the H-metric.
                var vg: T = 0
                for j in 0..<d {
                    let grad = gyc[j] - cc[j] + s.lambda2 * y[j]
                    ubuf[j] = grad
                    vg += vvec[j] * grad
                }
                let coef = vg * kappaH
                var vu: T = 0
                for j in 0..<d {
                    let u = y[j] - step * (ubuf[j] - coef * vvec[j])
                    ubuf[j] = u
                    vu += vvec[j] * u
                }
                tWarm[c] = metricProx(vu: vu, out: wNew, fixed: fixed, t0: tWarm[c])
                var vA: T = 0
                var vB: T = 0
                for j in 0..<d {
                    let a = y[j] - wNew[j]
                    let b = wNew[j] - w[j]
                    restart += a * b
                    vA += vvec[j] * a
                    vB += vvec[j] * b
                }
                restart = s.lipschitz * restart + s.metricBeta * vA * vB
            } else {
                for j in 0..<d {
                    let grad = gyc[j] - cc[j] + s.lambda2 * y[j]
                    let v = y[j] - step * grad
                    wNew[j] = v > shrink ? v - shrink : (v < -shrink ? v + shrink : 0)
                }
                for j in 0..<fixed { wNew[j] = 0 }
                if ball && n > fixed {
                    projectOntoL1BallInPlace(
                        UnsafeMutableBufferPointer(start: wNew + fixed, count: n - fixed),
                        radius: s.radius, scratch: scratch)
                }
                if inputBall && d > n {
                    projectOntoL1BallInPlace(
                        UnsafeMutableBufferPointer(start: wNew + n, count: d - n), radius: s.inputRadius,
                        scratch: scratch)
                }
                for j in 0..<d { restart += (y[j] - wNew[j]) * (wNew[j] - w[j]) }
            }
            if restart > 0 { momentum[c] = 1 }
            iterations[c] += 1
        }
        // G w_{k+1} for the whole block, touching only the iterates' nonzeros (the prox makes
        // most coordinates exact zeros): each column is its own sum in index order, so a row's
        // bits do not depend on the other rows of its block.
        if d > 0 {
            nonzeros.removeAll(rows: d)
            for c in 0..<active { nonzeros.appendColumn(nextW + c * d) }
            denseTimesSparseColumns(rows: d, shared.gram, ldm: d, nonzeros, into: nextGW, ldy: d)
        }
        // Extrapolation: y = w_{k+1} + β(w_{k+1} − w_k), and G y by the same combination.
        for c in 0..<active {
            let t = momentum[c]
            let tNext = (1 + T.sqrt(1 + 4 * t * t)) / 2
            let beta = (t - 1) / tNext
            momentum[c] = tNext
            let wN = nextW + c * d
            let w = curW + c * d
            let gN = nextGW + c * d
            let g = curGW + c * d
            let y = yv + c * d
            let gyc = gy + c * d
            for j in 0..<d {
                y[j] = wN[j] + beta * (wN[j] - w[j])
                gyc[j] = gN[j] + beta * (gN[j] - g[j])
            }
        }
        swap(&curW, &nextW)
        swap(&curGW, &nextGW)

        // Convergence: screen in Gram form, confirm from the true residual — on each row's own
        // schedule (every checkInterval of its iterations, and at its budget), so that a row's
        // path does not depend on the rows beside it or on when it started.
        do {
            var c = active - 1
            while c >= 0 {
                let row = rowOf[c]
                let atBudget = iterations[c] >= s.maxIterations
                guard iterations[c] % s.checkInterval == 0 || atBudget else {
                    c -= 1
                    continue
                }
                let w = curW + c * d
                let gw = curGW + c * d
                let cc = cv + c * d
                var wc: T = 0
                var wgv: T = 0
                for j in 0..<d {
                    gvec[j] = cc[j] - gw[j]
                    wc += w[j] * cc[j]
                    wgv += w[j] * gvec[j]
                }
                let r2 = Swift.max(0, shared.targetNorms[row] - wc - wgv)
                let screen = simRowCertificate(
                    w: w, g: gvec, r2: r2, fixed: fixedCount(row), settings: s, scratch: scratch)
                let screenPass = screen.gap <= s.tolerance * Swift.max(1, abs(screen.objective))
                if (screenPass && iterations[c] >= nextExactCheck[c]) || atBudget {
                    let exact = exactCertificate(UnsafePointer(w), row: row)
                    let pass = exact.gap <= s.tolerance * Swift.max(1, abs(exact.objective))
                    if pass || atBudget {
                        finish(c, active: &active, converged: pass, objective: exact.objective, gap: exact.gap)
                        c -= 1
                        continue
                    } else {
                        // The Gram-form screen was too optimistic (rounding): confirm later.
                        nextExactCheck[c] = iterations[c] + 10 * s.checkInterval
                    }
                }
                c -= 1
            }
        }
    }
}
