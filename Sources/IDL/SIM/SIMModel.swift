import Foundation

/// A fitted state-driven implicit model: X = φ(A X + B U), Ŷ = C X + D U with the matrices a
/// ``SIMSolver`` found, ready for inference, evaluation and reports.
///
/// It is an ``ImplicitModel`` underneath (``implicitModel``), with no well-posedness rule of its
/// own — the solver already enforced ‖A‖∞ ≤ κ or triangularity — so everything that works on
/// implicit models works here too: saving (`implicitModel.save(to:)`), certificates, attacks,
/// fine-tuning.
public struct SIMModel<T: BLASScalar> {
    /// The fitted matrices and the solver's report.
    public let fit: SIMFit<T>
    /// The same model as an ``ImplicitModel`` (Picard, tolerance 1e-6 relative to the rounding floor of T).
    public let implicitModel: ImplicitModel<T>

    /// How raw inputs are mapped to the inputs the fit saw (nil: used as they are); see
    /// ``SIMStates/standardizingInputs(minimumScale:)``.
    public let inputStandardizer: Standardizer<T>?

    /// Whether the fit's inputs end with a constant-one row that raw inputs lack (the biases of
    /// the teacher, or the row a standardizer adds). The ``implicitModel`` then has `bias` set
    /// and appends the row itself, also after saving and loading.
    public var constantInputRow: Bool { implicitModel.bias }

    /// Wraps a fit.
    ///
    /// - Parameters:
    ///   - fit: The fitted matrices.
    ///   - inputStandardizer: The standardizer, when the states' inputs were standardised
    ///     (their last row is then the constant 1).
    ///   - activation: φ of X = φ(A X + B U): the teacher's (``SIMStates/activation``).
    ///   - constantInputRow: Whether the last column of B and D multiplies a constant-one input
    ///     row (``SIMStates/constantInputRow``; implied by a standardizer).
    ///   - tolerance: The Picard stopping threshold of inference (torchidl's `atol`).
    ///   - maxIterations: The Picard budget of inference.
    /// - Throws: the shape errors of ``ImplicitModel``.
    public init(
        _ fit: SIMFit<T>, inputStandardizer: Standardizer<T>? = nil, activation: any Activation = ReLU(),
        constantInputRow: Bool = false, tolerance: Double = 1e-6, maxIterations: Int = 1000
    ) throws {
        self.fit = fit
        self.inputStandardizer = inputStandardizer
        self.implicitModel = try ImplicitModel(
            A: fit.A, B: fit.B, C: fit.C, D: fit.D, bias: constantInputRow || inputStandardizer != nil, kappa: 0.99,
            wellPosedness: .none, activation: activation, maxIterations: maxIterations, tolerance: tolerance)
    }

    /// Wraps a fit of `states`, with their activation and constant row.
    ///
    /// - Parameters:
    ///   - fit: The matrices fitted to `states`.
    ///   - states: The states the fit saw (for ``SIMStates/activation`` and ``SIMStates/constantInputRow``).
    ///   - inputStandardizer: The standardizer returned with standardised states.
    ///   - tolerance: The Picard stopping threshold of inference (torchidl's `atol`).
    ///   - maxIterations: The Picard budget of inference.
    /// - Throws: the shape errors of ``ImplicitModel``.
    public init(
        _ fit: SIMFit<T>, states: SIMStates<T>, inputStandardizer: Standardizer<T>? = nil, tolerance: Double = 1e-6,
        maxIterations: Int = 1000
    ) throws {
        try self.init(
            fit, inputStandardizer: inputStandardizer, activation: states.activation,
            constantInputRow: states.constantInputRow, tolerance: tolerance, maxIterations: maxIterations)
    }

    /// The inputs as the fit saw them: standardised when a standardizer is set, with the
    /// constant row when the fit had one.
    ///
    /// - Parameter inputs: Raw inputs, p × m.
    /// - Returns: The inputs themselves, or [(U − μ)/σ; 1] / [U; 1] ((p+1) × m).
    /// - Throws: ``IDLError/shapeMismatch(_:)`` if the standardizer was fitted to another p.
    public func modelInputs(_ inputs: Matrix<T>) throws -> Matrix<T> {
        let u = try inputStandardizer?.transform(inputs) ?? inputs
        return constantInputRow ? Matrix.vcat([u, Matrix<T>.ones(1, inputs.cols)]) : u
    }

