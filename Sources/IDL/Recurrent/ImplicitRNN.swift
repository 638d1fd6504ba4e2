/// A recurrent cell whose update is an implicit layer (torchidl's `ImplicitRNNCell`): a vanilla
/// RNN in which the linear-plus-activation update is replaced by an ``ImplicitModel`` with input
/// [x_t; h_{t−1}] (p + h rows, input first, then state) and output h (hidden n = implicit hidden):
///
///     X_t = φ(A X_t + B [x_t; h_{t−1}])      (solved by fixed-point iteration at every step)
///     h_t = C X_t + D [x_t; h_{t−1}],        h_0 = 0.
///
/// Input layout: one p × batch matrix per time step (see `SequenceInput.swift`; a batch-first
/// (batch, T, p) array is the flattened (T·p) × batch matrix). Each step calls the implicit layer,
/// so backpropagation through time runs the implicit backward (an adjoint fixed point) at every
/// step; the gradients of A, B, C, D accumulate over the steps. ``forward(_:)-([Tensor<Scalar>])`` builds that graph
/// step by step (every h_t is a node); ``last(_:)`` computes the same h_T and gradients as one
/// fused node, which is faster.
public final class ImplicitRNNCell<Scalar: BLASScalar>: Layer {
    /// The implicit layer: input p + h, output h, hidden n (torchidl's `recurrent.layer`).
    public let layer: ImplicitModel<Scalar>
    /// Input features per step, p.
    public let inputDim: Int
    /// Dimension of the recurrent state h.
    public let hiddenDim: Int
    /// Hidden dimension n of the implicit layer.
    public var implicitHiddenDim: Int { layer.hiddenDim }
    /// Start each step's forward solve from the previous step's implicit state X_{t−1} instead of
    /// zeros (default false, as torchidl). The fixed point is unique for a well-posed A, so this
    /// changes the result only within the solver tolerance, and usually saves iterations.
    public var warmStart: Bool = false

    /// A cell with a freshly initialised implicit layer (each matrix randn/n, as torchidl). The
    /// options are those of the implicit layer, as in
    /// ``ImplicitModel/init(inputDim:outputDim:hiddenDim:bias:noD:rank:kappa:wellPosedness:activation:solver:maxIterations:tolerance:gradMaxIterations:gradTolerance:using:)``.
    /// - Parameters:
    ///   - inputDim: features per step, p.
    ///   - implicitHiddenDim: the implicit layer's state dimension n.
    ///   - hiddenDim: the recurrent state dimension h.
    ///   - bias: append a constant-one row to the layer's input [x_t; h_{t−1}].
    ///   - noD: drop the layer's feedthrough D.
    ///   - rank: a low-rank A = L Rᵀ of this rank (nil: dense A).
    ///   - kappa: the radius κ of the well-posedness constraint ‖A‖∞ ≤ κ.
    ///   - wellPosedness: how A is kept well-posed.
    ///   - activation: the activation φ.
    ///   - solver: the fixed-point solver of the forward and backward solves.
    ///   - maxIterations: iteration budget of each forward solve.
    ///   - tolerance: tolerance of each forward solve.
    ///   - gradMaxIterations: iteration budget of each backward (adjoint) solve.
    ///   - gradTolerance: tolerance of each backward solve.
    ///   - generator: the seeded generator for the initial weights.
    /// - Throws: ``IDLError/invalidArgument(_:)`` for non-positive dimensions or bad options.
    public convenience init(
        inputDim: Int, implicitHiddenDim: Int, hiddenDim: Int,
        bias: Bool = false, noD: Bool = false, rank: Int? = nil,
        kappa: Double = 0.99, wellPosedness: WellPosedness = .infinityNorm,
        activation: any Activation = ReLU(), solver: any FixedPointSolver = Picard(),
        maxIterations: Int = 300, tolerance: Double = 3e-6,
        gradMaxIterations: Int = 300, gradTolerance: Double = 3e-6,
        using generator: inout SeededGenerator
    ) throws {
        guard inputDim > 0, hiddenDim > 0, implicitHiddenDim > 0 else {
            throw IDLError.invalidArgument(
                "ImplicitRNNCell needs positive dimensions, got input \(inputDim), implicit hidden \(implicitHiddenDim), hidden \(hiddenDim)"
            )
        }
        let layer = try ImplicitModel<Scalar>(
            inputDim: inputDim + hiddenDim, outputDim: hiddenDim, hiddenDim: implicitHiddenDim,
            bias: bias, noD: noD, rank: rank, kappa: kappa, wellPosedness: wellPosedness,
            activation: activation, solver: solver, maxIterations: maxIterations, tolerance: tolerance,
            gradMaxIterations: gradMaxIterations, gradTolerance: gradTolerance, using: &generator)
        try self.init(layer: layer, inputDim: inputDim)
    }

