import Foundation
import RealModule

// Sample-sharded SIM: every rank holds a shard of the samples; consensus ADMM over the ranks.

extension SIMStates {
    /// The number of samples in a states file written by ``save(to:)``, read from its header.
    /// - Throws: ``IDLError/io(_:)`` for a missing or corrupt file or a missing tensor;
    ///   ``IDLError/shapeMismatch(_:)`` when U, X, Z and Y are not 2-D or hold different sample counts.
    public static func sampleCount(inFileAt url: URL) throws -> Int {
        let (shapes, _) = try SafeTensors.shapes(of: url)
        var count: Int?
        for name in ["U", "X", "Z", "Y"] {
            guard let shape = shapes[name] else {
                throw IDLError.io("\(url.path) has no tensor '\(name)'; SIM states need U, X, Z and Y")
            }
            guard shape.count == 2 else {
                throw IDLError.shapeMismatch(
                    "\(url.path): tensor '\(name)' has shape \(shape); SIM states are 2-D (samples, features)")
            }
            if let count, count != shape[0] {
                throw IDLError.shapeMismatch(
                    "\(url.path): tensor '\(name)' holds \(shape[0]) samples but U holds \(count); the states file is inconsistent"
                )
            }
            count = shape[0]
        }
        return count ?? 0
    }

    /// The samples `samples` of a states file written by ``save(to:)``: only the header and those
    /// samples' bytes are read (the tensors are stored batch-first, so a sample range is one
    /// contiguous run of bytes per tensor).
    /// - Throws: as ``sampleCount(inFileAt:)``; ``IDLError/invalidArgument(_:)`` for samples
    ///   outside the file or an unknown activation; as ``init(contentsOf:)`` for invalid states.
    public init(contentsOf url: URL, samples: Range<Int>) throws {
        let total = try SIMStates.sampleCount(inFileAt: url)
        guard samples.lowerBound >= 0, samples.upperBound <= total else {
            throw IDLError.invalidArgument("\(url.path) holds \(total) samples; samples \(samples) do not exist")
        }
        let layout = try SafeTensors.Layout(contentsOf: url)
        func m(_ name: String) throws -> Matrix<T> {
            try layout.rows(of: url, tensor: name, samples, as: T.self).transposed
        }
        let activation = try layout.metadata["activation"].map { try IDL.activation(named: $0) } ?? ReLU()
        try self.init(
            inputs: m("U"), states: m("X"), preActivations: m("Z"), outputs: m("Y"), activation: activation,
            constantInputRow: layout.metadata["constant_input_row"] == "true")
    }
}

