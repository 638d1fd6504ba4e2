/// An implicit model (El Ghaoui et al., *Implicit Deep Learning*): the state X is the fixed
/// point of an equation instead of the output of a stack of layers,
///
///     X = φ(A X + B U)        (equilibrium equation)
///     Ŷ = C X + D U           (prediction equation)
///
/// with U the p×m input batch (**columns are samples**), X the n×m state and Ŷ the q×m output.
/// It is a ``Layer``: use it alone or between other layers, and train it with any optimizer;
/// gradients come from implicit differentiation (see ``equilibrium(a:injection:activation:forward:backward:initial:log:)``).
///
/// A batch-first array (m, p), as numpy and PyTorch hold it, has the bytes of our p×m matrix:
/// load a `.npy` with the batch-first layout and pass it straight in.
///
/// Options and defaults follow torchidl's `ImplicitModel`: κ = 0.99, 300 iterations at tolerance
/// 3e-6 forward and backward, ∞-norm scaling of A, every matrix initialised randn/n.
public final class ImplicitModel<Scalar: BLASScalar>: Layer {
    /// Input dimension p (without the bias row).
    public let inputDim: Int
    /// Output dimension q.
    public let outputDim: Int
    /// State dimension n.
    public let hiddenDim: Int
    /// Whether a constant-one row is appended to U (then B and D have p + 1 columns).
    public let bias: Bool
    /// The rank r of A = L Rᵀ, or nil for a dense A.
    public let rank: Int?
    /// The radius κ of the well-posedness constraint ‖A‖∞ ≤ κ.
    public let kappa: Double
    /// How A is kept well-posed.
    public let wellPosedness: WellPosedness
    /// The activation φ.
    public let activation: any Activation
    /// Settings of the forward (state) solve.
    public var forwardSettings: FixedPointSettings
    /// Settings of the backward (adjoint) solve.
    public var backwardSettings: FixedPointSettings
    /// Statistics of every solve since the last `log.reset()`.
    public let log = SolveLog()

    /// The state matrix A (n×n), or nil when A is low rank.
    public let A: Tensor<Scalar>?
    /// Low-rank factor L (n×r), or nil.
    public let L: Tensor<Scalar>?
    /// Low-rank factor R (n×r), or nil.
    public let R: Tensor<Scalar>?
    /// Input matrix B (n×p, or n×(p+1) with bias).
    public let B: Tensor<Scalar>
    /// Output matrix C (q×n).
    public let C: Tensor<Scalar>
    /// Feedthrough D (q×p or q×(p+1)), or nil with `noD`.
    public let D: Tensor<Scalar>?

