import IDL

// Assignment 2 · Implicit differentiation: the reference solution.

/// The reference solutions of the implicit-differentiation assignment.
public enum ImplicitDifferentiation {
    /// Task 1: V ← relu′(Z) ∘ (Aᵀ V + G) from V = 0.
    public static func adjoint(
        A: Matrix<Double>, Z: Matrix<Double>, G: Matrix<Double>, tolerance: Double, maxIterations: Int
    ) throws -> Matrix<Double> {
        let mask = Z.map { $0 > 0 ? 1 : 0 }
        var v = Matrix<Double>(rows: G.rows, cols: G.cols)
        for _ in 0..<max(1, maxIterations) {
            let next = mask * (matmul(A, v, transposeA: true) + G)
            let change = (next - v).maxAbs
            v = next
            if change < tolerance { break }
        }
        return v
    }

    /// Task 2: forward solve, then G = Cᵀ dY, the adjoint V, and
    /// ∂L/∂A = V Xᵀ, ∂L/∂B = V Uᵀ, ∂L/∂C = dY Xᵀ, ∂L/∂D = dY Uᵀ, ∂L/∂U = Bᵀ V + Dᵀ dY.
    public static func gradients(
        A: Matrix<Double>, B: Matrix<Double>, C: Matrix<Double>, D: Matrix<Double>, U: Matrix<Double>,
        dY: Matrix<Double>
    ) throws -> (dA: Matrix<Double>, dB: Matrix<Double>, dC: Matrix<Double>, dD: Matrix<Double>, dU: Matrix<Double>) {
        let forward = try ForwardSolve.picard(A: A, B: B, U: U, tolerance: 1e-13, maxIterations: 100_000)
        guard forward.converged else {
            throw IDLError.numerical("the forward solve did not converge in 100 000 iterations")
        }
        let x = forward.X
        let z = matmul(A, x) + matmul(B, U)
        let g = matmul(C, dY, transposeA: true)
        let v = try adjoint(A: A, Z: z, G: g, tolerance: 1e-13, maxIterations: 100_000)
        return (
            matmul(v, x, transposeB: true), matmul(v, U, transposeB: true), matmul(dY, x, transposeB: true),
            matmul(dY, U, transposeB: true), matmul(B, v, transposeA: true) + matmul(D, dY, transposeA: true)
        )
    }
}