/// SIM for states spread over the ranks by samples: the exact solver's two-stage problem,
/// solved by consensus ADMM where each rank holds only its shard of the samples.
///
/// **Problem.** Each stage solves, for all rows at once (W is d×rows, column i the row
/// problem's w), min_W Σ_k f_k(W) + g(W) with f_k(W) = ½‖T_k − Wᵀ M_k‖²_F the least squares of
/// shard k (features M_k = [X_k; U_k], targets T_k) and g(W) = Σᵢ λ‖wᵢ‖₁ + ½λ₂‖wᵢ‖² +
/// the row constraints of ``problem`` (the ℓ1 ball ‖a‖₁ ≤ κ or the triangular zeros, and the
/// row caps ``SIMExactSolver/caps``): the same objective as ``SIMExactSolver``.
///
/// **Iteration** (consensus form, Boyd et al. 2011, §7.1), K shards, scaled duals U_k:
///
///     W_k ← (G_k + ρI)⁻¹ (M_k T_kᵀ + ρ(Z − U_k))    on rank k, G_k = M_k M_kᵀ
///     Z   ← prox_{g/(Kρ)}( (1/K) Σ_k (W_k + U_k) )    the same bits on every rank
///     U_k ← U_k + W_k − Z
///
/// Rank k eigendecomposes G_k = QΛQᵀ once per stage, so a W-update is two products with Q for
/// any ρ, (G_k + ρI)⁻¹V = V/ρ + Q((Λ + ρ)⁻¹ − 1/ρ)QᵀV, where Q keeps only the r = min(d, m_k)
/// eigenvectors that can have nonzero eigenvalues (2·d·r·rows multiply-adds); ρ starts at the mean eigenvalue of the shard Grams (or ``rho``)
/// and is balanced during the first ``rhoAdaptationIterations`` iterations (ρ doubled when the
/// primal residual exceeds 10× the dual one, halved in the opposite case; U_k rescaled). The prox
/// of g with weight 1/(Kρ) is soft thresholding of Kρ·v/(Kρ + λ₂) by λ/(Kρ + λ₂), then the
/// projection of each constrained block onto its ℓ1 ball (the prox of λ‖·‖₁ plus the indicator
/// of an ℓ1 ball is that composition). The Z- and U-updates are over-relaxed (``relaxation``,
/// Boyd et al. §3.4.3). The sum Σ_k (Ŵ_k + U_k) and three squared norms per iteration are the
/// only communication (``Communicator/allReduceSum(_:)``, in rank order: the run is deterministic).
///
/// **Stopping** (Boyd et al. §3.3.1): with r = (Σ_k ‖W_k − Z‖²)^½, s = ρ√K‖Z − Z_prev‖ and
/// N = d·rows, stop when r ≤ √(KN)·ε_abs + ε_rel·max((Σ‖W_k‖²)^½, √K‖Z‖) and
/// s ≤ √(KN)·ε_abs + ε_rel·ρ(Σ‖U_k‖²)^½, or after ``maxIterations``.
///
/// **Answer and certificate.** The returned weights are Z (exactly feasible and sparse), after
/// the zero threshold. Each row's objective and duality gap are then certified as
/// ``SIMExactSolver`` certifies its rows, from the residual sums Σ_k M_k r_kᵀ and Σ_k ‖r_k‖² —
/// so the report bounds every row's distance to its optimum. Regeneration between the stages
/// runs on each shard's own samples with the fitted (A, B) (columns are independent; the Picard
/// tolerance is set from the largest state over all shards).
public struct SIMShardedADMMSolver: Sendable {
    /// The problem: λ, λ₂ (and stage 2's), the constraint, row caps, zero threshold,
    /// regeneration settings. Its FISTA settings (tolerance, blocks, deflation) are not used.
    public var problem: SIMExactSolver
    /// ρ at the start of each stage; nil: the mean eigenvalue of the shard Gram matrices.
    public var rho: Double?
    /// Relative tolerance ε_rel of the residual test. The default 3e-4 left the objective within
    /// 1e-4 relative of the exact solver's on FashionMNIST states (a random 784-24-12-10 teacher, 200
    /// images, 2 shards, no regeneration); 1e-3 left it 1e-3 above after a fifth of the iterations,
    /// 1e-4 1e-5 above after 1.8 times as many (results/distributed.md).
    public var relativeTolerance: Double
    /// Absolute tolerance ε_abs of the residual test (per coefficient).
    public var absoluteTolerance: Double
    /// Iteration budget per stage.
    public var maxIterations: Int
    /// Iterations during which ρ is balanced against the residuals (then fixed, so the
    /// convergence theory for a fixed ρ applies).
    public var rhoAdaptationIterations: Int
    /// The over-relaxation α ∈ (0, 2) (Boyd et al. §3.4.3): the Z- and U-updates use
    /// αW_k + (1 − α)Z_prev in place of W_k; 1 is plain ADMM.
    public var relaxation: Double = 1.6
    /// A failure to inject, for tests of fault handling: rank `rank` throws when it starts stage
    /// `stage` (1 or 2), after the other ranks have begun it; nil (the default) injects nothing.
    public var injectedFault: (rank: Int, stage: Int)?

    /// The solver of `problem` by sample-sharded consensus ADMM (see the properties).
    public init(
        problem: SIMExactSolver, rho: Double? = nil, relativeTolerance: Double = 3e-4,
        absoluteTolerance: Double = 1e-9, maxIterations: Int = 5000, rhoAdaptationIterations: Int = 500
    ) {
        self.problem = problem
        self.rho = rho
        self.relativeTolerance = relativeTolerance
        self.absoluteTolerance = absoluteTolerance
        self.maxIterations = maxIterations
        self.rhoAdaptationIterations = rhoAdaptationIterations
    }

    /// "consensus ADMM over sample shards".
    public var name: String { "consensus ADMM over sample shards" }