    /// Ŷ for a p×m batch of raw inputs.
    ///
    /// - Parameter inputs: Raw inputs, p × m.
    /// - Returns: Ŷ, q × m.
    /// - Throws: ``IDLError/shapeMismatch(_:)`` for a wrong number of input features;
    ///   ``IDLError/nonFinite(_:)`` when the inputs have NaN or infinite entries.
    ///
    /// The products use the sparse (CSR) forms of the weights when at most
    /// ``sparseDensityLimit`` of their entries are nonzero — where that was measured faster — and
    /// the dense ones otherwise; both give the same outputs to rounding.
    public func predict(_ inputs: Matrix<T>) throws -> Matrix<T> {
        if density <= Self.sparseDensityLimit {
            guard inputs.isFinite else { throw IDLError.nonFinite("the input batch contains NaN or infinite entries") }
            let (y, stats) = try predictSparse(
                inputs, tolerance: implicitModel.forwardSettings.tolerance,
                maxIterations: implicitModel.forwardSettings.maxIterations)
            implicitModel.log.recordForward(stats)
            return y
        }
        return try implicitModel.predict(inputStandardizer?.transform(inputs) ?? inputs)
    }

    /// The share of nonzero weights up to which ``predict(_:)`` uses the sparse products: 25 %.
    /// Measured on an AMD EPYC (Zen 5, AVX-512 kernel; `sim-bench --sparse-densities` and
    /// `sim-bench --states`, CPU time of one worker): the SIM benchmark's model (23 % nonzeros,
    /// 80 Picard iterations) evaluates 10 000 images 1.56× faster sparse than dense; random
    /// SIM-shaped models with few Picard iterations are 1.1–1.4× faster at ≤ 20 % and within
    /// 2 % of dense at 25 %, while at 30 % and above sparse is slower. A constant, so which
    /// path runs (and the rounding) does not depend on timing.
    public static var sparseDensityLimit: Double { 0.25 }

    /// Share of nonzero entries among all entries of A, B, C, D (1 − ``sparsity``).
    public var density: Double { 1 - sparsity }

    /// Ŷ computed with the sparse (CSR) forms of A, B, C, D: the same Picard iteration and
    /// stopping rule as ``predict(_:)``, with every product touching only the nonzero weights.
    /// Faster than the dense path when the weights are mostly zeros.
    ///
    /// - Parameters:
    ///   - inputs: Raw inputs, p × m.
    ///   - tolerance: The Picard stopping threshold on ‖X_{k+1} − X_k‖_max.
    ///   - maxIterations: The Picard iteration budget.
    /// - Returns: Ŷ (q × m) and the statistics of the fixed-point solve.
    /// - Throws: ``IDLError/shapeMismatch(_:)`` for a wrong number of input features.
    /// - Complexity: Per Picard iteration O((nnz(A) + n)·m) for n states and m samples; once
    ///   O((nnz(B) + nnz(C) + nnz(D))·m) and the conversion of the four matrices to CSR. The
    ///   samples are solved in blocks of ``ImplicitModel/inferenceBlockColumns``, each to the
    ///   stopping rule, as in the dense path; the statistics are those of the slowest block.
    public func predictSparse(_ inputs: Matrix<T>, tolerance: Double = 1e-6, maxIterations: Int = 1000) throws -> (
        outputs: Matrix<T>, statistics: SolverStatistics
    ) {
        let u = try modelInputs(inputs)
        guard u.rows == fit.B.cols else {
            throw IDLError.shapeMismatch(
                "the SIM model expects \(fit.B.cols - (constantInputRow ? 1 : 0)) input features per sample, got \(inputs.rows)"
            )
        }
        let (a, b, c, d) = (SparseMatrix(fit.A), SparseMatrix(fit.B), SparseMatrix(fit.C), SparseMatrix(fit.D))
        let (n, q, m, p) = (fit.A.rows, fit.C.rows, u.cols, u.rows)
        // Samples as rows (Uᵀ, Xᵀ, Yᵀ), so that every product is the CPU's vector kernel over
        // contiguous samples; solved in blocks of the dense path's width, each to the stopping
        // rule, the blocks shared among the workers in contiguous ranges (a block is computed the
        // same way whichever worker takes it).
        var yt = Matrix<T>(rows: m, cols: q)
        let width = Swift.max(1, Swift.min(m, ImplicitModel<T>.inferenceBlockColumns))
        let blockCount = (m + width - 1) / width
        var blockStats = [SolverStatistics?](repeating: nil, count: blockCount)
        let activation = implicitModel.activation
        yt.storage.withUnsafeMutableBufferPointer { yp in
            blockStats.withUnsafeMutableBufferPointer { sp in
                let yOut = UncheckedMutablePointer(yp.baseAddress!)
                let statsOut = UncheckedMutablePointer(sp.baseAddress!)
                ThreadPolicy.forEachRange(blockCount) { blocks in
                    var ut = Matrix<T>(rows: width, cols: p)
                    var zt = Matrix<T>(rows: width, cols: n)
                    for blockIndex in blocks {
                        let start = blockIndex * width
                        let cols = Swift.min(width, m - start)
                        if cols != ut.rows {
                            ut = Matrix<T>(rows: cols, cols: p)
                            zt = Matrix<T>(rows: cols, cols: n)
                        }
                        // Uᵀ of the block's samples.
                        u.storage.withUnsafeBufferPointer { src in
                            ut.storage.withUnsafeMutableBufferPointer { dst in
                                for s in 0..<cols {
                                    let column = src.baseAddress! + (start + s) * p
                                    for j in 0..<p { dst[s + j * cols] = column[j] }
                                }
                            }
                        }
                        b.multiplyTransposed(ut, into: &zt)
                        let block = zt
                        let (xt, stats) = Picard().solve(
                            initial: Matrix<T>(rows: cols, cols: n), tolerance: tolerance, maxIterations: maxIterations
                        ) { x, out in
                            out.storage.withUnsafeMutableBufferPointer { o in
                                block.storage.withUnsafeBufferPointer { copyEntries($0, into: o.baseAddress!) }
                            }
                            a.multiplyTransposed(x, into: &out, beta: 1)
                            activation.apply(out, into: &out)
                        }
                        statsOut.pointer[blockIndex] = stats
                        xt.storage.withUnsafeBufferPointer { xp in
                            ut.storage.withUnsafeBufferPointer { up in
                                let out = yOut.pointer + start
                                denseTimesSparseColumns(
                                    rows: cols, xp.baseAddress!, ldm: cols, c.rowsAsColumns, into: out, ldy: m)
                                denseTimesSparseColumns(
                                    rows: cols, up.baseAddress!, ldm: cols, d.rowsAsColumns, beta: 1, into: out, ldy: m)
                            }
                        }
                    }
                }
            }
        }
        let all = blockStats.compactMap { $0 }.reduce(nil) { (acc: SolverStatistics?, s) in acc?.combined(with: s) ?? s
        }
        let stats = all ?? SolverStatistics(converged: true, iterations: 0, residual: 0, residualTrace: [])
        return (yt.transposed, stats)
    }

