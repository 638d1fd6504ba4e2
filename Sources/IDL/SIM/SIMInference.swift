import RealModule

// SIM inference: the equilibrium X = φ(A X + B U) of a fitted model, by Picard iteration.

/// The outcome of a Picard solve of X = φ(A X + B U).
public struct SIMEquilibrium<T: BLASScalar>: Sendable {
    /// The state X (n×m), the last iterate.
    public var states: Matrix<T>
    /// Iterations performed.
    public var iterations: Int
    /// ‖X_k − X_{k−1}‖∞ (largest absolute entry change) of the last iteration.
    public var residual: Double
    /// Whether `residual < tolerance` was reached within the iteration budget.
    public var converged: Bool
}

/// **SIM inference routine.** Solves X = φ(A X + B U) by Picard iteration
/// X_{k+1} = φ(A X_k + B U) from X_0 = 0 (the ``Picard`` solver of the implicit models, with
/// its stopping rule: ‖X_{k+1} − X_k‖_max below `tolerance` or the rounding floor), or
/// `maxIterations`. φ is ReLU unless given.
///
/// Converges linearly with rate ‖A‖∞ when ‖A‖∞ < 1 and φ is 1-Lipschitz (ReLU, leaky ReLU,
/// tanh, sigmoid, softplus), and in at most n iterations when A is strictly upper triangular.
/// Otherwise it may diverge; the result then says `converged == false` (never fails silently).
/// - Throws: ``IDLError/shapeMismatch(_:)`` for incompatible shapes,
///   ``IDLError/invalidArgument(_:)`` for a non-positive tolerance or iteration budget.
@_specialize(where T == Double)
@_specialize(where T == Float)
public func simEquilibrium<T: BLASScalar>(
    A: Matrix<T>, B: Matrix<T>, inputs U: Matrix<T>, activation: any Activation = ReLU(), tolerance: Double = 1e-12,
    maxIterations: Int = 1000
) throws -> SIMEquilibrium<T> {
    guard A.rows == A.cols else {
        throw IDLError.shapeMismatch("A must be square (n×n), got \(A.shapeDescription)")
    }
    guard B.rows == A.rows, B.cols == U.rows else {
        throw IDLError.shapeMismatch(
            "B must be n×p with n = \(A.rows) (rows of A) and p = \(U.rows) (rows of U), got \(B.shapeDescription)")
    }
    guard tolerance > 0, maxIterations > 0 else {
        throw IDLError.invalidArgument(
            "the Picard tolerance and iteration budget must be positive, got tolerance \(tolerance), maxIterations \(maxIterations)"
        )
    }
    // The same Picard iteration and stopping rule as the implicit models' forward solve.
    let bu = matmul(B, U)
    let (x, stats) = Picard().solve(
        initial: Matrix<T>(rows: A.rows, cols: U.cols), tolerance: tolerance,
        maxIterations: maxIterations
    ) { x, out in
        equilibriumMap(A, x, bu, activation, into: &out)
    }
    return SIMEquilibrium(states: x, iterations: stats.iterations, residual: stats.residual, converged: stats.converged)
}

/// Predicts with a fitted SIM model: X = φ(A X + B U) by
/// ``simEquilibrium(A:B:inputs:activation:tolerance:maxIterations:)``, then Ŷ = C X + D U.
/// - Throws: shape errors as ``simEquilibrium(A:B:inputs:activation:tolerance:maxIterations:)``.
public func simPredict<T: BLASScalar>(
    _ fit: SIMFit<T>, inputs U: Matrix<T>, activation: any Activation = ReLU(), tolerance: Double = 1e-12,
    maxIterations: Int = 1000
) throws -> (outputs: Matrix<T>, equilibrium: SIMEquilibrium<T>) {
    let eq = try simEquilibrium(
        A: fit.A, B: fit.B, inputs: U, activation: activation, tolerance: tolerance, maxIterations: maxIterations)
    guard fit.C.cols == fit.A.rows, fit.D.cols == U.rows, fit.D.rows == fit.C.rows else {
        throw IDLError.shapeMismatch(
            "C (\(fit.C.shapeDescription)) and D (\(fit.D.shapeDescription)) do not fit n = \(fit.A.rows), p = \(U.rows)"
        )
    }
    var y = matmul(fit.C, eq.states)
    gemm(fit.D, U, into: &y, alpha: 1, beta: 1)
    return (y, eq)
}