    /// The two-stage fit of the states spread over the ranks of `communicator`: `shard` holds
    /// this rank's samples (e.g. ``SIMStates/init(contentsOf:samples:)``), every rank a
    /// non-empty shard with the same n, p, q.
    ///
    /// - Returns: The fit, the same bits on every rank.
    /// - Throws: ``IDLError/invalidArgument(_:)`` for invalid settings; ``RankFailure`` when any rank
    ///   fails (its message on the failing rank; with one rank, the error itself).
    public func fit<T: BLASScalar & CommunicatorScalar>(
        _ shard: SIMStates<T>, over communicator: any Communicator
    ) throws -> SIMFit<T> {
        try communicator.checkpoint {
            guard relativeTolerance >= 0, absoluteTolerance >= 0, relativeTolerance + absoluteTolerance > 0,
                maxIterations > 0, rhoAdaptationIterations >= 0, (rho ?? 1) > 0, (rho ?? 1).isFinite,
                relaxation > 0, relaxation < 2
            else {
                throw IDLError.invalidArgument(
                    "sharded ADMM needs tolerances ≥ 0 (not both 0), a positive budget, ρ > 0 and α ∈ (0, 2); got α = \(relaxation), ε_rel = \(relativeTolerance), ε_abs = \(absoluteTolerance), budget \(maxIterations), ρ = \(rho.map { "\($0)" } ?? "automatic")"
                )
            }
            try problem.caps.validate()
            guard problem.lambdaState >= 0, problem.lambdaOutput >= 0, problem.lambda2 >= 0,
                (problem.lambda2Output ?? 0) >= 0
            else { throw IDLError.invalidArgument("λ and λ₂ must be ≥ 0") }
        }
        // Every rank the same shapes; the regeneration tolerance from the largest state of all.
        let local: [Double] = [
            Double(shard.stateCount), Double(shard.inputCount), Double(shard.outputCount),
            Double(shard.sampleCount), Double(shard.states.maxAbs),
        ]
        let all = try communicator.allGather(local, counts: [Int](repeating: 5, count: communicator.size))
        var solver = problem
        try communicator.checkpoint {
            for r in 0..<communicator.size {
                let other = all[(5 * r)..<(5 * r + 3)]
                guard Array(other) == Array(local[0..<3]) else {
                    throw IDLError.shapeMismatch(
                        "rank \(r) holds states with (n, p, q) = (\(other.map { Int($0) })) but rank \(communicator.rank) (\(local[0..<3].map { Int($0) })); every shard must come from the same states"
                    )
                }
                guard all[5 * r + 3] > 0 else {
                    throw IDLError.invalidArgument(
                        "rank \(r) holds no samples; run with at most as many ranks as there are samples")
                }
            }
        }
        if solver.equilibrium.tolerance == nil {
            let largest = stride(from: 4, to: all.count, by: 5).map { all[$0] }.max() ?? 0
            solver.equilibrium.tolerance = 1e-10 * Swift.max(1, largest)
        }
        return try communicator.checkpoint {
            try runTwoStageSIM(solver, shard, progress: nil) { f, t, n, l, c, stage, _ in
                try fitShardedStage(
                    stage, features: f, targets: t, stateCount: n, lambda: l, constraint: c, communicator: communicator)
            }
        }
    }

