import Foundation
import IDL
import Testing

/// A SIM solver written outside the library: ridge regression per row, then a hard threshold,
/// then each a-block scaled into the κ ball — the kind of solver a user plugs in.
struct RidgeThresholdSolver: SIMSolver {
    var name: String { "ridge + hard threshold" }
    var ridge = 1e-3
    var threshold = 1e-2
    var lambdaState: Double { 0 }
    var lambdaOutput: Double { 0 }
    var wellPosedness = SIMWellPosedness.infinityNorm(kappa: 0.9)
    var zeroThreshold: Double { threshold }
    var regenerateStates: Bool { false }

    func fitStage<T: BLASScalar>(
        features: Matrix<T>, targets: Matrix<T>, stateCount n: Int, lambda: Double,
        constraint: SIMWellPosedness, progress: (@Sendable (Int) -> Void)?
    ) throws -> SIMStageResult<T> {
        // W = T Mᵀ (M Mᵀ + ridge·I)⁻¹, computed as the solve of (G + ridge·I) Wᵀ = M Tᵀ.
        var g = matmul(features, features, transposeB: true)
        for j in 0..<g.rows { g[j, j] += T(ridge) }
        var w = try g.choleskySolve(matmul(features, targets, transposeB: true)).transposed
        for k in 0..<w.count where abs(w.storage[k]) < T(threshold) { w.storage[k] = 0 }
        if case .infinityNorm(let kappa) = constraint {
            for i in 0..<w.rows {
                var l1: T = 0
                for j in 0..<n { l1 += abs(w[i, j]) }
                if l1 > T(kappa) { for j in 0..<n { w[i, j] *= T(kappa) / l1 } }
            }
        }
        progress?(targets.rows)
        let rows = (0..<w.rows).map { _ in SIMRowStatistics(iterations: 1, objective: .nan, gap: .nan, converged: true)
        }
        return SIMStageResult(weights: w, rows: rows)
    }
}

@Suite struct SIMParityTests {
    /// Small states of a random bias-free ReLU teacher.
    func states(_ seed: UInt64, samples: Int = 120) throws -> SIMStates<Double> {
        var g = SeededGenerator(seed: seed)
        let net = Sequential<Double>.mlp([8, 6, 5, 3], bias: false, using: &g)
        try rescaleForWellPosedness(net, kappa: 0.9)
        return try StateExtraction.states(of: net, inputs: Matrix<Double>.randomNormal(8, samples, using: &g))
    }

    @Test func aUserWrittenSolverFitsThroughTheProtocol() throws {
        let s = try states(71)
        let fit = try RidgeThresholdSolver().fit(s)
        #expect(fit.A.rows == 11 && fit.B.cols == 8 && fit.C.rows == 3)
        #expect(fit.report.wellPosednessMet && fit.A.infinityNorm <= 0.9 + 1e-12)
        #expect(fit.report.zeros.a > 0)  // the hard threshold made exact zeros
        let model = try SIMModel(fit, states: s)
        var g = SeededGenerator(seed: 72)
        let fresh = Matrix<Double>.randomNormal(8, 20, using: &g)
        // The fit reproduces the teacher's outputs on its own states closely.
        let y = try model.predict(s.inputs)
        #expect((y - s.outputs).maxAbs < 0.1 * max(1, s.outputs.maxAbs), "\((y - s.outputs).maxAbs)")
        #expect(try model.predict(fresh).cols == 20)
    }

    @Test func torchidlDefaultsAreTorchidlsNumbers() {
        let exact = SIMExactSolver.torchidlDefaults
        #expect(exact.lambdaState == 1e-6 && exact.lambdaOutput == 1e-6 && exact.lambda2 == 0)
        #expect(exact.zeroThreshold == 1e-6 && !exact.regenerateStates)
        #expect(exact.wellPosedness == .infinityNorm(kappa: 0.99))
        let admm = SIMADMMSolver.torchidlDefaults
        #expect(admm.maxIterations == 1000 && admm.maxIterationsOutput == 100)
        #expect(admm.rho == 10 && admm.rhoOutput == 10 && admm.batchFeatureSize == 100)
        #expect(admm.lambdaState == 1e-6 && admm.lambdaOutput == 1e-6 && admm.zeroThreshold == 1e-6)
        let lowRank = SIMLowRankSolver.torchidlDefaults
        #expect(lowRank.epochs == 10_000 && lowRank.rank == nil && lowRank.lambdaState == 1e-6)
        #expect(lowRank.learningRate == 1e-3 && lowRank.zeroThreshold == 1e-6)
        #expect(SIMLeastSquaresSolver.torchidlDefaults.zeroThreshold == 1e-6)
    }