    /// A model initialised as torchidl does (each matrix randn/n), from `generator`.
    ///
    /// - Parameters:
    ///   - inputDim: input features p (without the bias row).
    ///   - outputDim: outputs q.
    ///   - hiddenDim: state dimension n.
    ///   - bias: append a constant-one input row.
    ///   - noD: drop the feedthrough D.
    ///   - rank: use a low-rank A = L Rᵀ with this rank (torchidl's `is_low_rank`, `rank`).
    ///   - kappa: the radius κ of the well-posedness constraint ‖A‖∞ ≤ κ (torchidl's 0.99).
    ///   - wellPosedness: how A is kept well-posed (torchidl's ∞-norm scaling by default).
    ///   - activation: the activation φ (ReLU by default).
    ///   - solver: the fixed-point solver for both the forward and the backward solve.
    ///   - maxIterations: iteration budget of the forward solve (torchidl's `mitr`).
    ///   - tolerance: tolerance of the forward solve (torchidl's `tol`).
    ///   - gradMaxIterations: iteration budget of the backward solve (torchidl's `grad_mitr`).
    ///   - gradTolerance: tolerance of the backward solve (torchidl's `grad_tol`).
    ///   - generator: the seeded generator for the initial weights.
    /// - Throws: ``IDLError/invalidArgument(_:)`` for non-positive dimensions, κ outside (0, 1),
    ///   a rank outside 1...n, or a model too large for the memory available (checked before
    ///   anything is allocated, see ``MemoryEstimate/implicitModel(inputDim:outputDim:hiddenDim:rank:bias:batchSize:scalarSize:solverBuffers:)``).
    public convenience init(
        inputDim: Int, outputDim: Int, hiddenDim: Int,
        bias: Bool = false, noD: Bool = false, rank: Int? = nil,
        kappa: Double = 0.99, wellPosedness: WellPosedness = .infinityNorm,
        activation: any Activation = ReLU(),
        solver: any FixedPointSolver = Picard(),
        maxIterations: Int = 300, tolerance: Double = 3e-6,
        gradMaxIterations: Int = 300, gradTolerance: Double = 3e-6,
        using generator: inout SeededGenerator
    ) throws {
        guard inputDim > 0, outputDim > 0, hiddenDim > 0 else {
            throw IDLError.invalidArgument(
                "ImplicitModel needs positive dimensions, got input \(inputDim), output \(outputDim), hidden \(hiddenDim)"
            )
        }
        try MemoryEstimate.implicitModel(
            inputDim: inputDim, outputDim: outputDim, hiddenDim: hiddenDim, rank: rank, bias: bias,
            batchSize: 1, scalarSize: MemoryLayout<Scalar>.size
        ).check()
        let n = hiddenDim
        let scale = 1 / Scalar(n)
        let p = inputDim + (bias ? 1 : 0)
        var a: Matrix<Scalar>? = nil
        var l: Matrix<Scalar>? = nil
        var r: Matrix<Scalar>? = nil
        if let rank {
            guard rank >= 1, rank <= n else {
                throw IDLError.invalidArgument("low rank needs 1 ≤ rank ≤ hiddenDim = \(n), got rank \(rank)")
            }
            l = Matrix.randomNormal(n, rank, scale: scale, using: &generator)
            r = Matrix.randomNormal(n, rank, scale: scale, using: &generator)
        } else {
            a = Matrix.randomNormal(n, n, scale: scale, using: &generator)
        }
        let b = Matrix<Scalar>.randomNormal(n, p, scale: scale, using: &generator)
        let c = Matrix<Scalar>.randomNormal(outputDim, n, scale: scale, using: &generator)
        let d = noD ? nil : Matrix<Scalar>.randomNormal(outputDim, p, scale: scale, using: &generator)
        try self.init(
            A: a, L: l, R: r, B: b, C: c, D: d, bias: bias, kappa: kappa, wellPosedness: wellPosedness,
            activation: activation, solver: solver, maxIterations: maxIterations, tolerance: tolerance,
            gradMaxIterations: gradMaxIterations, gradTolerance: gradTolerance)
    }

    /// A model with given matrices (e.g. loaded from a file, or written by hand as in the
    /// feedforward-as-implicit tutorial). Give either `A` or both `L` and `R`.
    /// - Throws: ``IDLError/shapeMismatch(_:)`` when the shapes do not fit together,
    ///   ``IDLError/invalidArgument(_:)`` for κ outside (0, 1) or a bad combination of A, L, R.
    public init(
        A: Matrix<Scalar>? = nil, L: Matrix<Scalar>? = nil, R: Matrix<Scalar>? = nil,
        B: Matrix<Scalar>, C: Matrix<Scalar>, D: Matrix<Scalar>? = nil,
        bias: Bool = false, kappa: Double = 0.99, wellPosedness: WellPosedness = .infinityNorm,
        activation: any Activation = ReLU(), solver: any FixedPointSolver = Picard(),
        maxIterations: Int = 300, tolerance: Double = 3e-6,
        gradMaxIterations: Int = 300, gradTolerance: Double = 3e-6
    ) throws {
        guard kappa > 0, kappa < 1 || wellPosedness == .strictlyUpperTriangular || wellPosedness == .none else {
            throw IDLError.invalidArgument(
                "kappa must lie in (0, 1) for the well-posedness constraint ‖A‖∞ ≤ κ, got \(kappa)")
        }
        guard maxIterations > 0, gradMaxIterations > 0, tolerance > 0, gradTolerance > 0 else {
            throw IDLError.invalidArgument(
                "iteration budgets and tolerances must be positive, got mitr \(maxIterations), tol \(tolerance), grad mitr \(gradMaxIterations), grad tol \(gradTolerance)"
            )
        }
        let n = B.rows
        switch (A, L, R) {
        case (let a?, nil, nil):
            guard a.rows == n, a.cols == n else {
                throw IDLError.shapeMismatch("A must be n×n with n = rows of B = \(n), got \(a.shapeDescription)")
            }
        case (nil, let l?, let r?):
            guard l.rows == n, r.rows == n, l.cols == r.cols, l.cols >= 1, l.cols <= n else {
                throw IDLError.shapeMismatch(
                    "L and R must both be n×r with n = \(n) and 1 ≤ r ≤ n, got L \(l.shapeDescription), R \(r.shapeDescription)"
                )
            }
        default:
            throw IDLError.invalidArgument(
                "give either A, or both L and R (low rank), not \([A == nil ? nil : "A", L == nil ? nil : "L", R == nil ? nil : "R"].compactMap { $0 })"
            )
        }
        guard C.cols == n else {
            throw IDLError.shapeMismatch(
                "C must have n = \(n) columns (the state dimension), got \(C.shapeDescription)")
        }
        if let D, D.rows != C.rows || D.cols != B.cols {
            throw IDLError.shapeMismatch(
                "D must be \(C.rows)×\(B.cols) (outputs × inputs\(bias ? " + 1 bias column" : "")), got \(D.shapeDescription)"
            )
        }
        let p = B.cols - (bias ? 1 : 0)
        guard p >= 1 else {
            throw IDLError.shapeMismatch(
                "B has \(B.cols) columns, too few for an input\(bias ? " plus the bias column" : "")")
        }
        for (name, m) in [("A", A), ("L", L), ("R", R), ("B", B), ("C", C), ("D", D)] {
            if let m, !m.isFinite { throw IDLError.nonFinite("matrix \(name) contains NaN or infinite entries") }
        }
        self.inputDim = p
        self.outputDim = C.rows
        self.hiddenDim = n
        self.bias = bias
        self.rank = L?.cols
        self.kappa = kappa
        self.wellPosedness = wellPosedness
        self.activation = activation
        self.forwardSettings = FixedPointSettings(solver: solver, tolerance: tolerance, maxIterations: maxIterations)
        self.backwardSettings = FixedPointSettings(
            solver: solver, tolerance: gradTolerance, maxIterations: gradMaxIterations)
        self.A = A.map { Tensor(parameter: $0, name: "A") }
        self.L = L.map { Tensor(parameter: $0, name: "L") }
        self.R = R.map { Tensor(parameter: $0, name: "R") }
        self.B = Tensor(parameter: B, name: "B")
        self.C = Tensor(parameter: C, name: "C")
        self.D = D.map { Tensor(parameter: $0, name: "D") }
    }

