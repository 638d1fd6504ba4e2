import IDL

// Assignment 3 · The SIM row problem: the reference solution.

/// The reference solutions of the sim-row assignment.
public enum SIMRow {
    /// Task 1: the projection onto the ℓ1 ball (the same sort-based method as forward-solve's).
    public static func projectOntoL1Ball(_ v: [Double], radius: Double) throws -> [Double] {
        ForwardSolve.projectOntoL1Ball(v, radius: radius)
    }

    /// The handout's certificate: P(a, b) and P − D(ρ) with ρ = s·r, s = min(1, λ/‖U r‖∞),
    /// D(ρ) = ρᵀz − ½‖ρ‖² − κ·max(0, ‖X ρ‖∞ − λ).
    public typealias Certificate = (
        _ X: Matrix<Double>, _ U: Matrix<Double>, _ z: [Double], _ a: [Double], _ b: [Double], _ lambda: Double,
        _ kappa: Double
    ) throws -> (objective: Double, gap: Double)

    /// Task 2: the objective and the duality gap.
    public static func objectiveAndGap(
        X: Matrix<Double>, U: Matrix<Double>, z: [Double], a: [Double], b: [Double], lambda: Double, kappa: Double
    ) throws -> (objective: Double, gap: Double) {
        let fit = matmul(X, Matrix(column: a), transposeA: true) + matmul(U, Matrix(column: b), transposeA: true)
        let r = Matrix(column: z) - fit
        let l1 = a.reduce(0) { $0 + abs($1) } + b.reduce(0) { $0 + abs($1) }
        let primal = 0.5 * r.storage.reduce(0) { $0 + $1 * $1 } + lambda * l1
        let gb = matmul(U, r).maxAbs
        let rho = r * (gb > lambda ? lambda / gb : 1)
        let ga = matmul(X, rho).maxAbs
        let dual =
            zip(rho.storage, z).reduce(0) { $0 + $1.0 * $1.1 } - 0.5 * rho.storage.reduce(0) { $0 + $1 * $1 }
            - kappa * max(0, ga - lambda)
        return (primal, primal - dual)
    }

    /// Task 3: FISTA on w = (a, b) with the prox of λ‖w‖₁ + indicator(‖a‖₁ ≤ κ) (soft
    /// thresholding by λ/L, then the a-block onto the κ ball), step 1/L with L = λ_max(M Mᵀ),
    /// M = [X; U]; momentum restarted when the objective goes up; the gap checked every 10 steps.
    /// `certificate` is the gap used by the stopping rule (the handout's by default).
    public static func solveRow(
        X: Matrix<Double>, U: Matrix<Double>, z: [Double], lambda: Double, kappa: Double, tolerance: Double,
        maxIterations: Int, certificate: Certificate = objectiveAndGap
    ) throws -> (a: [Double], b: [Double], gap: Double, iterations: Int) {
        let (n, p) = (X.rows, U.rows)
        let m = Matrix<Double>.vcat([X, U])
        let gram = matmul(m, m, transposeB: true)
        let c = matmul(m, Matrix(column: z))
        let lipschitz = max(try gram.symmetricEigen(vectors: false).values.max() ?? 0, 1e-300)
        var w = [Double](repeating: 0, count: n + p)
        var y = w
        var t = 1.0
        var previous = Double.infinity
        func split(_ w: [Double]) -> ([Double], [Double]) { (Array(w[0..<n]), Array(w[n...])) }
        var (objective, gap) = try certificate(X, U, z, split(w).0, split(w).1, lambda, kappa)
        if gap <= tolerance * max(1, abs(objective)) { return (split(w).0, split(w).1, gap, 0) }
        for k in 1...max(1, maxIterations) {
            let gradient = matmul(gram, Matrix(column: y)) - c
            var next = (0..<(n + p)).map { j -> Double in
                let v = y[j] - gradient.storage[j] / lipschitz
                let threshold = lambda / lipschitz
                return v > threshold ? v - threshold : (v < -threshold ? v + threshold : 0)
            }
            let a = ForwardSolve.projectOntoL1Ball(Array(next[0..<n]), radius: kappa)
            next.replaceSubrange(0..<n, with: a)
            let (an, bn) = split(next)
            let current = try certificate(X, U, z, an, bn, lambda, kappa).objective
            if current > previous {
                t = 1  // restart: momentum pointed uphill
                y = w
                previous = .infinity
                continue
            }
            let tNext = (1 + (1 + 4 * t * t).squareRoot()) / 2
            y = (0..<(n + p)).map { next[$0] + (t - 1) / tNext * (next[$0] - w[$0]) }
            t = tNext
            w = next
            previous = current
            if k % 10 == 0 || k == maxIterations {
                (objective, gap) = try certificate(X, U, z, an, bn, lambda, kappa)
                if gap <= tolerance * max(1, abs(objective)) { return (an, bn, gap, k) }
            }
        }
        (objective, gap) = try certificate(X, U, z, split(w).0, split(w).1, lambda, kappa)
        return (split(w).0, split(w).1, gap, maxIterations)
    }
}
