import RealModule

/// A single-layer LSTM with PyTorch's equations, gate order and initialisation (`torch.nn.LSTM`,
/// one layer, batch-first input mapped to our step layout):
///
///     i = σ(W_ii x_t + b_ii + W_hi h_{t−1} + b_hi)
///     f = σ(W_if x_t + b_if + W_hf h_{t−1} + b_hf)
///     g = tanh(W_ig x_t + b_ig + W_hg h_{t−1} + b_hg)
///     o = σ(W_io x_t + b_io + W_ho h_{t−1} + b_ho)
///     c_t = f ∘ c_{t−1} + i ∘ g,    h_t = o ∘ tanh(c_t),    h_0 = c_0 = 0
///
/// The four gates are stacked in the order i, f, g, o: `weightIH` is 4h × p, `weightHH` 4h × h,
/// the biases 4h × 1 (PyTorch's `weight_ih_l0`, `weight_hh_l0`, `bias_ih_l0`, `bias_hh_l0`);
/// every entry is initialised uniform in [−1/√h, 1/√h].
///
/// Input: one p × batch matrix per time step (see `SequenceInput.swift`). The whole sequence is
/// one node of the graph with a hand-written backpropagation through time: the input products
/// of all steps are one gemm, each step adds one gemm for W_hh h_{t−1}, and the gate arithmetic
/// runs in fused, type-specialised loops. Gradients that decay through time are flushed to zero
/// once they become subnormal (below ≈1.2e-38 in Float), where the CPU is very slow.
public final class LSTM<Scalar: BLASScalar>: Layer {
    /// Input-to-hidden weights [W_ii; W_if; W_ig; W_io], 4h × p.
    public let weightIH: Tensor<Scalar>
    /// Hidden-to-hidden weights [W_hi; W_hf; W_hg; W_ho], 4h × h.
    public let weightHH: Tensor<Scalar>
    /// Input-to-hidden bias, 4h × 1.
    public let biasIH: Tensor<Scalar>
    /// Hidden-to-hidden bias, 4h × 1.
    public let biasHH: Tensor<Scalar>

    /// Features per step, p.
    public var inputDim: Int { weightIH.value.cols }
    /// Dimension of the hidden (and cell) state, h.
    public var hiddenDim: Int { weightHH.value.cols }

    /// An LSTM with PyTorch's initialisation: every weight and bias uniform in [−1/√h, 1/√h],
    /// drawn in the order weight_ih, weight_hh, bias_ih, bias_hh.
    /// - Parameters:
    ///   - inputDim: features per step, p.
    ///   - hiddenDim: state dimension h.
    ///   - generator: the seeded generator.
    /// - Throws: ``IDLError/invalidArgument(_:)`` for non-positive dimensions.
    public convenience init(inputDim: Int, hiddenDim: Int, using generator: inout SeededGenerator) throws {
        guard inputDim > 0, hiddenDim > 0 else {
            throw IDLError.invalidArgument("LSTM needs positive dimensions, got input \(inputDim), hidden \(hiddenDim)")
        }
        let k = 1 / Scalar(hiddenDim).squareRoot()
        let h4 = 4 * hiddenDim
        let wih = Matrix<Scalar>.randomUniform(h4, inputDim, -k, k, using: &generator)
        let whh = Matrix<Scalar>.randomUniform(h4, hiddenDim, -k, k, using: &generator)
        let bih = Matrix<Scalar>.randomUniform(h4, 1, -k, k, using: &generator)
        let bhh = Matrix<Scalar>.randomUniform(h4, 1, -k, k, using: &generator)
        try self.init(weightIH: wih, weightHH: whh, biasIH: bih, biasHH: bhh)
    }