    /// Uses `solver` for both the forward and the backward solve.
    public func setSolver(_ solver: any FixedPointSolver) {
        forwardSettings.solver = solver
        backwardSettings.solver = solver
    }

    /// The forward pass on a p×m batch, from a zero initial state.
    ///
    /// A batch of 64 samples or more is cut into ``ThreadPolicy/batchBlocks(columns:)`` fixed
    /// blocks of columns, and the blocks are computed on the workers of ``ThreadPolicy``: each
    /// block's forward and backward fixed points stop on the block's own residual, and the
    /// blocks' shares of the weight gradients are summed in block order. The blocks depend on
    /// the batch size only, so the result is the same bits on any number of cores; it differs
    /// from one solve of the whole batch (``forward(_:initialState:)``) by the solves'
    /// tolerance and rounding. The solver statistics recorded in ``log`` are one forward (and
    /// one backward) solve per call, combined over the blocks (the slowest block's iterations).
    ///
    /// - Parameter input: The batch U, p × m.
    /// - Returns: Ŷ = CX + DU (q × m), with X the equilibrium, on the autodiff graph.
    /// - Throws: ``IDLError/shapeMismatch(_:)`` if the input does not have `inputDim` rows;
    ///   ``IDLError/nonFinite(_:)`` when it has NaN or infinite entries.
    public func callAsFunction(_ input: Tensor<Scalar>) throws -> Tensor<Scalar> {
        let blocks = ThreadPolicy.batchBlocks(columns: input.cols)
        guard blocks > 1 else { return try forward(input, initialState: nil).output }
        try validate(input.value, initialState: nil)
        return blockedImplicitOutput(
            a: stateMatrix(), b: B, c: C, d: D, u: withBiasRow(input), activation: activation,
            forward: forwardSettings, backward: backwardSettings, blocks: blocks, log: log)
    }

    /// The forward pass on the whole batch as one fixed point, optionally warm-started from a
    /// state X₀ (n×m); returns Ŷ and the state X.
    /// - Throws: ``IDLError/shapeMismatch(_:)`` for a wrong input dimension or X₀ shape,
    ///   ``IDLError/nonFinite(_:)`` when the input has NaN or infinite entries,
    ///   ``IDLError/invalidArgument(_:)`` for a batch too large for the memory available.
    public func forward(_ input: Tensor<Scalar>, initialState: Matrix<Scalar>?) throws -> (
        output: Tensor<Scalar>, state: Tensor<Scalar>
    ) {
        let u0 = input.value
        try validate(u0, initialState: initialState)
        let u = withBiasRow(input)
        let x = equilibrium(
            a: stateMatrix(), injection: matmul(B, u), activation: activation,
            forward: forwardSettings, backward: backwardSettings,
            initial: initialState, log: log)
        var y = matmul(C, x)
        if let D { y = y + matmul(D, u) }
        return (y, x)
    }