    /// Classification accuracy on a data set of raw inputs (batches of `batchSize`).
    ///
    /// - Parameters:
    ///   - data: Raw inputs and labels.
    ///   - batchSize: Samples per prediction.
    /// - Returns: The share of samples whose largest output is the label, in [0, 1].
    /// - Throws: ``IDLError/invalidArgument(_:)`` for a batch size below 1; as ``predict(_:)``.
    public func accuracy(on data: Dataset<T>, batchSize: Int = 10_000) throws -> Double {
        var correct = 0
        for batch in try data.batches(size: batchSize) {
            correct += zip(try predict(batch.inputs).argmaxPerColumn(), batch.labels).filter { $0 == $1 }.count
        }
        return data.count == 0 ? 0 : Double(correct) / Double(data.count)
    }

    /// Exact zeros in A, B, C, D.
    public var zeros: (a: Int, b: Int, c: Int, d: Int) {
        (fit.A.zeroCount, fit.B.zeroCount, fit.C.zeroCount, fit.D.zeroCount)
    }

    /// Nonzero weights in A, B, C, D together.
    public var nonzeros: Int {
        let z = zeros
        return fit.A.count + fit.B.count + fit.C.count + fit.D.count - (z.a + z.b + z.c + z.d)
    }

    /// Share of exact zeros among all entries of A, B, C, D.
    public var sparsity: Double {
        let total = fit.A.count + fit.B.count + fit.C.count + fit.D.count
        return total == 0 ? 0 : 1 - Double(nonzeros) / Double(total)
    }

    /// ‖A‖∞ and λ_pf(|A|).
    public var wellPosednessReport: WellPosednessReport { WellPosednessReport(fit.A) }

    /// A one-line summary: nonzeros per matrix, ‖A‖∞, λ_pf.
    public var summary: String {
        let z = zeros
        let r = wellPosednessReport
        return
            "SIM model n=\(fit.A.rows): nonzeros A \(fit.A.count - z.a)/\(fit.A.count), B \(fit.B.count - z.b)/\(fit.B.count), C \(fit.C.count - z.c)/\(fit.C.count), D \(fit.D.count - z.d)/\(fit.D.count) (total \(nonzeros), \(formatFixed(100 * sparsity, decimals: 1)) % zeros); \(r)"
    }
}