    /// An LSTM with given weights (e.g. PyTorch's `weight_ih_l0`, `weight_hh_l0`, `bias_ih_l0`,
    /// `bias_hh_l0`; the biases as 4h × 1 columns).
    /// - Throws: ``IDLError/shapeMismatch(_:)`` when the shapes do not fit (4h × p, 4h × h,
    ///   4h × 1, 4h × 1), ``IDLError/nonFinite(_:)`` for NaN or infinite weights.
    public init(weightIH: Matrix<Scalar>, weightHH: Matrix<Scalar>, biasIH: Matrix<Scalar>, biasHH: Matrix<Scalar>)
        throws
    {
        let h = weightHH.cols
        guard h >= 1, weightHH.rows == 4 * h, weightIH.rows == 4 * h, weightIH.cols >= 1,
            biasIH.rows == 4 * h, biasIH.cols == 1, biasHH.rows == 4 * h, biasHH.cols == 1
        else {
            throw IDLError.shapeMismatch(
                "LSTM weights must be weight_ih 4h×p, weight_hh 4h×h, biases 4h×1; got \(weightIH.shapeDescription), \(weightHH.shapeDescription), \(biasIH.shapeDescription), \(biasHH.shapeDescription)"
            )
        }
        for (name, m) in [("weight_ih", weightIH), ("weight_hh", weightHH), ("bias_ih", biasIH), ("bias_hh", biasHH)]
        where !m.isFinite {
            throw IDLError.nonFinite("LSTM \(name) contains NaN or infinite entries")
        }
        self.weightIH = Tensor(parameter: weightIH, name: "weight_ih_l0")
        self.weightHH = Tensor(parameter: weightHH, name: "weight_hh_l0")
        self.biasIH = Tensor(parameter: biasIH, name: "bias_ih_l0")
        self.biasHH = Tensor(parameter: biasHH, name: "bias_hh_l0")
    }

    /// Runs the LSTM over a sequence batch and returns the last hidden state h_T (h × batch).
    /// - Parameter steps: one p × batch tensor per time step.
    /// - Throws: ``IDLError/invalidArgument(_:)`` for an empty sequence or batch,
    ///   ``IDLError/shapeMismatch(_:)`` for a wrong feature count or ragged batch sizes,
    ///   ``IDLError/nonFinite(_:)`` for NaN or infinite inputs.
    public func last(_ steps: [Tensor<Scalar>]) throws -> Tensor<Scalar> {
        try run(steps, all: false)
    }

    /// Runs the LSTM over a sequence batch and returns every hidden state, stacked: a (T·h) × batch
    /// tensor whose rows t·h ..< (t+1)·h hold h_{t+1} (the flattened layout of PyTorch's
    /// batch-first `output` of shape (batch, T, h)).
    /// - Throws: as ``last(_:)``.
    public func outputs(_ steps: [Tensor<Scalar>]) throws -> Tensor<Scalar> {
        try run(steps, all: true)
    }

    /// The `Layer` entry point: a flattened (T·p) × batch input (the bytes of a batch-first
    /// (batch, T, p) array) to the last hidden state h_T.
    /// - Throws: as ``last(_:)``, and ``IDLError/shapeMismatch(_:)`` when the rows are not a
    ///   multiple of p.
    public func callAsFunction(_ input: Tensor<Scalar>) throws -> Tensor<Scalar> {
        try last(try sequenceSteps(fromFlattened: input, features: inputDim))
    }

