import AssignmentReference
import IDL

/// Mistakes planted in the reference solutions, each to be caught by the checks that should
/// catch it and by no other (the test suite asserts exactly which):
/// `grade-reference <assignment> --planted-bug NAME`.
enum PlantedBug: String, CaseIterable {
    /// forward-solve: Picard iteration without its iteration budget: it never returns on the
    /// oscillating A = −I (caught by the time limit of picard-no-convergence).
    case noIterationBudget = "no-iteration-budget"
    /// implicit-differentiation: the adjoint solves V = Φ′ ∘ (G − AᵀV), a wrong sign (caught by
    /// the adjoint checks and every gradient that depends on V: A, B, U; not C or D).
    case adjointSign = "adjoint-sign"
    /// sim-row: the projection onto the ℓ1 ball forgets radius 0 and force-unwraps the
    /// threshold index, a trap (caught by l1-edge, as a crash).
    case l1RadiusZeroTrap = "l1-radius-zero-trap"
    /// sim-row: the duality gap leaves out the dual term κ·max(0, ‖Xρ‖∞ − λ) of the ball
    /// constraint, and the solver stops on that gap (caught by the gap and solver checks
    /// whose ball constraint is active; not by the zero row).
    case gapWithoutBallTerm = "gap-without-ball-term"
    /// robustness: FGSM does not clip to the pixel range [0, 1] (caught by fgsm-clipping).
    case fgsmNoClip = "fgsm-no-clip"
}

/// The buggy functions.
enum PlantedBugs {
    /// Picard iteration that only stops on convergence.
    static func picardWithoutBudget(
        _ a: Matrix<Double>, _ b: Matrix<Double>, _ u: Matrix<Double>, _ tolerance: Double, _ maxIterations: Int
    ) throws -> (X: Matrix<Double>, iterations: Int, converged: Bool) {
        let injection = matmul(b, u)
        var x = Matrix<Double>(rows: a.rows, cols: u.cols)
        var k = 0
        while true {
            k += 1
            let next = (matmul(a, x) + injection).map { max($0, 0) }
            let change = (next - x).maxAbs
            x = next
            if change < tolerance { return (x, k, true) }
        }
    }

    /// The adjoint with the sign of the Aᵀ V term flipped.
    static func adjointWrongSign(
        _ a: Matrix<Double>, _ z: Matrix<Double>, _ g: Matrix<Double>, _ tolerance: Double, _ maxIterations: Int
    ) throws -> Matrix<Double> {
        let mask = z.map { $0 > 0 ? 1 : 0 }
        var v = Matrix<Double>(rows: g.rows, cols: g.cols)
        for _ in 0..<max(1, maxIterations) {
            let next = mask * (g - matmul(a, v, transposeA: true))
            let change = (next - v).maxAbs
            v = next
            if change < tolerance { break }
        }
        return v
    }

    /// The reference gradients, with the wrong adjoint.
    static func gradientsWithWrongAdjoint(
        _ a: Matrix<Double>, _ b: Matrix<Double>, _ c: Matrix<Double>, _ d: Matrix<Double>, _ u: Matrix<Double>,
        _ dY: Matrix<Double>
    ) throws -> (dA: Matrix<Double>, dB: Matrix<Double>, dC: Matrix<Double>, dD: Matrix<Double>, dU: Matrix<Double>) {
        let x = try ForwardSolve.picard(A: a, B: b, U: u, tolerance: 1e-13, maxIterations: 100_000).X
        let z = matmul(a, x) + matmul(b, u)
        let v = try adjointWrongSign(a, z, matmul(c, dY, transposeA: true), 1e-13, 100_000)
        return (
            matmul(v, x, transposeB: true), matmul(v, u, transposeB: true), matmul(dY, x, transposeB: true),
            matmul(dY, u, transposeB: true), matmul(b, v, transposeA: true) + matmul(d, dY, transposeA: true)
        )
    }

    /// The sort-based projection without the radius-0 case, force-unwrapping the last index
    /// whose magnitude exceeds its running threshold (there is none when the radius is 0).
    static func projectionTrappingOnRadiusZero(_ v: [Double], _ radius: Double) throws -> [Double] {
        let magnitudes = v.map(abs)
        if magnitudes.reduce(0, +) <= radius { return v }
        let sorted = magnitudes.sorted(by: >)
        var sums = [Double]()
        for m in sorted { sums.append((sums.last ?? 0) + m) }
        let rho = sorted.indices.last { sorted[$0] > (sums[$0] - radius) / Double($0 + 1) }!
        let tau = (sums[rho] - radius) / Double(rho + 1)
        return v.map { x in abs(x) > tau ? (x > 0 ? x - tau : x + tau) : 0 }
    }

    /// The duality gap without the ball constraint's dual term.
    static func gapWithoutBallTerm(
        _ x: Matrix<Double>, _ u: Matrix<Double>, _ z: [Double], _ a: [Double], _ b: [Double], _ lambda: Double,
        _ kappa: Double
    ) throws -> (objective: Double, gap: Double) {
        let r =
            Matrix(column: z) - matmul(x, Matrix(column: a), transposeA: true)
            - matmul(u, Matrix(column: b), transposeA: true)
        let primal =
            0.5 * r.storage.reduce(0) { $0 + $1 * $1 } + lambda
            * (a.reduce(0) { $0 + abs($1) } + b.reduce(0) { $0 + abs($1) })
        let gb = matmul(u, r).maxAbs
        let rho = r * (gb > lambda ? lambda / gb : 1)
        let dual = zip(rho.storage, z).reduce(0) { $0 + $1.0 * $1.1 } - 0.5 * rho.storage.reduce(0) { $0 + $1 * $1 }
        return (primal, primal - dual)
    }

    /// FGSM without the clipping to [0, 1].
    static func fgsmWithoutClipping(
        _ model: ImplicitModel<Double>, _ inputs: Matrix<Double>, _ labels: [Int], _ epsilon: Double
    ) throws -> Matrix<Double> {
        let u = Tensor(inputs, requiresGrad: true)
        try crossEntropyLoss(model(u), labels, reduction: .sum).backward()
        let g = u.grad ?? Matrix(rows: inputs.rows, cols: inputs.cols)
        return inputs.zip(g) { x, d in x + epsilon * (d > 0 ? 1 : (d < 0 ? -1 : 0)) }
    }
}
