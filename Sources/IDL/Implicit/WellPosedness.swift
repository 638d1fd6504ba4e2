import RealModule

/// How an implicit model keeps its state equation X = φ(AX + BU) well-posed (a unique fixed
/// point that Picard iteration reaches).
public enum WellPosedness: String, Sendable, CaseIterable {
    /// torchidl's default (`ImplicitFunctionInf`): when ‖A‖∞ > κ, the whole of A is scaled by
    /// κ/‖A‖∞ before the solve; the gradient passes straight through the scaling.
    case infinityNorm = "inf"
    /// The original implicitdl code: each row of A is projected onto the ℓ1 ball of radius κ
    /// (so ‖A‖∞ ≤ κ) before the solve; the gradient passes straight through.
    case rowL1Projection = "row-l1"
    /// torchidl's `ImplicitFunctionTriu`: A is replaced by its strictly upper triangular part
    /// (and its gradient masked the same way). The model is then a feedforward network, well-posed
    /// whatever the norm.
    case strictlyUpperTriangular = "triu"
    /// No constraint (the solve may diverge; the statistics will say so).
    case none = "none"
}

extension Matrix {
    /// The matrix scaled by κ/‖M‖∞ when its ∞-norm exceeds κ (torchidl's `project_onto_Linf_ball`).
    public func scaledIntoInfinityBall(radius kappa: T) -> Matrix {
        let norm = infinityNorm
        return norm > kappa ? self * (kappa / norm) : self
    }

    /// Each row projected (Euclidean projection) onto the ℓ1 ball of radius r ≥ 0.
    public func rowsProjectedOntoL1Ball(radius r: T) -> Matrix {
        var out = self
        var row = [T](repeating: 0, count: cols)
        var scratch = [T](repeating: 0, count: Swift.max(1, cols))
        for i in 0..<rows {
            for j in 0..<cols { row[j] = self[i, j] }
            row.withUnsafeMutableBufferPointer { p in
                scratch.withUnsafeMutableBufferPointer { s in
                    projectOntoL1BallInPlace(p, radius: r, scratch: s.baseAddress!)
                }
            }
            for j in 0..<cols { out[i, j] = row[j] }
        }
        return out
    }
}

/// ‖A‖∞ and the Perron–Frobenius eigenvalue λ_pf(|A|) of a state matrix, the two well-posedness
/// figures of the implicit deep learning paper: ‖A‖∞ < 1 is sufficient, λ_pf(|A|) < 1 is the
/// paper's general condition (λ_pf(|A|) ≤ ‖A‖∞ always).
public struct WellPosednessReport: Sendable, CustomStringConvertible {
    /// Largest absolute row sum.
    public var infinityNorm: Double
    /// Spectral radius of |A| (an upper bound certified by Collatz–Wielandt, tight to ~1e-9).
    public var perronFrobenius: Double
    /// Whether A is strictly upper triangular (then the model is feedforward, always well-posed).
    public var strictlyUpperTriangular: Bool

    /// Whether the paper's sufficient condition λ_pf(|A|) < 1 holds.
    public var isWellPosed: Bool { strictlyUpperTriangular || perronFrobenius < 1 }

    public var description: String {
        "‖A‖∞ = \(formatScalar(infinityNorm, digits: 4)), λ_pf(|A|) = \(formatScalar(perronFrobenius, digits: 4))"
            + (strictlyUpperTriangular ? " (strictly upper triangular)" : "")
            + (isWellPosed ? ", well-posed" : ", NOT certified well-posed")
    }

    /// Measures a square matrix.
    public init<T: BLASScalar>(_ a: Matrix<T>) {
        precondition(a.rows == a.cols, "well-posedness needs a square A, got \(a.shapeDescription)")
        infinityNorm = Double(a.infinityNorm)
        perronFrobenius = perronFrobeniusEigenvalue(a)
        var triangular = true
        for j in 0..<a.cols { for i in j..<a.rows where a[i, j] != 0 { triangular = false } }
        strictlyUpperTriangular = triangular
    }
}

/// λ_pf(|A|), the spectral radius of the entrywise absolute value, by power iteration on
/// |A| + I (the shift makes the iteration converge for periodic matrices and keeps the vector
/// positive); returns the Collatz–Wielandt upper bound max_i (|A|x)_i / x_i once it is within
/// `tolerance` of the lower bound, or after `maxIterations`. Triangular matrices are answered
/// exactly from their diagonal.
public func perronFrobeniusEigenvalue<T: BLASScalar>(
    _ a: Matrix<T>, tolerance: Double = 1e-10, maxIterations: Int = 10_000
) -> Double {
    let n = a.rows
    if n == 0 { return 0 }
    // Triangular (e.g. feedforward) matrices: the eigenvalues are the diagonal entries.
    var upper = true
    var lower = true
    for j in 0..<n {
        for i in 0..<n where a[i, j] != 0 {
            if i > j { upper = false }
            if i < j { lower = false }
        }
    }
    if upper || lower { return (0..<n).reduce(0.0) { max($0, Double(abs(a[$1, $1]))) } }
    let absA = a.absolute.converted(to: Double.self)
    var x = Matrix<Double>(rows: n, cols: 1, repeating: 1)
    var y = Matrix<Double>(rows: n, cols: 1)
    var bound = Double.infinity
    for _ in 0..<maxIterations {
        gemm(absA, x, into: &y)
        var lo = Double.infinity
        var hi = 0.0
        for i in 0..<n {
            let r = y.storage[i] / x.storage[i]
            lo = min(lo, r)
            hi = max(hi, r)
        }
        bound = hi
        if hi - lo <= tolerance * max(1, hi) { break }
        // Shifted step x ← (|A| + I) x, normalised.
        var s = 0.0
        for i in 0..<n {
            y.storage[i] += x.storage[i]
            s = max(s, y.storage[i])
        }
        for i in 0..<n { x.storage[i] = max(y.storage[i] / s, 1e-300) }
    }
    return bound
}