    /// Forward over all steps, recording what the backward pass needs, as one graph node.
    private func run(_ steps: [Tensor<Scalar>], all: Bool) throws -> Tensor<Scalar> {
        let m = try validateSequence(steps.map(\.value), features: inputDim, model: "LSTM")
        let h = hiddenDim
        let count = steps.count
        let wih = weightIH.value
        let whh = weightHH.value
        let bias = biasIH.value + biasHH.value
        // All input products at once: W_ih [x_1 … x_T] (4h × T·m), then + bias.
        let xs = Matrix.hcat(steps.map(\.value))
        var gates = matmul(wih, xs)  // becomes the activated gates, step by step
        var cells = Matrix<Scalar>(rows: h, cols: count * m)  // c_t of every step
        var hidden = Matrix<Scalar>(rows: h, cols: count * m)  // h_t of every step
        var tanhCells = Matrix<Scalar>(rows: h, cols: count * m)  // tanh(c_t), for the backward pass
        let block4 = 4 * h * m
        let block = h * m
        gates.storage.withUnsafeMutableBufferPointer { gp in
            cells.storage.withUnsafeMutableBufferPointer { cp in
                hidden.storage.withUnsafeMutableBufferPointer { hp in
                    tanhCells.storage.withUnsafeMutableBufferPointer { tp in
                        whh.storage.withUnsafeBufferPointer { wp in
                            bias.storage.withUnsafeBufferPointer { bp in
                                for t in 0..<count {
                                    let g = gp.baseAddress! + t * block4
                                    if t > 0 {
                                        Scalar.gemm(
                                            .none, .none, m: 4 * h, n: m, k: h, alpha: 1, a: wp.baseAddress!,
                                            lda: 4 * h,
                                            b: hp.baseAddress! + (t - 1) * block, ldb: h, beta: 1, c: g, ldc: 4 * h)
                                    }
                                    lstmStepForward(
                                        gates: g, bias: bp.baseAddress!,
                                        previousCell: t > 0 ? UnsafePointer(cp.baseAddress! + (t - 1) * block) : nil,
                                        cell: cp.baseAddress! + t * block, tanhCell: tp.baseAddress! + t * block,
                                        hidden: hp.baseAddress! + t * block, h: h, m: m)
                                }
                            }
                        }
                    }
                }
            }
        }
        let value: Matrix<Scalar>
        if all {
            // (T·h) × m with h_t in rows t·h ..< (t+1)·h: regroup the column blocks.
            var stacked = Matrix<Scalar>(rows: count * h, cols: m)
            for t in 0..<count {
                for j in 0..<m {
                    for r in 0..<h {
                        stacked.storage[j * count * h + t * h + r] = hidden.storage[t * block + j * h + r]
                    }
                }
            }
            value = stacked
        } else {
            value = hidden.columns(((count - 1) * m)..<(count * m))
        }
        let inputs = [weightIH, weightHH, biasIH, biasHH] + steps
        let xRequiresGrad = steps.map(\.requiresGrad)
        return Tensor.custom(inputs: inputs, value: value) { gOut in
            // ∂L/∂h_t of every step from the output's gradient.
            var dHidden = Matrix<Scalar>(rows: h, cols: count * m)
            if all {
                for t in 0..<count {
                    for j in 0..<m {
                        for r in 0..<h {
                            dHidden.storage[t * block + j * h + r] = gOut.storage[j * count * h + t * h + r]
                        }
                    }
                }
            } else {
                dHidden.setColumns((count - 1) * m, to: gOut)
            }
            var dGates = Matrix<Scalar>(rows: 4 * h, cols: count * m)
            var dCell = Matrix<Scalar>(rows: h, cols: m)
            var dWhh = Matrix<Scalar>(rows: 4 * h, cols: h)
            dGates.storage.withUnsafeMutableBufferPointer { dgp in
                dHidden.storage.withUnsafeMutableBufferPointer { dhp in
                    dCell.storage.withUnsafeMutableBufferPointer { dcp in
                        dWhh.storage.withUnsafeMutableBufferPointer { dwp in
                            gates.storage.withUnsafeBufferPointer { gp in
                                cells.storage.withUnsafeBufferPointer { cp in
                                    tanhCells.storage.withUnsafeBufferPointer { tp in
                                        hidden.storage.withUnsafeBufferPointer { hp in
                                            whh.storage.withUnsafeBufferPointer { wp in
                                                for t in stride(from: count - 1, through: 0, by: -1) {
                                                    let dg = dgp.baseAddress! + t * block4
                                                    lstmStepBackward(
                                                        gates: gp.baseAddress! + t * block4,
                                                        previousCell: t > 0 ? cp.baseAddress! + (t - 1) * block : nil,
                                                        tanhCell: tp.baseAddress! + t * block,
                                                        dHidden: dhp.baseAddress! + t * block, dCell: dcp.baseAddress!,
                                                        dGates: dg, h: h, m: m)
                                                    flushSubnormals(dg, count: block4)
                                                    flushSubnormals(dcp.baseAddress!, count: block)
                                                    if t > 0 {
                                                        // ∂L/∂h_{t−1} += W_hhᵀ dGates_t;  ∂L/∂W_hh += dGates_t h_{t−1}ᵀ.
                                                        Scalar.gemm(
                                                            .transpose, .none, m: h, n: m, k: 4 * h, alpha: 1,
                                                            a: wp.baseAddress!, lda: 4 * h,
                                                            b: dg, ldb: 4 * h, beta: 1,
                                                            c: dhp.baseAddress! + (t - 1) * block, ldc: h)
                                                        Scalar.gemm(
                                                            .none, .transpose, m: 4 * h, n: h, k: m, alpha: 1, a: dg,
                                                            lda: 4 * h,
                                                            b: hp.baseAddress! + (t - 1) * block, ldb: h, beta: 1,
                                                            c: dwp.baseAddress!, ldc: 4 * h)
                                                    }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            let dBias = dGates.rowSums()
            var grads: [Matrix<Scalar>?] = [matmul(dGates, xs, transposeB: true), dWhh, dBias, dBias]
            if xRequiresGrad.contains(true) {
                let dxs = matmul(wih, dGates, transposeA: true)  // p × T·m
                for t in 0..<count { grads.append(xRequiresGrad[t] ? dxs.columns((t * m)..<((t + 1) * m)) : nil) }
            } else {
                grads += [Matrix<Scalar>?](repeating: nil, count: count)
            }
            return grads
        }
    }
}

/// An LSTM followed by a Linear layer on the last hidden state, ŷ = W h_T + b: the baseline the
/// implicit RNN is compared with. For regression train it with ``mseLoss(_:_:reduction:)``; for
/// classification its output are the logits (use ``crossEntropyLoss(_:_:reduction:)``).
///
/// Input: one p × batch matrix per time step (see ``ImplicitRNN`` for the layout). Output: q × batch.
public final class LSTMRegressor<Scalar: BLASScalar>: Layer {
    /// The recurrent layer.
    public let lstm: LSTM<Scalar>
    /// The output layer on h_T, h → q.
    public let linear: Linear<Scalar>

    /// Features per step, p.
    public var inputDim: Int { lstm.inputDim }
    /// Output dimension q.
    public var outputDim: Int { linear.outputDim }
    /// Hidden state dimension h.
    public var hiddenDim: Int { lstm.hiddenDim }

    /// A freshly initialised model (PyTorch's initialisation for both layers; the LSTM first).
    /// - Parameters:
    ///   - inputDim: features per step, p.
    ///   - hiddenDim: LSTM state dimension h.
    ///   - outputDim: outputs q.
    ///   - generator: the seeded generator.
    /// - Throws: ``IDLError/invalidArgument(_:)`` for non-positive dimensions.
    public init(inputDim: Int, hiddenDim: Int, outputDim: Int, using generator: inout SeededGenerator) throws {
        guard outputDim > 0 else {
            throw IDLError.invalidArgument("LSTMRegressor needs a positive output dimension, got \(outputDim)")
        }
        lstm = try LSTM(inputDim: inputDim, hiddenDim: hiddenDim, using: &generator)
        linear = Linear(hiddenDim, outputDim, using: &generator)
    }

    /// The forward pass on a sequence batch: linear(h_T), q × batch.
    /// - Throws: as ``LSTM/last(_:)``.
    public func callAsFunction(_ steps: [Tensor<Scalar>]) throws -> Tensor<Scalar> {
        try linear(lstm.last(steps))
    }

    /// The forward pass on plain step matrices (e.g. ``SequenceBatch/steps``).
    /// - Throws: as ``LSTM/last(_:)``.
    public func callAsFunction(_ steps: [Matrix<Scalar>]) throws -> Tensor<Scalar> {
        try self(steps.map { Tensor($0) })
    }

    /// The `Layer` entry point: a flattened (T·p) × batch input to the q × batch output.
    /// - Throws: as ``LSTM/callAsFunction(_:)``.
    public func callAsFunction(_ input: Tensor<Scalar>) throws -> Tensor<Scalar> {
        try linear(lstm(input))
    }

    /// Inference on plain step matrices: q × batch.
    /// - Throws: as ``LSTM/last(_:)``.
    public func predict(_ steps: [Matrix<Scalar>]) throws -> Matrix<Scalar> {
        try self(steps).value
    }
}

/// The same model used as a classifier (its outputs are logits).
public typealias LSTMClassifier<Scalar: BLASScalar> = LSTMRegressor<Scalar>

// MARK: - Fused gate kernels

/// Sets subnormal entries of a buffer to zero (gradients decaying through time reach them, and
/// arithmetic on them is about a hundred times slower), type-specialised.
func flushSubnormals<T: BLASScalar>(_ p: UnsafeMutablePointer<T>, count: Int) {
    if T.self == Float.self {
        let q = rebind(p, Float.self)
        let smallest = Float.leastNormalMagnitude
        for i in 0..<count { q[i] = abs(q[i]) < smallest ? 0 : q[i] }
    } else if T.self == Double.self {
        let q = rebind(p, Double.self)
        let smallest = Double.leastNormalMagnitude
        for i in 0..<count { q[i] = abs(q[i]) < smallest ? 0 : q[i] }
    } else {
        for i in 0..<count where p[i].isSubnormal { p[i] = 0 }
    }
}

/// One LSTM step in place. `gates` (4h × m) holds W_ih x_t + W_hh h_{t−1} on entry and the
/// activated gates (i, f, g, o) on exit; writes c_t and h_t (h × m). `previousCell` nil means c_0 = 0.
/// The element type is made concrete before the loop, so it is specialised and vectorised.
@inline(never)
func lstmStepForward<T: BLASScalar>(
    gates: UnsafeMutablePointer<T>, bias: UnsafePointer<T>, previousCell: UnsafePointer<T>?,
    cell: UnsafeMutablePointer<T>, tanhCell: UnsafeMutablePointer<T>, hidden: UnsafeMutablePointer<T>, h: Int, m: Int
) {
    if T.self == Float.self {
        lstmForwardBody(
            gates: rebind(gates, Float.self), bias: rebind(bias, Float.self),
            previousCell: previousCell.map { rebind($0, Float.self) },
            cell: rebind(cell, Float.self), tanhCell: rebind(tanhCell, Float.self), hidden: rebind(hidden, Float.self),
            h: h, m: m)
    } else if T.self == Double.self {
        lstmForwardBody(
            gates: rebind(gates, Double.self), bias: rebind(bias, Double.self),
            previousCell: previousCell.map { rebind($0, Double.self) },
            cell: rebind(cell, Double.self), tanhCell: rebind(tanhCell, Double.self),
            hidden: rebind(hidden, Double.self), h: h, m: m)
    } else {
        preconditionFailure("BLASScalar is implemented by Float and Double only")
    }
}

/// The backward of one step. Given ∂L/∂h_t (`dHidden`, h × m, already including the recurrent
/// term) and ∂L/∂c_t from the later steps (`dCell`, h × m, updated in place to ∂L/∂c_{t−1}),
/// writes ∂L/∂(pre-activation gates) into `dGates` (4h × m).
@inline(never)
func lstmStepBackward<T: BLASScalar>(
    gates: UnsafePointer<T>, previousCell: UnsafePointer<T>?, tanhCell: UnsafePointer<T>,
    dHidden: UnsafePointer<T>, dCell: UnsafeMutablePointer<T>,
    dGates: UnsafeMutablePointer<T>, h: Int, m: Int
) {
    if T.self == Float.self {
        lstmBackwardBody(
            gates: rebind(gates, Float.self), previousCell: previousCell.map { rebind($0, Float.self) },
            tanhCell: rebind(tanhCell, Float.self),
            dHidden: rebind(dHidden, Float.self), dCell: rebind(dCell, Float.self), dGates: rebind(dGates, Float.self),
            h: h, m: m)
    } else if T.self == Double.self {
        lstmBackwardBody(
            gates: rebind(gates, Double.self), previousCell: previousCell.map { rebind($0, Double.self) },
            tanhCell: rebind(tanhCell, Double.self),
            dHidden: rebind(dHidden, Double.self), dCell: rebind(dCell, Double.self),
            dGates: rebind(dGates, Double.self), h: h, m: m)
    } else {
        preconditionFailure("BLASScalar is implemented by Float and Double only")
    }
}

@inline(__always)
private func rebind<T, U>(_ p: UnsafeMutablePointer<T>, _: U.Type) -> UnsafeMutablePointer<U> {
    UnsafeMutableRawPointer(p).assumingMemoryBound(to: U.self)
}

@inline(__always)
private func rebind<T, U>(_ p: UnsafePointer<T>, _: U.Type) -> UnsafePointer<U> {
    UnsafeRawPointer(p).assumingMemoryBound(to: U.self)
}

@inline(__always)
private func sigmoidStable<S: Real & BinaryFloatingPoint>(_ x: S) -> S {
    x >= 0
        ? 1 / (1 + S.exp(-x))
        : {
            let e = S.exp(x)
            return e / (1 + e)
        }()
}

/// tanh(x) = sign(x)·(1 − e^(−2|x|))/(1 + e^(−2|x|)): one exp instead of libm's tanh (which goes
/// through expm1 and is several times slower); accurate to a few ulps of 1 in absolute terms.
@inline(__always)
private func fastTanh<S: Real & BinaryFloatingPoint>(_ x: S) -> S {
    let e = S.exp(-2 * abs(x))
    let t = (1 - e) / (1 + e)
    return x < 0 ? -t : t
}

@inline(__always)
private func lstmForwardBody<S: Real & BinaryFloatingPoint>(
    gates: UnsafeMutablePointer<S>, bias: UnsafePointer<S>, previousCell: UnsafePointer<S>?,
    cell: UnsafeMutablePointer<S>, tanhCell: UnsafeMutablePointer<S>,
    hidden: UnsafeMutablePointer<S>, h: Int, m: Int
) {
    for j in 0..<m {
        let g = gates + j * 4 * h
        let c = cell + j * h
        let tc = tanhCell + j * h
        let y = hidden + j * h
        for r in 0..<h {
            let ig = sigmoidStable(g[r] + bias[r])
            let fg = sigmoidStable(g[h + r] + bias[h + r])
            let gg = fastTanh(g[2 * h + r] + bias[2 * h + r])
            let og = sigmoidStable(g[3 * h + r] + bias[3 * h + r])
            g[r] = ig
            g[h + r] = fg
            g[2 * h + r] = gg
            g[3 * h + r] = og
            let cPrev: S = previousCell.map { $0[j * h + r] } ?? 0
            let ct = fg * cPrev + ig * gg
            c[r] = ct
            let t = fastTanh(ct)
            tc[r] = t
            y[r] = og * t
        }
    }
}

@inline(__always)
private func lstmBackwardBody<S: Real & BinaryFloatingPoint>(
    gates: UnsafePointer<S>, previousCell: UnsafePointer<S>?, tanhCell: UnsafePointer<S>,
    dHidden: UnsafePointer<S>, dCell: UnsafeMutablePointer<S>,
    dGates: UnsafeMutablePointer<S>, h: Int, m: Int
) {
    for j in 0..<m {
        let g = gates + j * 4 * h
        let dg = dGates + j * 4 * h
        for r in 0..<h {
            let k = j * h + r
            let ig = g[r]
            let fg = g[h + r]
            let gg = g[2 * h + r]
            let og = g[3 * h + r]
            let tc = tanhCell[k]
            let dh = dHidden[k]
            let dc = dCell[k] + dh * og * (1 - tc * tc)
            let cPrev: S = previousCell.map { $0[k] } ?? 0
            dg[r] = dc * gg * ig * (1 - ig)
            dg[h + r] = dc * cPrev * fg * (1 - fg)
            dg[2 * h + r] = dc * ig * (1 - gg * gg)
            dg[3 * h + r] = dh * tc * og * (1 - og)
            dCell[k] = dc * fg
        }
    }
}