    @Test func admmUsesEachStagesBudgetAndRho() throws {
        let s = try states(73)
        var solver = SIMADMMSolver(
            lambdaState: 1e-2, lambdaOutput: 1e-2, rho: 3, rhoOutput: 0.5, tolerance: 1e-14, maxIterations: 7,
            maxIterationsOutput: 3)
        let fit = try solver.fit(s)
        #expect(fit.report.stage1Rows.allSatisfy { $0.iterations == 7 })
        #expect(fit.report.stage2Rows.allSatisfy { $0.iterations == 3 })
        // Stage 2 is fitStage with ρ = 0.5 and 3 iterations on [X; U] → Y.
        solver.rho = 0.5
        solver.maxIterations = 3
        let direct = try solver.fitStage(
            features: Matrix.vcat([s.states, s.inputs]), targets: s.outputs, stateCount: s.stateCount, lambda: 1e-2,
            constraint: .unconstrained, progress: nil)
        #expect(Matrix.hcat([fit.C, fit.D]) == direct.weights)
    }

    @Test func admmBatchesOfRowsGiveTheSameAnswerAndTheLossCurve() throws {
        let s = try states(74)
        let features = Matrix.vcat([s.states, s.inputs])
        var solver = SIMADMMSolver(lambdaState: 1e-2, rho: 5, tolerance: 1e-9, maxIterations: 4000)
        let whole = try solver.fitStage(
            features: features, targets: s.preActivations, stateCount: s.stateCount, lambda: 1e-2,
            constraint: .infinityNorm(kappa: 0.9), progress: nil)
        solver.batchFeatureSize = 4
        solver.recordObjective = true
        let counter = Counter()
        let batched = try solver.fitStage(
            features: features, targets: s.preActivations, stateCount: s.stateCount, lambda: 1e-2,
            constraint: .infinityNorm(kappa: 0.9)
        ) { done in counter.record(done) }
        #expect(counter.values == [4, 8, 11])
        for (a, b) in zip(whole.rows, batched.rows) {
            #expect(abs(a.objective - b.objective) <= 1e-6 * max(1, abs(a.objective)))
        }
        let trace = batched.objectiveTrace
        #expect(trace.count == batched.rows.map { $0.iterations }.max())
        #expect(trace.last! < trace.first!)
        let total = batched.rows.reduce(0) { $0 + $1.objective }
        #expect(abs(trace.last! - total) <= 1e-4 * max(1, abs(total)), "\(trace.last!) vs \(total)")
        #expect(whole.objectiveTrace.isEmpty)
    }

    @Test func elasticNetWeighsEachStageByItsOwnLambda() throws {
        let s = try states(75)
        var solver = try SIMExactSolver.torchidlElasticNet(lambdaState: 0.2, lambdaOutput: 0.05, l1Ratio: 0.3)
        solver.zeroThreshold = 0
        solver.tolerance = 1e-9
        #expect(abs(solver.lambdaState - 0.06) < 1e-15 && abs(solver.lambda2 - 0.14) < 1e-15)
        #expect(abs(solver.lambdaOutput - 0.015) < 1e-15 && abs(solver.lambda2Output! - 0.035) < 1e-15)
        let fit = try solver.fit(s)
        let features = Matrix.vcat([s.states, s.inputs])
        // Stage 2's answer is optimal for λ = 0.015, λ₂ = 0.035, and not for stage 1's λ₂.
        let own = try simRowCertificates(
            weights: Matrix.hcat([fit.C, fit.D]), features: features, targets: s.outputs, stateCount: s.stateCount,
            lambda: 0.015, lambda2: 0.035, constraint: .unconstrained)
        #expect(own.allSatisfy { $0.gap <= 1e-6 * max(1, $0.objective) }, "\(own.map { $0.gap })")
        let other = try simRowCertificates(
            weights: Matrix.hcat([fit.C, fit.D]), features: features, targets: s.outputs, stateCount: s.stateCount,
            lambda: 0.015, lambda2: 0.14, constraint: .unconstrained)
        #expect(other.contains { $0.gap > 1e-4 })
        #expect(throws: IDLError.self) { _ = try SIMExactSolver.torchidlElasticNet(l1Ratio: 1.5) }
    }

    @Test func regenerationUsesTheSolversEquilibriumSettings() throws {
        let s = try states(76)
        var solver = SIMExactSolver(lambdaState: 1e-2, lambdaOutput: 1e-2, regenerateStates: true)
        solver.equilibrium = SIMEquilibriumSettings(tolerance: 1e-300, maxIterations: 1)
        let fit = try solver.fit(s)
        #expect(fit.report.regenerationIterations == 1)
        #expect(fit.report.warnings.contains { $0.contains("did not converge in 1 iterations") })
        solver.equilibrium = SIMEquilibriumSettings(tolerance: 1e-12, maxIterations: 5000)
        let fit2 = try solver.fit(s)
        #expect(fit2.report.regenerationIterations > 1 && !fit2.report.warnings.contains { $0.contains("converge") })
    }
}

/// Collects progress values from a @Sendable callback.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [Int] = []
    func record(_ v: Int) {
        lock.lock()
        stored.append(v)
        lock.unlock()
    }
    var values: [Int] {
        lock.lock()
        defer { lock.unlock() }
        return stored
    }
}
