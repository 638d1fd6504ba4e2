// Variants of a SIM fit used as baselines: the states scaled per block (a weighted ℓ1 penalty
// in the original coordinates) and a fit without the input-to-output map D.

extension SIMStates {
    /// The root mean square of the states X in each block of rows, e.g. one block per layer of
    /// the teacher (``StateExtraction/stateBlockSizes(of:inputDim:selection:)``, last layer
    /// first): √(Σ x² / (rows · samples)) over the block's entries.
    /// - Parameter blocks: the row count of each block; they must add up to n.
    /// - Returns: one value per block.
    /// - Throws: ``IDLError/shapeMismatch(_:)`` when the blocks do not add up to n or one is
    ///   negative.
    public func blockRootMeanSquares(blocks: [Int]) throws -> [Double] {
        try checkBlocks(blocks)
        var result = [Double]()
        var first = 0
        for size in blocks {
            var sum = 0.0
            for j in 0..<sampleCount {
                for i in first..<(first + size) {
                    let v = Double(states[i, j])
                    sum += v * v
                }
            }
            result.append(size == 0 ? 0 : (sum / Double(size * sampleCount)).squareRoot())
            first += size
        }
        return result
    }

    /// The same samples with the states X and pre-activations Z of block k multiplied by
    /// `factors[k]` (inputs U and outputs Y unchanged).
    ///
    /// For a positively homogeneous φ (ReLU: φ(cz) = cφ(z), c > 0) the scaled states are the
    /// states of the same network with its layers rescaled, so a SIM fitted to them is a SIM
    /// of the same function. Fitting in the scaled coordinates weighs the ℓ1 penalty on the
    /// weight from state j to state i by the scales of both: with S = diag(factors per row), the
    /// fitted Ã, B̃, C̃ equal S A S⁻¹, S B, C S⁻¹ of a fit in the original coordinates whose
    /// row i of (A, B) pays λ/s_i · (Σ_j |a_ij|/s_j + Σ_k |b_ik|) (the ℓ1 weights of a
    /// "features scaled per layer" fit), and whose row of C pays λ Σ_j |c_j|/s_j.
    /// - Parameters:
    ///   - factors: one positive finite factor per block.
    ///   - blocks: the row count of each block; they must add up to n.
    /// - Returns: the scaled states.
    /// - Throws: ``IDLError/shapeMismatch(_:)`` for blocks that do not add up to n or a factor
    ///   count other than the block count; ``IDLError/invalidArgument(_:)`` for a factor that is
    ///   not positive and finite, or an activation that is not positively homogeneous.
    public func scalingBlocks(by factors: [Double], blocks: [Int]) throws -> SIMStates {
        try checkBlocks(blocks)
        guard factors.count == blocks.count else {
            throw IDLError.shapeMismatch(
                "\(factors.count) factors for \(blocks.count) state blocks; give one per block")
        }
        if let bad = factors.first(where: { !($0 > 0 && $0.isFinite) }) {
            throw IDLError.invalidArgument("block scale factors must be positive and finite, got \(bad)")
        }
        guard activation is ReLU || activation is LeakyReLU else {
            throw IDLError.invalidArgument(
                "scaling state blocks needs a positively homogeneous activation (relu or leaky_relu), found \(activation.name)"
            )
        }
        var rowFactor = [T]()
        for (size, f) in zip(blocks, factors) { rowFactor += Array(repeating: T(f), count: size) }
        var x = states
        var z = preActivations
        for j in 0..<sampleCount {
            for i in 0..<stateCount {
                x[i, j] *= rowFactor[i]
                z[i, j] *= rowFactor[i]
            }
        }
        return try SIMStates(
            inputs: inputs, states: x, preActivations: z, outputs: outputs, activation: activation,
            constantInputRow: constantInputRow)
    }

    private func checkBlocks(_ blocks: [Int]) throws {
        guard blocks.allSatisfy({ $0 >= 0 }), blocks.reduce(0, +) == stateCount else {
            throw IDLError.shapeMismatch(
                "state blocks \(blocks) must be non-negative and add up to the \(stateCount) states")
        }
    }
}

extension SIMSolver {
    /// A SIM without the direct input-to-output map: (A, B) of `fit` kept, and stage 2 fitted
    /// again on the states alone, Y ≈ C X, so that D = 0. The states of stage 2 are regenerated
    /// with the fit's (A, B) when the solver's ``SIMSolver/regenerateStates`` is set (as in
    /// ``SIMSolver/fit(_:progress:)``), and the row problems are the solver's own
    /// (``SIMSolver/fitStage(features:targets:stateCount:lambda:constraint:progress:)`` with
    /// ``SIMSolver/lambdaOutput``).
    /// - Parameters:
    ///   - fit: a fit of `states` (its A and B are kept).
    ///   - states: the states the fit was made from.
    /// - Returns: the fit with the new C, D = 0, and the report of `fit` with stage 2's rows,
    ///   zero counts and warnings replaced.
    /// - Throws: ``IDLError/shapeMismatch(_:)`` when `fit` does not match `states`; what the
    ///   regeneration or the stage solver throws.
    public func fitWithoutD<T: BLASScalar>(replacingOutputOf fit: SIMFit<T>, states: SIMStates<T>) throws -> SIMFit<T> {
        let n = states.stateCount
        guard fit.A.rows == n, fit.A.cols == n, fit.B.rows == n, fit.B.cols == states.inputCount else {
            throw IDLError.shapeMismatch(
                "the fit's A (\(fit.A.shapeDescription)) and B (\(fit.B.shapeDescription)) do not match \(n) states and \(states.inputCount) inputs"
            )
        }
        var report = fit.report
        var x = states.states
        if regenerateStates {
            let tolerance = equilibrium.tolerance ?? 1e-10 * Swift.max(1, Double(states.states.maxAbs))
            let eq = try simEquilibrium(
                A: fit.A, B: fit.B, inputs: states.inputs, activation: states.activation, tolerance: tolerance,
                maxIterations: equilibrium.maxIterations)
            x = eq.states
        }
        let stage = try fitStage(
            features: x, targets: states.outputs, stateCount: n, lambda: lambdaOutput, constraint: .unconstrained,
            progress: nil)
        var c = stage.weights
        applyZeroThreshold(&c, zeroThreshold)
        let d = Matrix<T>(rows: states.outputCount, cols: states.inputCount)
        report.stage2Rows = stage.rows
        report.zeros = (fit.A.zeroCount, fit.B.zeroCount, c.zeroCount, d.count)
        report.warnings =
            report.warnings.filter { !$0.hasPrefix("stage 2") } + stage.warnings.map { "stage 2 (C, D = 0): " + $0 }
        return SIMFit(A: fit.A, B: fit.B, C: c, D: d, report: report)
    }
}