    /// U with the constant-one row appended when the model has a bias, else U.
    private func withBiasRow(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        bias ? vcat([input, Tensor(Matrix<Scalar>.ones(1, input.cols))]) : input
    }

    /// Checks a batch (and warm start) before a forward pass: its shape, that it is finite, and
    /// the memory a large batch needs.
    private func validate(_ u0: Matrix<Scalar>, initialState: Matrix<Scalar>?) throws {
        guard u0.rows == inputDim else {
            throw IDLError.shapeMismatch(
                "ImplicitModel expects \(inputDim) input features per sample (rows; columns are samples), got a \(u0.shapeDescription) batch. A batch-first (m, p) array must be loaded with the batch-first layout, which makes it p×m."
            )
        }
        guard u0.isFinite else {
            throw IDLError.nonFinite("the input batch contains NaN or infinite entries")
        }
        if let x0 = initialState, x0.rows != hiddenDim || x0.cols != u0.cols {
            throw IDLError.shapeMismatch(
                "the initial state must be \(hiddenDim)×\(u0.cols) (hidden × batch), got \(x0.shapeDescription)")
        }
        // A batch whose solver buffers alone would take more than 1 GiB: check the memory first.
        if 16 * Double(hiddenDim) * Double(u0.cols) * Double(MemoryLayout<Scalar>.size) > 1_073_741_824 {
            try MemoryEstimate.implicitModel(
                inputDim: inputDim, outputDim: outputDim, hiddenDim: hiddenDim, rank: rank, bias: bias,
                batchSize: u0.cols, scalarSize: MemoryLayout<Scalar>.size
            ).check()
        }
    }

    /// The A used by the fixed point, as a node of the graph: the well-posedness rule applied to
    /// A, or to L·Rᵀ with each factor scaled into the κ ball (torchidl differentiates that scaling).
    public func stateMatrix() -> Tensor<Scalar> {
        let k = Scalar(kappa)
        let raw: Tensor<Scalar>
        if let L, let R {
            raw = matmul(scaledIntoInfinityBall(L, radius: k), scaledIntoInfinityBall(R.transposed, radius: k))
        } else {
            raw = A!
        }
        switch wellPosedness {
        case .infinityNorm:
            return straightThrough(raw) { $0.scaledIntoInfinityBall(radius: k) }
        case .rowL1Projection:
            return straightThrough(raw) { $0.rowsProjectedOntoL1Ball(radius: k) }
        case .strictlyUpperTriangular:
            return Tensor.custom(inputs: [raw], value: raw.value.strictlyUpperTriangular) { g in
                [g.strictlyUpperTriangular]
            }
        case .none:
            return raw
        }
    }

    /// The effective A (after the well-posedness rule) as a plain matrix.
    public var effectiveA: Matrix<Scalar> { stateMatrix().value }

    /// ‖A‖∞ and λ_pf(|A|) of the effective A.
    public var wellPosednessReport: WellPosednessReport { WellPosednessReport(effectiveA) }