    /// A cell around a given implicit layer (e.g. with weights loaded from torchidl's
    /// `recurrent.layer.A/B/C/D`). The recurrent state dimension is the layer's output dimension.
    /// - Parameters:
    ///   - layer: an implicit model with input dimension `inputDim + layer.outputDim`.
    ///   - inputDim: features per step, p.
    /// - Throws: ``IDLError/shapeMismatch(_:)`` when the layer's input is not p + h wide.
    public init(layer: ImplicitModel<Scalar>, inputDim: Int) throws {
        guard inputDim > 0, layer.inputDim == inputDim + layer.outputDim else {
            throw IDLError.shapeMismatch(
                "the implicit layer of an RNN cell must take [x_t; h_{t−1}]: input p + h = \(inputDim) + \(layer.outputDim) = \(inputDim + layer.outputDim), got a layer with input \(layer.inputDim)"
            )
        }
        self.layer = layer
        self.inputDim = inputDim
        self.hiddenDim = layer.outputDim
    }

    /// Runs the cell over a sequence batch.
    /// - Parameter steps: one p × batch tensor per time step (at least one; all the same batch).
    /// - Returns: every h_t (h × batch, t = 1…T) and the last one, h_T.
    /// - Throws: ``IDLError/invalidArgument(_:)`` for an empty sequence or batch,
    ///   ``IDLError/shapeMismatch(_:)`` for a wrong feature count or ragged batch sizes,
    ///   ``IDLError/nonFinite(_:)`` for NaN or infinite inputs.
    public func forward(_ steps: [Tensor<Scalar>]) throws -> (outputs: [Tensor<Scalar>], last: Tensor<Scalar>) {
        let m = try validateSequence(steps.map(\.value), features: inputDim, model: "ImplicitRNNCell")
        var h = Tensor(Matrix<Scalar>(rows: hiddenDim, cols: m))
        var state: Matrix<Scalar>? = nil
        var outputs = [Tensor<Scalar>]()
        outputs.reserveCapacity(steps.count)
        for x in steps {
            let (y, xState) = try layer.forward(vcat([x, h]), initialState: warmStart ? state : nil)
            if warmStart { state = xState.value }
            h = y
            outputs.append(h)
        }
        return (outputs, h)
    }

