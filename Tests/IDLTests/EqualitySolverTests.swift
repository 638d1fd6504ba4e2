import Foundation
import IDL
import Testing

/// torchidl's `CVXSolver(regularized=False)`: minimum ℓ1 norm with the equations met exactly.
@Suite struct EqualitySolverTests {
    /// Rows of w* with three nonzeros, and t = Mᵀw* for a random M with fewer samples than
    /// features, so the equations have many solutions and the sparsest is w*.
    func sparseProblem(_ seed: UInt64) -> (features: Matrix<Double>, targets: Matrix<Double>, truth: Matrix<Double>) {
        var g = SeededGenerator(seed: seed)
        let (d, m, rows) = (40, 25, 6)
        let features = Matrix<Double>.randomNormal(d, m, using: &g)
        var truth = Matrix<Double>(rows: rows, cols: d)
        for i in 0..<rows {
            for k in 0..<3 { truth[i, (7 * i + 11 * k + 3) % d] = (k % 2 == 0 ? 1 : -1) * (0.05 + 0.1 * Double(k)) }
        }
        return (features, matmul(truth, features), truth)
    }

    @Test func recoversTheSparsestExactSolution() throws {
        let (features, targets, truth) = sparseProblem(81)
        let solver = SIMEqualitySolver(tolerance: 1e-10, maxIterations: 50_000, zeroThreshold: 1e-7)
        let result = try solver.fitStage(
            features: features, targets: targets, stateCount: 10, lambda: 0, constraint: .infinityNorm(kappa: 0.9),
            progress: nil)
        #expect(result.rows.allSatisfy { $0.converged }, "\(result.warnings)")
        #expect((result.weights - truth).maxAbs < 1e-6, "\((result.weights - truth).maxAbs)")
        let residual = targets - matmul(result.weights, features)
        #expect(residual.maxAbs < 1e-6)
        // The minimum-norm solution has the same residual and a far larger ℓ1 norm.
        let minimumNorm = try features.transposed.leastSquares(targets.transposed).solution.transposed
        for i in 0..<truth.rows {
            let l1 = (0..<40).reduce(0.0) { $0 + abs(minimumNorm[i, $1]) }
            #expect(result.rows[i].objective < 0.9 * l1)
        }
    }

    @Test func theBallConstraintHoldsAndInfeasibleRowsAreReported() throws {
        let (features, targets, _) = sparseProblem(82)
        // κ below the ℓ1 norm of the true a-blocks: the equations cannot hold inside the ball.
        let solver = SIMEqualitySolver(tolerance: 1e-10, maxIterations: 3000)
        let result = try solver.fitStage(
            features: features, targets: targets, stateCount: 40, lambda: 0, constraint: .infinityNorm(kappa: 0.01),
            progress: nil)
        #expect(result.weights.infinityNorm <= 0.01 * (1 + 1e-12))
        #expect(result.rows.contains { !$0.converged })
        #expect(result.warnings.contains { $0.contains("did not settle") })
    }

    @Test func aFitOfTeacherStatesMatchesTheirEquations() throws {
        var g = SeededGenerator(seed: 83)
        let net = Sequential<Double>.mlp([10, 8, 6, 3], bias: true, using: &g)
        try rescaleForWellPosedness(net, kappa: 0.9)
        let states = try StateExtraction.states(of: net, inputs: Matrix<Double>.randomNormal(10, 60, using: &g))
        let fit = try SIMEqualitySolver(wellPosedness: .infinityNorm(kappa: 0.95), zeroThreshold: 0).fit(states)
        #expect(fit.A.infinityNorm <= 0.95 * (1 + 1e-12) && fit.report.wellPosednessMet)
        let z = matmul(fit.A, states.states) + matmul(fit.B, states.inputs)
        #expect((z - states.preActivations).maxAbs < 1e-6 * max(1, states.preActivations.maxAbs))
        let model = try SIMModel(fit, states: states, tolerance: 1e-12)
        let fresh = Matrix<Double>.randomNormal(10, 5, using: &g)
        #expect((try model.predict(fresh) - net.predict(fresh)).maxAbs < 1e-5)
    }
}