    /// Inference on a plain p×m batch: Ŷ (q×m).
    ///
    /// - Parameter input: The batch U, p × m.
    /// - Returns: Ŷ, q × m.
    /// - Throws: ``IDLError/shapeMismatch(_:)`` if the input does not have `inputDim` rows;
    ///   ``IDLError/nonFinite(_:)`` when it has NaN or infinite entries.
    /// - Complexity: The columns are solved in blocks of ``inferenceBlockColumns`` samples, each
    ///   to the forward solver's stopping rule, so the solver's buffers stay in the cache and are
    ///   reused from block to block; the statistics recorded in ``log`` are those of the slowest
    ///   block (most iterations, largest residual, converged only when every block did). The
    ///   block size is a constant, so the result does not depend on the machine. The blocks are
    ///   shared among the workers of ``ThreadPolicy`` in contiguous ranges; a block is computed
    ///   the same way whichever worker takes it, so the result does not depend on their number.
    public func predict(_ input: Matrix<Scalar>) throws -> Matrix<Scalar> {
        try validate(input, initialState: nil)
        let m = input.cols
        let (n, q, p) = (hiddenDim, outputDim, inputDim)
        let pu = p + (bias ? 1 : 0)
        let a = stateMatrix().value
        let (b, c, d) = (B.value, C.value, D?.value)
        var y = Matrix<Scalar>(rows: q, cols: m)
        guard m > 0 else { return y }
        let width = min(m, Self.inferenceBlockColumns)
        let blockCount = (m + width - 1) / width
        var blockStats = [SolverStatistics?](repeating: nil, count: blockCount)
        let solver = forwardSettings.solver
        let (tolerance, budget) = (forwardSettings.tolerance, forwardSettings.maxIterations)
        let phi = activation
        y.storage.withUnsafeMutableBufferPointer { yp in
            blockStats.withUnsafeMutableBufferPointer { sp in
                let yOut = UncheckedMutablePointer(yp.baseAddress!)
                let statsOut = UncheckedMutablePointer(sp.baseAddress!)
                // Blocks are independent: each worker takes a range of them and reuses its buffers
                // (the inputs with the bias row, Z₀ = B U) from block to block.
                ThreadPolicy.forEachRange(blockCount) { blocks in
                    var ub = Matrix<Scalar>(rows: pu, cols: width, repeating: 1)
                    var z = Matrix<Scalar>(rows: n, cols: width)
                    for blockIndex in blocks {
                        let start = blockIndex * width
                        let cols = min(width, m - start)
                        if cols != ub.cols {
                            ub = Matrix(rows: pu, cols: cols, repeating: 1)
                            z = Matrix(rows: n, cols: cols)
                        }
                        input.storage.withUnsafeBufferPointer { src in
                            ub.storage.withUnsafeMutableBufferPointer { dst in
                                for j in 0..<cols {
                                    (dst.baseAddress! + j * pu).update(
                                        from: src.baseAddress! + (start + j) * p, count: p)
                                }
                            }
                        }
                        gemm(b, ub, into: &z)
                        let block = z
                        let (x, stats) = solver.solve(
                            initial: Matrix<Scalar>(rows: n, cols: cols), tolerance: tolerance, maxIterations: budget
                        ) { x, out in
                            equilibriumMap(a, x, block, phi, into: &out)
                        }
                        statsOut.pointer[blockIndex] = stats
                        // Ŷ's columns start ..< start + cols: C X + D U, written in place.
                        ub.storage.withUnsafeBufferPointer { up in
                            writeImplicitOutput(
                                c: c, d: d, state: x, input: up.baseAddress!, into: yOut.pointer + start * q)
                        }
                    }
                }
            }
        }
        let all = blockStats.compactMap { $0 }.reduce(nil) { (acc: SolverStatistics?, s) in acc?.combined(with: s) ?? s
        }
        if let all { log.recordForward(all) }
        return y
    }

    /// Samples per block in ``predict(_:)``: 256 columns keep the state, its next iterate and
    /// Z₀ of a model with n = 100 in Double within ~600 KB, the size of a core's L2 cache.
    public static var inferenceBlockColumns: Int { 256 }

    /// A plain feedforward-style description, e.g. for printing.
    public var summary: String {
        "ImplicitModel(p=\(inputDim), q=\(outputDim), n=\(hiddenDim)\(rank.map { ", rank \($0)" } ?? "")\(bias ? ", bias" : "")\(D == nil ? ", noD" : ""), κ=\(kappa), \(wellPosedness.rawValue), φ=\(activation.name)) — \(parameterCount) parameters"
    }
}

/// A node whose value is `transform(x)` and whose gradient passes straight through (identity),
/// as torchidl's projection of A inside its autograd Function.
func straightThrough<T>(_ x: Tensor<T>, _ transform: (Matrix<T>) -> Matrix<T>) -> Tensor<T> {
    Tensor.custom(inputs: [x], value: transform(x.value)) { g in [g] }
}

/// P(M) = M·κ/‖M‖∞ when ‖M‖∞ > κ, else M, **differentiated** (as torchidl's low-rank factors):
/// with s = ‖M‖∞ = Σⱼ|M_{i*j}| attained at row i*, ∂P/∂M applied to G is
/// (κ/s)·G − (κ/s²)·⟨G, M⟩·sign(M_{i*,·}) on row i*.
public func scaledIntoInfinityBall<T>(_ m: Tensor<T>, radius kappa: T) -> Tensor<T> {
    let v = m.value
    let sums = v.rowL1Norms
    guard let s = sums.max(), s > kappa else { return m }
    let iStar = sums.firstIndex(of: s)!
    return Tensor.custom(inputs: [m], value: v * (kappa / s)) { g in
        var gm = g * (kappa / s)
        let inner = (g * v).sum()
        let c = kappa / (s * s) * inner
        for j in 0..<v.cols {
            let x = v[iStar, j]
            let sign: T = x > 0 ? 1 : (x < 0 ? -1 : 0)
            gm[iStar, j] -= c * sign
        }
        return [gm]
    }
}