    /// Runs the cell over a sequence batch and returns only the last state h_T (h × batch), as
    /// **one** node of the graph with a hand-written backpropagation through time. Values and
    /// gradients are those of ``forward(_:)-([Tensor<Scalar>])`` (the same fixed points forward and, at every step,
    /// the same adjoint fixed point V_t = Φ′_t ∘ (Aᵀ V_t + Cᵀ ∂L/∂h_t) backward), but the weight
    /// gradients are summed over the steps in one product each,
    ///
    ///     ∂L/∂A = Σ_t V_t X_tᵀ,  ∂L/∂B = Σ_t V_t U_tᵀ,  ∂L/∂C = Σ_t G_t X_tᵀ,  ∂L/∂D = Σ_t G_t U_tᵀ
    ///
    /// (U_t = [x_t; h_{t−1}], G_t = ∂L/∂h_t), instead of one thin product per step and per
    /// matrix, and no intermediate graph nodes are built. ``ImplicitRNN`` uses this path.
    ///
    /// Gradients that decay through time reach subnormal numbers (below ≈1.2e-38 in Float), on
    /// which the CPU's arithmetic is about a hundred times slower; the backward pass flushes them
    /// to zero at every step (as a flush-to-zero CPU mode would), a change far below rounding.
    /// - Parameter steps: one p × batch tensor per time step.
    /// - Throws: as ``forward(_:)-([Tensor<Scalar>])``.
    public func last(_ steps: [Tensor<Scalar>]) throws -> Tensor<Scalar> {
        let m = try validateSequence(steps.map(\.value), features: inputDim, model: "ImplicitRNNCell")
        let layer = self.layer
        let aNode = layer.stateMatrix()
        let a = aNode.value
        let b = layer.B.value
        let c = layer.C.value
        let d = layer.D?.value
        let p = inputDim
        let h = hiddenDim
        let n = layer.hiddenDim
        let width = p + h + (layer.bias ? 1 : 0)
        let activation = layer.activation
        let forwardSettings = layer.forwardSettings
        let backwardSettings = layer.backwardSettings
        var us = [Matrix<Scalar>]()
        var xs = [Matrix<Scalar>]()
        us.reserveCapacity(steps.count)
        xs.reserveCapacity(steps.count)
        var hCurrent = Matrix<Scalar>(rows: h, cols: m)
        for step in steps {
            // U_t = [x_t; h_{t−1}] (and a row of ones with bias), column by column.
            var u = Matrix<Scalar>(rows: width, cols: m, repeating: layer.bias ? 1 : 0)
            u.storage.withUnsafeMutableBufferPointer { up in
                step.value.storage.withUnsafeBufferPointer { xp in
                    hCurrent.storage.withUnsafeBufferPointer { hp in
                        for j in 0..<m {
                            (up.baseAddress! + j * width).update(from: xp.baseAddress! + j * p, count: p)
                            (up.baseAddress! + j * width + p).update(from: hp.baseAddress! + j * h, count: h)
                        }
                    }
                }
            }
            let z = matmul(b, u)
            let start = warmStart ? (xs.last ?? Matrix(rows: n, cols: m)) : Matrix(rows: n, cols: m)
            let (x, stats) = forwardSettings.solver.solve(
                initial: start, tolerance: forwardSettings.tolerance,
                maxIterations: forwardSettings.maxIterations
            ) { x, out in
                equilibriumMap(a, x, z, activation, into: &out)
            }
            layer.log.recordForward(stats)
            var next = matmul(c, x)
            if let d { gemm(d, u, into: &next, alpha: 1, beta: 1) }
            us.append(u)
            xs.append(x)
            hCurrent = next
        }
        let inputs = [aNode, layer.B, layer.C] + (layer.D.map { [$0] } ?? []) + steps
        let xRequiresGrad = steps.map(\.requiresGrad)
        let (uAll, xAll) = (us, xs)
        return Tensor.custom(inputs: inputs, value: hCurrent) { gOut in
            // Transposes made explicit once: BLAS is much faster on these thin products without
            // the transposed operand (see rnn-bench).
            let aT = a.transposed
            let bT = b.transposed
            let cT = c.transposed
            let dT = d?.transposed
            let count = uAll.count
            // Per step, vg = [V_t; G_t] and xu = [X_t; U_t], so that every weight gradient is
            // accumulated by one product w += vg · xuᵀ (buffers reused across the steps).
            var vg = Matrix<Scalar>(rows: n + h, cols: m)
            var xu = Matrix<Scalar>(rows: n + width, cols: m)
            var w = Matrix<Scalar>(rows: n + h, cols: n + width)  // [Σ V Xᵀ, Σ V Uᵀ; Σ G Xᵀ, Σ G Uᵀ]
            var gh = gOut  // ∂L/∂h_t
            var gxs = [Matrix<Scalar>?](repeating: nil, count: count)
            var dphi = Matrix<Scalar>(rows: n, cols: m)
            for t in stride(from: count - 1, through: 0, by: -1) {
                // h_t = C X_t + D U_t: ∂L/∂X_t = Cᵀ G_t, ∂L/∂U_t = Dᵀ G_t (+ Bᵀ V_t below).
                var gu = dT.map { matmul($0, gh) } ?? Matrix<Scalar>(rows: width, cols: m)
                let gx = matmul(cT, gh)
                // Φ′ at the fixed point: φ′(A X_t + B U_t).
                gemm(b, uAll[t], into: &dphi)
                gemm(a, xAll[t], into: &dphi, alpha: 1, beta: 1)
                activation.derivative(dphi, into: &dphi)
                var (v, stats) = backwardSettings.solver.solve(
                    initial: Matrix<Scalar>(rows: n, cols: m), tolerance: backwardSettings.tolerance,
                    maxIterations: backwardSettings.maxIterations
                ) { v, out in
                    // out = Φ′ ∘ (Aᵀ v + Cᵀ G_t)
                    out.storage.withUnsafeMutableBufferPointer { o in
                        gx.storage.withUnsafeBufferPointer { copyEntries($0, into: o.baseAddress!) }
                    }
                    gemm(aT, v, into: &out, alpha: 1, beta: 1)
                    out.storage.withUnsafeMutableBufferPointer { o in
                        dphi.storage.withUnsafeBufferPointer { Scalar.multiplyInPlace(o, by: $0) }
                    }
                }
                layer.log.recordBackward(stats)
                flushSubnormalsToZero(&v)
                gemm(bT, v, into: &gu, alpha: 1, beta: 1)
                flushSubnormalsToZero(&gu)
                stackColumns([(v, 0), (gh, n)], into: &vg, block: 0)
                stackColumns([(xAll[t], 0), (uAll[t], n)], into: &xu, block: 0)
                gemm(vg, xu, into: &w, transposeB: true, alpha: 1, beta: 1)
                if xRequiresGrad[t] { gxs[t] = gu.rows(0..<p) }
                gh = gu.rows(p..<(p + h))
            }
            var grads: [Matrix<Scalar>?] = [
                aNode.requiresGrad ? w.rows(0..<n).columns(0..<n) : nil,
                w.rows(0..<n).columns(n..<(n + width)),
                w.rows(n..<(n + h)).columns(0..<n),
            ]
            if d != nil { grads.append(w.rows(n..<(n + h)).columns(n..<(n + width))) }
            return grads + gxs
        }
    }

