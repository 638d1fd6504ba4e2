import IDL

// Assignment 1 · Forward solve and well-posedness: the reference solution.

/// The reference solutions of the forward-solve assignment.
public enum ForwardSolve {
    /// Task 1: Picard iteration from zero with the stopping rule max |X_{k+1} − X_k| < tolerance.
    public static func picard(
        A: Matrix<Double>, B: Matrix<Double>, U: Matrix<Double>, tolerance: Double, maxIterations: Int
    ) throws -> (X: Matrix<Double>, iterations: Int, converged: Bool) {
        guard A.rows == A.cols, B.rows == A.rows, U.rows == B.cols else {
            throw IDLError.shapeMismatch(
                "Picard needs A n×n, B n×p, U p×m, got A \(A.shapeDescription), B \(B.shapeDescription), U \(U.shapeDescription)"
            )
        }
        let injection = matmul(B, U)
        var x = Matrix<Double>(rows: A.rows, cols: U.cols)
        for k in 1...max(1, maxIterations) {
            let next = (matmul(A, x) + injection).map { max($0, 0) }
            let change = (next - x).maxAbs
            x = next
            if change < tolerance { return (x, k, true) }
        }
        return (x, max(1, maxIterations), false)
    }

    /// Task 2: the whole matrix scaled by κ/‖A‖∞ when its ∞-norm exceeds κ.
    public static func scaleIntoInfinityBall(_ A: Matrix<Double>, kappa: Double) throws -> Matrix<Double> {
        var norm = 0.0
        for i in 0..<A.rows { norm = max(norm, (0..<A.cols).reduce(0) { $0 + abs(A[i, $1]) }) }
        return norm > kappa ? A * (kappa / norm) : A
    }

    /// The Euclidean projection of v onto {x : ‖x‖₁ ≤ r}: soft thresholding by the τ ≥ 0 with
    /// Σ max(|v_j| − τ, 0) = r, found from the sorted magnitudes (Duchi et al. 2008).
    static func projectOntoL1Ball(_ v: [Double], radius r: Double) -> [Double] {
        if r <= 0 { return v.map { _ in 0 } }
        let magnitudes = v.map(abs)
        if magnitudes.reduce(0, +) <= r { return v }
        let sorted = magnitudes.sorted(by: >)
        var sum = 0.0
        var tau = 0.0
        for (k, m) in sorted.enumerated() {
            sum += m
            let candidate = (sum - r) / Double(k + 1)
            if m > candidate { tau = candidate } else { break }
        }
        return v.map { x in
            let shrunk = abs(x) - tau
            return shrunk > 0 ? (x > 0 ? shrunk : -shrunk) : 0
        }
    }

    /// Task 3: each row onto the ℓ1 ball.
    public static func projectRowsOntoL1Ball(_ A: Matrix<Double>, radius: Double) throws -> Matrix<Double> {
        var out = A
        for i in 0..<A.rows {
            let row = projectOntoL1Ball(A.rowArray(i), radius: radius)
            for j in 0..<A.cols { out[i, j] = row[j] }
        }
        return out
    }

    /// Task 4: power iteration on |A| + I (the shift keeps it from oscillating on periodic
    /// matrices; it moves every eigenvalue by 1), returning the Collatz–Wielandt upper bound
    /// max_i (|A|x)_i / x_i once it stops changing.
    public static func perronFrobenius(_ A: Matrix<Double>) throws -> Double {
        let n = A.rows
        if n == 0 { return 0 }
        let absA = A.absolute
        var x = Matrix<Double>(rows: n, cols: 1, repeating: 1)
        var estimate = Double.infinity
        for _ in 0..<100_000 {
            let y = matmul(absA, x)
            var bound = 0.0
            for i in 0..<n { bound = max(bound, y[i, 0] / x[i, 0]) }
            let shifted = y + x
            let scale = shifted.maxAbs
            x = shifted.map { max($0 / scale, 1e-300) }
            if abs(bound - estimate) <= 1e-13 * max(1, bound) { return bound }
            estimate = bound
        }
        return estimate
    }
}
