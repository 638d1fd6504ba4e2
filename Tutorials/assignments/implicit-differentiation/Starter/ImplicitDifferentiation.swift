import IDL

// Assignment 2 · Implicit differentiation. The handout is implicit-differentiation/README.md.
// Write the bodies; keep the signatures (the grader calls them). Grade with
//     swift run -c release grade implicit-differentiation

/// Your functions for the implicit-differentiation assignment (φ = relu throughout).
public enum ImplicitDifferentiation {
    /// Task 1. The adjoint fixed point V = relu′(Z) ∘ (Aᵀ V + G), iterated from V = 0 until
    /// max |V_{k+1} − V_k| < tolerance or `maxIterations` steps. relu′(z) = 1 if z > 0, else 0.
    /// - Parameters: A n×n, Z = A X + B U at the fixed point (n×m), G = ∂L/∂X (n×m).
    public static func adjoint(
        A: Matrix<Double>, Z: Matrix<Double>, G: Matrix<Double>, tolerance: Double, maxIterations: Int
    ) throws -> Matrix<Double> {
        throw NotImplemented()
    }

    /// Task 2. For the model X = relu(A X + B U), Ŷ = C X + D U and the loss L = Σ_ij Ŷ_ij·dY_ij
    /// (so ∂L/∂Ŷ = dY), return ∂L/∂A, ∂L/∂B, ∂L/∂C, ∂L/∂D and ∂L/∂U. Solve the forward and the
    /// adjoint fixed points to tolerance 1e-13 (a budget of 100 000 iterations is plenty).
    public static func gradients(
        A: Matrix<Double>, B: Matrix<Double>, C: Matrix<Double>, D: Matrix<Double>, U: Matrix<Double>,
        dY: Matrix<Double>
    ) throws -> (dA: Matrix<Double>, dB: Matrix<Double>, dC: Matrix<Double>, dD: Matrix<Double>, dU: Matrix<Double>) {
        throw NotImplemented()
    }
}