    /// Runs the cell over plain step matrices (no gradient with respect to the input).
    /// - Throws: as ``forward(_:)-([Tensor<Scalar>])``.
    public func forward(_ steps: [Matrix<Scalar>]) throws -> (outputs: [Tensor<Scalar>], last: Tensor<Scalar>) {
        try forward(steps.map { Tensor($0) })
    }

    /// The `Layer` entry point: a flattened (T·p) × batch input (steps stacked, step 0 on top —
    /// the bytes of a batch-first (batch, T, p) array) to the last state h_T (h × batch).
    /// - Throws: as ``forward(_:)-([Tensor<Scalar>])``, and ``IDLError/shapeMismatch(_:)`` when the rows are not a
    ///   multiple of p.
    public func callAsFunction(_ input: Tensor<Scalar>) throws -> Tensor<Scalar> {
        try last(try sequenceSteps(fromFlattened: input, features: inputDim))
    }
}

/// Implicit recurrent network (torchidl's `ImplicitRNN`): an ``ImplicitRNNCell`` followed by a
/// ``Linear`` layer on the last state, ŷ = W h_T + b.
///
/// Input: a sequence batch, one p × batch matrix per time step (`[Matrix]` or `[Tensor]`), e.g.
/// ``SequenceBatch/steps``; a batch-first (batch, T, p) numpy array maps onto it as
/// `steps[t] = x[:, t, :]ᵀ` (see ``sequenceSteps(fromFlattened:features:)->[Matrix<T>]``). Output: q × batch.
public final class ImplicitRNN<Scalar: BLASScalar>: Layer {
    /// The recurrent cell (torchidl's `recurrent`).
    public let recurrent: ImplicitRNNCell<Scalar>
    /// The output layer on h_T (torchidl's `linear`), h → q.
    public let linear: Linear<Scalar>