    /// One stage over the shards (see the type's documentation).
    func fitShardedStage<T: BLASScalar & CommunicatorScalar>(
        _ stage: Int, features: Matrix<T>, targets: Matrix<T>, stateCount n: Int, lambda: Double,
        constraint: SIMWellPosedness, communicator: any Communicator
    ) throws -> SIMStageResult<T> {
        let lambda2 = stage == 2 ? (problem.lambda2Output ?? problem.lambda2) : problem.lambda2
        let stateCap = stage == 2 ? problem.caps.c : nil
        let inputCap = stage == 2 ? problem.caps.d : problem.caps.b
        let d = features.rows
        let rowCount = targets.rows
        let shards = Double(communicator.size)
        // Local factorisation: G_k = QΛQᵀ (Q the eigenvectors of the nonzero part), and M_k T_kᵀ (d×rows).
        let (q, lambdas, linear, trace) = try communicator.checkpoint {
            () throws -> (Matrix<T>, [T], Matrix<T>, Double) in
            if let fault = injectedFault, fault.rank == communicator.rank, fault.stage == stage {
                throw IDLError.numerical("injected fault in stage \(stage) (IDL_INJECT_FAULT)")
            }
            try constraint.validate()
            guard features.isFinite, targets.isFinite else {
                throw IDLError.nonFinite("the features [X; U] and the targets of this shard must be finite")
            }
            let gram = matmul(features, features, transposeB: true)
            let (values, vectors) = try gram.symmetricEigen()
            // G_k has rank ≤ m_k: its top r = min(d, m_k) eigenpairs (syevd sorts ascending) carry it.
            let r = Swift.min(d, features.cols)
            let q = vectors!.columns((d - r)..<d)
            let linear = matmul(features, targets, transposeB: true)
            var trace = 0.0
            for j in 0..<d { trace += Double(gram[j, j]) }
            return (q, values[(d - r)...].map { Swift.max($0, 0) }, linear, trace)
        }
        var traceSum = [trace]
        try communicator.allReduceSum(&traceSum)
        var rho = T(rho ?? (traceSum[0] > 0 ? traceSum[0] / (Double(d) * shards) : 1))
        if d == 0 || rowCount == 0 {
            return SIMStageResult(weights: Matrix(rows: rowCount, cols: d), rows: [])
        }
        let (radiusConstraint, triangular) = constraint.rowConstraint(as: T.self)
        let radius = stateCap.map { Swift.min(radiusConstraint, T($0)) } ?? radiusConstraint
        let inputRadius = inputCap.map { T($0) } ?? T.infinity
        let count = d * rowCount
        var z = Matrix<T>(rows: d, cols: rowCount)
        var w = Matrix<T>(rows: d, cols: rowCount)
        var dual = Matrix<T>(rows: d, cols: rowCount)
        var work = Matrix<T>(rows: d, cols: rowCount)
        var scratch = [T](repeating: 0, count: Swift.max(2, 2 * d))
        var iterations = 0
        var converged = false
        let sqrtKN = Double(count * communicator.size).squareRoot()
        while iterations < maxIterations {
            iterations += 1
            // W_k = (G_k + ρI)⁻¹ V with V = M_k T_kᵀ + ρ(Z − U_k), as V/ρ + Q ((Λ + ρ)⁻¹ − 1/ρ) Qᵀ V
            // (Q: the r eigenvectors of G_k's nonzero part; with r = d the middle term is all of it).
            for i in 0..<count { work.storage[i] = linear.storage[i] + rho * (z.storage[i] - dual.storage[i]) }
            var projected = matmul(q, work, transposeA: true)
            let r = lambdas.count
            for c in 0..<rowCount {
                for j in 0..<r { projected.storage[j + c * r] *= 1 / (lambdas[j] + rho) - 1 / rho }
            }
            for i in 0..<count { w.storage[i] = work.storage[i] / rho }
            gemm(q, projected, into: &w, beta: 1)
            // Z = prox_{g/(Kρ)} of the average of Ŵ_k + U_k, Ŵ_k = αW_k + (1 − α)Z (over-relaxation).
            let alpha = T(relaxation)
            var sum = [T](repeating: 0, count: count)
            for i in 0..<count {
                let relaxed = alpha * w.storage[i] + (1 - alpha) * z.storage[i]
                work.storage[i] = relaxed
                sum[i] = relaxed + dual.storage[i]
            }
            try communicator.allReduceSum(&sum)
            let kr = T(shards) * rho
            let scale = kr / (kr + T(lambda2))
            let shrink = T(lambda) / (kr + T(lambda2))
            var change: Double = 0
            var zNorm: Double = 0
            sum.withUnsafeMutableBufferPointer { v in
                scratch.withUnsafeMutableBufferPointer { sp in
                    for c in 0..<rowCount {
                        let col = UnsafeMutableBufferPointer(rebasing: v[(c * d)..<((c + 1) * d)])
                        for j in 0..<d {
                            let x = scale * col[j] / T(shards)
                            col[j] = x > shrink ? x - shrink : (x < -shrink ? x + shrink : 0)
                        }
                        let fixed = triangular ? Swift.min(c + 1, n) : 0
                        for j in 0..<fixed { col[j] = 0 }
                        if radius.isFinite && n > fixed {
                            projectIntoBall(
                                UnsafeMutableBufferPointer(rebasing: col[fixed..<n]), radius, sp.baseAddress!)
                        }
                        if inputRadius.isFinite && d > n {
                            projectIntoBall(
                                UnsafeMutableBufferPointer(rebasing: col[n..<d]), inputRadius, sp.baseAddress!)
                        }
                    }
                }
            }
            for i in 0..<count {
                let delta = Double(sum[i] - z.storage[i])
                change += delta * delta
                zNorm += Double(sum[i]) * Double(sum[i])
                z.storage[i] = sum[i]
            }
            // U_k += Ŵ_k − Z; residual norms (of W_k − Z) summed over the ranks.
            var norms = [0.0, 0.0, 0.0]
            for i in 0..<count {
                let r = w.storage[i] - z.storage[i]
                dual.storage[i] += work.storage[i] - z.storage[i]
                norms[0] += Double(r) * Double(r)
                norms[1] += Double(w.storage[i]) * Double(w.storage[i])
                norms[2] += Double(dual.storage[i]) * Double(dual.storage[i])
            }
            try communicator.allReduceSum(&norms)
            let primal = norms[0].squareRoot()
            let dualResidual = Double(rho) * (shards * change).squareRoot()
            let primalBound =
                sqrtKN * absoluteTolerance + relativeTolerance
                * Swift.max(norms[1].squareRoot(), (shards * zNorm).squareRoot())
            let dualBound = sqrtKN * absoluteTolerance + relativeTolerance * Double(rho) * norms[2].squareRoot()
            if primal <= primalBound && dualResidual <= dualBound {
                converged = true
                break
            }
            if iterations <= rhoAdaptationIterations {
                var factor: T = 1
                if primal > 10 * dualResidual { factor = 2 } else if dualResidual > 10 * primal { factor = 0.5 }
                if factor != 1 {
                    rho *= factor
                    for i in 0..<count { dual.storage[i] /= factor }
                }
            }
        }
        var weights = z.transposed
        applyZeroThreshold(&weights, problem.zeroThreshold)
        let certificates = try shardedCertificates(
            weights: weights, features: features, targets: targets, stateCount: n, lambda: lambda, lambda2: lambda2,
            radius: radius, triangular: triangular, inputRadius: inputRadius, communicator: communicator)
        let rows = certificates.map {
            SIMRowStatistics(iterations: iterations, objective: $0.objective, gap: $0.gap, converged: converged)
        }
        let warnings =
            converged
            ? [] : ["sharded ADMM stopped at its budget of \(maxIterations) iterations before its residual test held"]
        return SIMStageResult(weights: weights, rows: rows, warnings: warnings)
    }
}

