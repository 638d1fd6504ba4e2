import IDL

// Assignment 1 · Forward solve and well-posedness. The handout is forward-solve/README.md.
// Write the bodies; keep the signatures (the grader calls them). Grade with
//     swift run -c release grade forward-solve

/// Your functions for the forward-solve assignment.
public enum ForwardSolve {
    /// Task 1. Picard iteration X_{k+1} = relu(A X_k + B U) from X_0 = 0 (n×m), stopped as soon
    /// as max_ij |X_{k+1} − X_k| < tolerance (then `converged` is true and `iterations` is k+1,
    /// the number of maps applied) or after `maxIterations` maps (then `converged` is false).
    /// Return the last iterate.
    public static func picard(
        A: Matrix<Double>, B: Matrix<Double>, U: Matrix<Double>, tolerance: Double, maxIterations: Int
    ) throws -> (X: Matrix<Double>, iterations: Int, converged: Bool) {
        throw NotImplemented()
    }

    /// Task 2. torchidl's well-posedness projection: A·κ/‖A‖∞ when ‖A‖∞ > κ, else A unchanged
    /// (‖A‖∞ = the largest absolute row sum).
    public static func scaleIntoInfinityBall(_ A: Matrix<Double>, kappa: Double) throws -> Matrix<Double> {
        throw NotImplemented()
    }

    /// Task 3. Each row of A replaced by its Euclidean projection onto {a : ‖a‖₁ ≤ radius}.
    public static func projectRowsOntoL1Ball(_ A: Matrix<Double>, radius: Double) throws -> Matrix<Double> {
        throw NotImplemented()
    }

    /// Task 4. The Perron–Frobenius eigenvalue λ_pf(|A|): the spectral radius of the entrywise
    /// absolute value of the square matrix A, to a relative accuracy of 1e-6.
    public static func perronFrobenius(_ A: Matrix<Double>) throws -> Double {
        throw NotImplemented()
    }
}