    /// Features per step, p.
    public var inputDim: Int { recurrent.inputDim }
    /// Output dimension q.
    public var outputDim: Int { linear.outputDim }
    /// The recurrent state dimension h.
    public var hiddenDim: Int { recurrent.hiddenDim }
    /// The implicit layer's hidden dimension n.
    public var implicitHiddenDim: Int { recurrent.implicitHiddenDim }
    /// The implicit layer (shortcut for `recurrent.layer`), e.g. for its solve log.
    public var implicitLayer: ImplicitModel<Scalar> { recurrent.layer }

    /// A freshly initialised model: the implicit layer first (randn/n), then the Linear layer
    /// (PyTorch's uniform initialisation), both from `generator`.
    /// - Parameters:
    ///   - inputDim: features per step, p.
    ///   - outputDim: outputs q.
    ///   - implicitHiddenDim: the implicit layer's state dimension n.
    ///   - hiddenDim: the recurrent state dimension h.
    ///   - bias: append a constant-one row to the layer's input [x_t; h_{t−1}].
    ///   - noD: drop the layer's feedthrough D.
    ///   - rank: a low-rank A = L Rᵀ of this rank (nil: dense A).
    ///   - kappa: the radius κ of the well-posedness constraint ‖A‖∞ ≤ κ.
    ///   - wellPosedness: how A is kept well-posed.
    ///   - activation: the activation φ.
    ///   - solver: the fixed-point solver of the forward and backward solves.
    ///   - maxIterations: iteration budget of each forward solve.
    ///   - tolerance: tolerance of each forward solve.
    ///   - gradMaxIterations: iteration budget of each backward (adjoint) solve.
    ///   - gradTolerance: tolerance of each backward solve.
    ///   - generator: the seeded generator.
    /// - Throws: ``IDLError/invalidArgument(_:)`` for non-positive dimensions or bad options.
    public convenience init(
        inputDim: Int, outputDim: Int, implicitHiddenDim: Int, hiddenDim: Int,
        bias: Bool = false, noD: Bool = false, rank: Int? = nil,
        kappa: Double = 0.99, wellPosedness: WellPosedness = .infinityNorm,
        activation: any Activation = ReLU(), solver: any FixedPointSolver = Picard(),
        maxIterations: Int = 300, tolerance: Double = 3e-6,
        gradMaxIterations: Int = 300, gradTolerance: Double = 3e-6,
        using generator: inout SeededGenerator
    ) throws {
        guard outputDim > 0 else {
            throw IDLError.invalidArgument("ImplicitRNN needs a positive output dimension, got \(outputDim)")
        }
        let cell = try ImplicitRNNCell<Scalar>(
            inputDim: inputDim, implicitHiddenDim: implicitHiddenDim, hiddenDim: hiddenDim,
            bias: bias, noD: noD, rank: rank, kappa: kappa, wellPosedness: wellPosedness,
            activation: activation, solver: solver, maxIterations: maxIterations, tolerance: tolerance,
            gradMaxIterations: gradMaxIterations, gradTolerance: gradTolerance, using: &generator)
        try self.init(recurrent: cell, linear: Linear(hiddenDim, outputDim, using: &generator))
    }