/// Projects `block` onto the ℓ1 ball of `radius`, then scales it by radius/‖block‖₁ if rounding
/// left the norm above the radius (the projection's threshold is exact only to a few hundred ulp
/// on long blocks; ``simWellPosednessHolds(_:_:)`` allows 64).
func projectIntoBall<T: BLASScalar>(
    _ block: UnsafeMutableBufferPointer<T>, _ radius: T, _ scratch: UnsafeMutablePointer<T>
) {
    projectOntoL1BallInPlace(block, radius: radius, scratch: scratch)
    var l1: T = 0
    for v in block { l1 += abs(v) }
    guard l1 > radius else { return }
    let factor = radius / l1
    for k in block.indices { block[k] *= factor }
}

/// Objective and duality gap of each row of `weights` (rows×d) for the row problem over all
/// shards, from this rank's residuals and the ranks' sums (see ``SIMExactSolver``).
func shardedCertificates<T: BLASScalar & CommunicatorScalar>(
    weights: Matrix<T>, features: Matrix<T>, targets: Matrix<T>, stateCount n: Int, lambda: Double, lambda2: Double,
    radius: T, triangular: Bool, inputRadius: T, communicator: any Communicator
) throws -> [(objective: Double, gap: Double)] {
    let d = features.rows
    let m = features.cols
    let rowCount = targets.rows
    var residuals = targets
    gemm(weights, features, into: &residuals, alpha: -1, beta: 1)
    let correlations = matmul(features, residuals, transposeB: true)  // d×rows
    var sums = correlations.storage
    for i in 0..<rowCount {
        var r2: T = 0
        for j in 0..<m { r2 += residuals[i, j] * residuals[i, j] }
        sums.append(r2)
    }
    try communicator.allReduceSum(&sums)
    let settings = FISTASettings<T>(
        d: d, m: m, rowCount: rowCount, n: n, radius: radius, triangular: triangular, lambda: T(lambda),
        lambda2: T(lambda2), lipschitz: 1, tolerance: 0, maxIterations: 1, checkInterval: 1, zeroThreshold: 0,
        inputRadius: inputRadius)
    let wt = weights.transposed
    var scratch = [T](repeating: 0, count: Swift.max(2, 2 * d))
    return (0..<rowCount).map { i in
        let fixed = triangular ? Swift.min(i + 1, n) : 0
        let cert = wt.storage.withUnsafeBufferPointer { wp in
            sums.withUnsafeBufferPointer { gp in
                scratch.withUnsafeMutableBufferPointer { sp in
                    simRowCertificate(
                        w: wp.baseAddress! + i * d, g: gp.baseAddress! + i * d, r2: gp[d * rowCount + i], fixed: fixed,
                        settings: settings, scratch: sp.baseAddress!)
                }
            }
        }
        return (Double(cert.objective), Swift.max(0, Double(cert.gap)))
    }
}
