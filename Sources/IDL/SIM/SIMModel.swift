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

    /// Wraps a fit.
    /// - Throws: the shape errors of ``ImplicitModel``.
    public init(_ fit: SIMFit<T>, activation: any Activation = ReLU(), tolerance: Double = 1e-6, maxIterations: Int = 1000) throws {
        self.fit = fit
        self.implicitModel = try ImplicitModel(A: fit.A, B: fit.B, C: fit.C, D: fit.D, kappa: 0.99, wellPosedness: .none,
                                               activation: activation, maxIterations: maxIterations, tolerance: tolerance)
    }

    /// Ŷ for a p×m batch.
    public func predict(_ inputs: Matrix<T>) throws -> Matrix<T> { try implicitModel.predict(inputs) }

    /// Classification accuracy on a data set (batches of `batchSize`).
    public func accuracy(on data: Dataset<T>, batchSize: Int = 10_000) throws -> Double {
        try evaluateAccuracy(implicitModel, data, batchSize: batchSize)
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
        return "SIM model n=\(fit.A.rows): nonzeros A \(fit.A.count - z.a)/\(fit.A.count), B \(fit.B.count - z.b)/\(fit.B.count), C \(fit.C.count - z.c)/\(fit.C.count), D \(fit.D.count - z.d)/\(fit.D.count) (total \(nonzeros), \(formatFixed(100 * sparsity, decimals: 1)) % zeros); \(r)"
    }
}