    /// A model from a cell and an output layer (e.g. loaded weights).
    /// - Throws: ``IDLError/shapeMismatch(_:)`` when the Linear layer does not take h inputs.
    public init(recurrent: ImplicitRNNCell<Scalar>, linear: Linear<Scalar>) throws {
        guard linear.inputDim == recurrent.hiddenDim else {
            throw IDLError.shapeMismatch(
                "the output layer must take the recurrent state (\(recurrent.hiddenDim) inputs), got Linear(\(linear.inputDim) → \(linear.outputDim))"
            )
        }
        self.recurrent = recurrent
        self.linear = linear
    }

    /// The forward pass on a sequence batch: linear(h_T), q × batch.
    /// - Parameter steps: one p × batch tensor per time step (pass `requiresGrad: true` leaves
    ///   to get ∂L/∂x_t).
    /// - Throws: as ``ImplicitRNNCell/forward(_:)-([Tensor<Scalar>])``.
    public func callAsFunction(_ steps: [Tensor<Scalar>]) throws -> Tensor<Scalar> {
        try linear(recurrent.last(steps))
    }

    /// The forward pass on plain step matrices (e.g. ``SequenceBatch/steps``).
    /// - Throws: as ``ImplicitRNNCell/forward(_:)-([Tensor<Scalar>])``.
    public func callAsFunction(_ steps: [Matrix<Scalar>]) throws -> Tensor<Scalar> {
        try self(steps.map { Tensor($0) })
    }

    /// The `Layer` entry point: a flattened (T·p) × batch input (the bytes of a batch-first
    /// (batch, T, p) array) to the q × batch output.
    /// - Throws: as ``ImplicitRNNCell/callAsFunction(_:)``.
    public func callAsFunction(_ input: Tensor<Scalar>) throws -> Tensor<Scalar> {
        try linear(recurrent(input))
    }

    /// Inference on plain step matrices: q × batch.
    /// - Throws: as ``ImplicitRNNCell/forward(_:)-([Tensor<Scalar>])``.
    public func predict(_ steps: [Matrix<Scalar>]) throws -> Matrix<Scalar> {
        try self(steps).value
    }

    /// A one-line description.
    public var summary: String {
        "ImplicitRNN(p=\(inputDim), h=\(hiddenDim), q=\(outputDim)), \(parameterCount) parameters in all; implicit layer: \(implicitLayer.summary)"
    }
}

/// Copies each part (rows × m) into column block `block` (columns block·m ..< (block+1)·m) of
/// `target`, starting at the given row.
func stackColumns<T: BLASScalar>(_ parts: [(Matrix<T>, Int)], into target: inout Matrix<T>, block: Int) {
    let ld = target.rows
    target.storage.withUnsafeMutableBufferPointer { tp in
        for (part, row) in parts {
            let r = part.rows
            let m = part.cols
            let base = tp.baseAddress! + block * m * ld + row
            part.storage.withUnsafeBufferPointer { pp in
                for j in 0..<m { (base + j * ld).update(from: pp.baseAddress! + j * r, count: r) }
            }
        }
    }
}

/// Sets every subnormal entry (0 < |x| < the smallest normal number) to zero, in one
/// type-specialised pass.
func flushSubnormalsToZero<T: BLASScalar>(_ m: inout Matrix<T>) {
    m.storage.withUnsafeMutableBufferPointer { buffer in
        guard let base = buffer.baseAddress else { return }
        if T.self == Float.self {
            flushBody(UnsafeMutableRawPointer(base).assumingMemoryBound(to: Float.self), buffer.count)
        } else if T.self == Double.self {
            flushBody(UnsafeMutableRawPointer(base).assumingMemoryBound(to: Double.self), buffer.count)
        } else {
            for i in 0..<buffer.count where buffer[i].isSubnormal { buffer[i] = 0 }
        }
    }
}

@inline(__always)
private func flushBody<S: BinaryFloatingPoint>(_ p: UnsafeMutablePointer<S>, _ count: Int) {
    let smallest = S.leastNormalMagnitude
    for i in 0..<count { p[i] = abs(p[i]) < smallest ? 0 : p[i] }
}
