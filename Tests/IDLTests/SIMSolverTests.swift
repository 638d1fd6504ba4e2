import Foundation
import IDL
import Testing

/// The state-matching fixture: X, U, Z, λ, κ and cvxpy's optimal objectives.
struct StateMatchingFixture {
    let x: Matrix<Double>, u: Matrix<Double>, z: Matrix<Double>
    let lambda: Double, kappa: Double
    let objectives: [Double]

    init() throws {
        let f = try loadFixture("sim/state_matching_rows.json")
        x = try fixtureMatrix(f["X"])
        u = try fixtureMatrix(f["U"])
        z = try fixtureMatrix(f["Z"])
        lambda = f["lam"] as! Double
        kappa = f["kappa"] as! Double
        objectives = (f["rows"] as! [[String: Any]]).map { $0["objective"] as! Double }
    }

    var features: Matrix<Double> { Matrix.vcat([x, u]) }

    /// P(w) = λ‖w‖₁ + ½‖z − Mᵀw‖², evaluated independently of the solvers.
    func objective(row i: Int, weights: Matrix<Double>) -> Double {
        let m = features
        var w = [Double](repeating: 0, count: m.rows)
        for j in 0..<m.rows { w[j] = weights[i, j] }
        var loss = 0.0
        for s in 0..<m.cols {
            var pred = 0.0
            for j in 0..<m.rows { pred += m[j, s] * w[j] }
            let r = z[i, s] - pred
            loss += r * r
        }
        return lambda * w.reduce(0) { $0 + abs($1) } + loss / 2
    }
}

@Suite("SIM solvers")
struct SIMSolverTests {
    // MARK: ℓ1 ball and prox

    @Test func l1BallProjectionMatchesFixture() throws {
        let f = try loadFixture("sim/l1ball_projection.json")
        let radius = f["radius"] as! Double
        let inputs = f["input"] as! [[Double]]
        let outputs = f["output"] as! [[Double]]
        #expect(inputs.count == outputs.count && !inputs.isEmpty)
        for (v, expected) in zip(inputs, outputs) {
            let got = try projectOntoL1Ball(v, radius: radius)
            for (a, b) in zip(got, expected) { #expect(abs(a - b) <= 1e-12) }
            #expect(got.reduce(0) { $0 + abs($1) } <= radius + 1e-12)
        }
    }

    @Test func l1BallProjectionEdgeCases() throws {
        #expect(try projectOntoL1Ball([Double](), radius: 1) == [])
        #expect(try projectOntoL1Ball([0.2, -0.3], radius: 1) == [0.2, -0.3])  // inside: unchanged
        #expect(try projectOntoL1Ball([3.0, -4.0], radius: 0) == [0, 0])
        let p = try projectOntoL1Ball([5.0], radius: 2)
        #expect(p == [2])
        #expect(throws: IDLError.self) { try projectOntoL1Ball([1.0], radius: -1) }
        #expect(throws: IDLError.self) { try projectOntoL1Ball([Double.nan], radius: 1) }
    }

    /// Random vectors: the projection satisfies the KKT conditions of
    /// min ½‖x − v‖² s.t. ‖x‖₁ ≤ r and beats random feasible points.
    @Test func l1BallProjectionIsOptimalOnRandomVectors() throws {
        var g = SeededGenerator(seed: 11)
        for trial in 0..<200 {
            let n = 1 + trial % 40
            let v = (0..<n).map { _ in g.normal() * 3 }
            let r = g.uniform() * 2
            let x = try projectOntoL1Ball(v, radius: r)
            let norm = x.reduce(0) { $0 + abs($1) }
            #expect(norm <= r * (1 + 1e-12) + 1e-15)
            let dist = zip(x, v).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
            for _ in 0..<20 {
                var y = (0..<n).map { _ in g.normal() }
                let ny = y.reduce(0) { $0 + abs($1) }
                if ny > r { y = y.map { $0 * r / ny } }
                let dy = zip(y, v).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
                #expect(dist <= dy + 1e-12)
            }
        }
    }

    /// The claim that soft thresholding then projecting is the prox of λ‖x‖₁ + ι(‖x‖₁ ≤ κ),
    /// checked by the KKT conditions: v − x = (λ + μ)s with s ∈ ∂‖x‖₁, μ ≥ 0, μ(‖x‖₁ − κ) = 0,
    /// and against a brute-force search over the one-parameter family of shrinkages.
    @Test func softThresholdThenProjectIsTheExactProx() throws {
        var g = SeededGenerator(seed: 5)
        for trial in 0..<300 {
            let n = 1 + trial % 25
            let v = (0..<n).map { _ in g.normal() * 2 }
            let lambda = g.uniform() * 1.5
            let kappa = g.uniform() * 3
            let x = try proxL1WithBall(v, lambda: lambda, kappa: kappa)
            let norm = x.reduce(0) { $0 + abs($1) }
            #expect(norm <= kappa * (1 + 1e-12) + 1e-15)
            // Multiplier μ from any nonzero coordinate.
            var mu = 0.0
            if let j = x.indices.first(where: { x[$0] != 0 }) { mu = abs(v[j] - x[j]) - lambda }
            #expect(mu >= -1e-12)
            if mu > 1e-12 { #expect(abs(norm - kappa) <= 1e-10) }
            for j in 0..<n {
                if x[j] != 0 {
                    #expect(abs((v[j] - x[j]) - (lambda + mu) * (x[j] > 0 ? 1 : -1)) <= 1e-10)
                } else {
                    #expect(abs(v[j]) <= lambda + Swift.max(mu, 0) + 1e-10)
                }
            }
            // Brute force: the objective of x is no worse than random feasible points.
            func h(_ y: [Double]) -> Double {
                0.5 * zip(y, v).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } + lambda * y.reduce(0) { $0 + abs($1) }
            }
            let hx = h(x)
            for _ in 0..<30 {
                var y = x.map { $0 + g.normal() * 0.1 }
                let ny = y.reduce(0) { $0 + abs($1) }
                if ny > kappa { y = try projectOntoL1Ball(y, radius: kappa) }
                #expect(hx <= h(y) + 1e-12)
            }
        }
    }

    // MARK: Exact solver

    @Test func exactSolverMatchesCvxpyObjectives() throws {
        let fx = try StateMatchingFixture()
        let tol = 1e-10
        let solver = SIMExactSolver(
            wellPosedness: .infinityNorm(kappa: fx.kappa), tolerance: tol, maxIterations: 200_000)
        let result = try solver.fitStage(
            features: fx.features, targets: fx.z, stateCount: fx.x.rows, lambda: fx.lambda,
            constraint: .infinityNorm(kappa: fx.kappa), progress: nil)
        var worst = 0.0
        for i in 0..<fx.z.rows {
            let mine = fx.objective(row: i, weights: result.weights)
            let rel = abs(mine - fx.objectives[i]) / abs(fx.objectives[i])
            worst = Swift.max(worst, rel)
            #expect(rel <= 1e-6, "row \(i): objective \(mine) vs cvxpy \(fx.objectives[i])")
            #expect(abs(result.rows[i].objective - mine) <= 1e-9 * Swift.max(1, mine))
            var l1 = 0.0
            for j in 0..<fx.x.rows { l1 += abs(result.weights[i, j]) }
            #expect(l1 <= fx.kappa + 1e-9)
            let stats = result.rows[i]
            #expect(stats.gap >= 0)
            #expect(stats.gap <= tol * Swift.max(1, abs(stats.objective)))
            #expect(stats.converged)
            // The certificate is honest: the gap bounds the distance to the reference optimum.
            #expect(mine - fx.objectives[i] <= stats.gap + 1e-9 * fx.objectives[i])
        }
        print(
            "exact solver: max relative objective error vs cvxpy = \(worst), iterations \(result.rows.map(\.iterations))"
        )
    }
}

// MARK: ADMM, least squares, teacher recovery, bad input

/// A random 2-layer ReLU teacher (p → h1 → h2 → q, no bias) written as an implicit model.
struct ReLUTeacher {
    let w0: Matrix<Double>, w1: Matrix<Double>, w2: Matrix<Double>
    let u: Matrix<Double>
    let x1: Matrix<Double>, x2: Matrix<Double>, z1: Matrix<Double>, z2: Matrix<Double>, y: Matrix<Double>

    init(p: Int, h1: Int, h2: Int, q: Int, m: Int, seed: UInt64) {
        var g = SeededGenerator(seed: seed)
        w0 = Matrix.randomNormal(h1, p, scale: 1 / Double(p).squareRoot(), using: &g)
        var hidden = Matrix<Double>.randomNormal(h2, h1, scale: 1, using: &g)
        hidden *= 0.9 / hidden.infinityNorm  // ‖W1‖∞ = 0.9
        w1 = hidden
        w2 = Matrix.randomNormal(q, h2, scale: 1, using: &g)
        u = Matrix.randomNormal(p, m, scale: 1, using: &g)
        z1 = matmul(w0, u)
        x1 = z1.map { Swift.max($0, 0) }
        z2 = matmul(w1, x1)
        x2 = z2.map { Swift.max($0, 0) }
        y = matmul(w2, x2)
    }

    /// Feedforward as implicit: X = (x2; x1), Z = (z2; z1).
    func states() throws -> SIMStates<Double> {
        try SIMStates(inputs: u, states: Matrix.vcat([x2, x1]), preActivations: Matrix.vcat([z2, z1]), outputs: y)
    }
}

extension SIMSolverTests {
    @Test func admmMatchesCvxpyObjectivesAndMeetsTheConstraint() throws {
        let fx = try StateMatchingFixture()
        let solver = SIMADMMSolver(
            wellPosedness: .infinityNorm(kappa: fx.kappa), tolerance: 1e-10, maxIterations: 20_000)
        let result = try solver.fitStage(
            features: fx.features, targets: fx.z, stateCount: fx.x.rows, lambda: fx.lambda,
            constraint: .infinityNorm(kappa: fx.kappa), progress: nil)
        var worst = 0.0
        for i in 0..<fx.z.rows {
            let mine = fx.objective(row: i, weights: result.weights)
            let rel = abs(mine - fx.objectives[i]) / abs(fx.objectives[i])
            worst = Swift.max(worst, rel)
            #expect(rel <= 1e-3, "row \(i): ADMM objective \(mine) vs cvxpy \(fx.objectives[i])")
            var l1 = 0.0
            for j in 0..<fx.x.rows { l1 += abs(result.weights[i, j]) }
            #expect(l1 <= fx.kappa * (1 + 1e-12))
            #expect(result.rows[i].gap >= 0 && result.rows[i].gap.isFinite)
        }
        print(
            "ADMM: max relative objective error vs cvxpy = \(worst), iterations \(result.rows.first?.iterations ?? 0)")
    }

    @Test func leastSquaresWarnsThatItIgnoresWellPosedness() throws {
        let fx = try StateMatchingFixture()
        let result = try SIMLeastSquaresSolver().fitStage(
            features: fx.features, targets: fx.z, stateCount: fx.x.rows, lambda: 0,
            constraint: .infinityNorm(kappa: fx.kappa), progress: nil)
        #expect(result.warnings.contains { $0.contains("ignores well-posedness") })
        // The least-squares objective is a lower bound of the constrained, penalised one.
        for i in 0..<fx.z.rows { #expect(result.rows[i].objective <= fx.objectives[i]) }
    }

    @Test(arguments: ["least squares", "exact triangular"])
    func recoversAnExactlyRepresentableTeacher(_ which: String) throws {
        let teacher = ReLUTeacher(p: 8, h1: 6, h2: 5, q: 3, m: 300, seed: 42)
        let states = try teacher.states()
        let solver: any SIMSolver =
            which == "least squares"
            ? SIMLeastSquaresSolver(zeroThreshold: 0)
            : SIMExactSolver(
                lambdaState: 1e-10, lambdaOutput: 1e-10, wellPosedness: .strictlyUpperTriangular,
                tolerance: 1e-12, maxIterations: 200_000)
        let fit = try solver.fit(states, progress: nil)
        // Fresh inputs: the implicit model must reproduce the network, not just the training set.
        var g = SeededGenerator(seed: 7)
        let uTest = Matrix<Double>.randomNormal(8, 100, scale: 1, using: &g)
        let yTest = matmul(
            teacher.w2, matmul(teacher.w1, matmul(teacher.w0, uTest).map { Swift.max($0, 0) }).map { Swift.max($0, 0) })
        let (yHat, eq) = try simPredict(fit, inputs: uTest)
        #expect(eq.converged)
        let err = (yHat - yTest).maxAbs
        #expect(err <= 1e-6, "\(which): max |Ŷ − Y| = \(err)")
        if which != "least squares" {
            #expect(fit.report.unconvergedRows == 0)
            #expect(fit.report.wellPosednessMet)
            #expect(fit.A.strictlyUpperTriangular == fit.A)
        }
        print(
            "\(which): teacher recovery max |Ŷ − Y| = \(err), ‖A‖∞ = \(fit.report.infinityNormA), max gap \(fit.report.maxGap)"
        )
    }

    @Test func fitReportsConstraintGapsAndSparsity() throws {
        let teacher = ReLUTeacher(p: 10, h1: 8, h2: 6, q: 3, m: 200, seed: 3)
        let states = try teacher.states()
        let solver = SIMExactSolver(
            lambdaState: 0.05, lambdaOutput: 0.05, wellPosedness: .infinityNorm(kappa: 0.5),
            tolerance: 1e-9, zeroThreshold: 1e-8, regenerateStates: true)
        let calls = ProgressLog()
        let fit = try solver.fit(states) { done, total in calls.record(done, total) }
        #expect(fit.report.wellPosednessMet)
        #expect(fit.A.infinityNorm <= 0.5 + 1e-12)
        #expect(fit.report.rowsSolved.stage1 == 14 && fit.report.rowsSolved.stage2 == 3)
        #expect(fit.report.maxGap >= 0)
        for row in fit.report.stage1Rows + fit.report.stage2Rows {
            #expect(row.gap >= 0)
            #expect(row.gap <= 1e-9 * Swift.max(1, row.objective) || !row.converged)
        }
        #expect(fit.report.unconvergedRows == 0)
        #expect(fit.report.zeros.a == fit.A.zeroCount && fit.report.totalEntries == 14 * 14 + 14 * 10 + 3 * 14 + 3 * 10)
        #expect(fit.report.sparsity > 0 && fit.report.sparsity < 1)
        #expect(fit.report.regenerationIterations > 0)
        let log = calls.snapshot()
        #expect(log.count == 17 && log.last?.0 == 17 && log.allSatisfy { $0.1 == 17 })
    }

    @Test func badInputThrowsClearErrors() throws {
        let teacher = ReLUTeacher(p: 4, h1: 3, h2: 2, q: 2, m: 20, seed: 1)
        let x = Matrix.vcat([teacher.x2, teacher.x1])
        let z = Matrix.vcat([teacher.z2, teacher.z1])
        // Mismatched sample counts.
        #expect(throws: IDLError.self) {
            try SIMStates(inputs: teacher.u, states: x.columns(0..<19), preActivations: z, outputs: teacher.y)
        }
        do {
            _ = try SIMStates(inputs: teacher.u, states: x, preActivations: z, outputs: teacher.y.columns(0..<10))
            Issue.record("expected a shape mismatch")
        } catch let error as IDLError {
            guard case .shapeMismatch(let message) = error else {
                Issue.record("wrong error \(error)")
                return
            }
            #expect(message.contains("same number of samples"))
        }
        // NaN states.
        var bad = x
        bad[1, 3] = .nan
        do {
            _ = try SIMStates(inputs: teacher.u, states: bad, preActivations: z, outputs: teacher.y)
            Issue.record("expected a non-finite error")
        } catch let error as IDLError {
            guard case .nonFinite(let message) = error else {
                Issue.record("wrong error \(error)")
                return
            }
            #expect(message.contains("row 1, column 3"))
        }
        let states = try teacher.states()
        // κ outside (0, 1), negative λ.
        for kappa in [1.0, 1.5, 0.0, -0.2] {
            let solver = SIMExactSolver(wellPosedness: .infinityNorm(kappa: kappa))
            #expect(
                throws: IDLError.invalidArgument(
                    "the well-posedness bound κ must lie in (0, 1) so that ‖A‖∞ ≤ κ < 1, got κ = \(kappa)")
            ) {
                try solver.fit(states, progress: nil)
            }
        }
        #expect(throws: IDLError.self) { try SIMExactSolver(lambdaState: -1).fit(states, progress: nil) }
        #expect(throws: IDLError.self) { try SIMADMMSolver(lambdaOutput: -0.1).fit(states, progress: nil) }
        #expect(throws: IDLError.self) {
            try SIMExactSolver(lambdaState: 0, lambdaOutput: 0).fit(states, progress: nil)
        }
    }
}

/// Records progress callbacks from worker threads.
final class ProgressLog: @unchecked Sendable {
    private let lock = NSLock()
    private var calls: [(Int, Int)] = []
    func record(_ done: Int, _ total: Int) {
        lock.lock()
        calls.append((done, total))
        lock.unlock()
    }
    func snapshot() -> [(Int, Int)] {
        lock.lock()
        defer { lock.unlock() }
        return calls
    }
}

extension SIMSolverTests {
    /// Non-negative data (like pixels and ReLU states) give G an outlying top eigenvalue, which
    /// switches the exact solver to its deflated step metric. Both paths must certify their rows,
    /// and the certified objectives must agree within the gaps. Also covers λ₂ > 0 and the
    /// triangular option on the same data.
    @Test(arguments: [(0.0, "ball"), (0.3, "ball"), (0.0, "triangular"), (0.3, "unconstrained")])
    func deflatedMetricAgreesWithPlainFISTA(_ lambda2: Double, _ structure: String) throws {
        var g = SeededGenerator(seed: 99)
        let (n, p, m) = (12, 30, 150)
        let u = Matrix<Double>.randomUniform(p, m, 0, 1, using: &g)
        let w = Matrix<Double>.randomNormal(n, p, scale: 0.3, using: &g)
        let z = matmul(w, u)
        let x = z.map { Swift.max($0, 0) }
        let features = Matrix.vcat([x, u])
        let constraint: SIMWellPosedness =
            structure == "ball"
            ? .infinityNorm(kappa: 0.5)
            : structure == "triangular" ? .strictlyUpperTriangular : .unconstrained
        let tol = 1e-10
        // The four metrics: deflated or not, scaled by G's diagonal or not; the last is plain FISTA.
        let metrics = [(true, true), (true, false), (false, true), (false, false)]
        var results: [SIMStageResult<Double>] = []
        for (deflate, scale) in metrics {
            let solver = SIMExactSolver(
                lambda2: lambda2, tolerance: tol, maxIterations: 400_000,
                deflateTopEigenvalue: deflate, scaleByGramDiagonal: scale)
            results.append(
                try solver.fitStage(
                    features: features, targets: z, stateCount: n, lambda: 0.05,
                    constraint: constraint, progress: nil))
        }
        let plain = results[metrics.count - 1]
        for result in results.dropLast() {
            let certificates = try simRowCertificates(
                weights: result.weights, features: features, targets: z,
                stateCount: n, lambda: 0.05, lambda2: lambda2, constraint: constraint)
            for i in 0..<n {
                let (fast, plain) = (result.rows[i], plain.rows[i])
                #expect(fast.converged && plain.converged)
                #expect(fast.gap >= 0 && fast.gap <= tol * Swift.max(1, fast.objective))
                #expect(abs(fast.objective - plain.objective) <= fast.gap + plain.gap + 1e-12 * fast.objective)
                // The independent certificate agrees with the solver's own.
                #expect(abs(certificates[i].objective - fast.objective) <= 1e-9 * Swift.max(1, fast.objective))
                #expect(certificates[i].gap <= tol * Swift.max(1, fast.objective) * 10)
                if structure == "ball" {
                    var l1 = 0.0
                    for j in 0..<n { l1 += abs(result.weights[i, j]) }
                    #expect(l1 <= 0.5 * (1 + 1e-12))
                }
                if structure == "triangular" {
                    for j in 0...i { #expect(result.weights[i, j] == 0) }
                }
            }
        }
        let iterations = results.map { $0.rows.map(\.iterations).reduce(0, +) }
        print(
            "λ₂ = \(lambda2), \(structure): iterations deflated+scaled \(iterations[0]), deflated \(iterations[1]), scaled \(iterations[2]), plain \(iterations[3])"
        )
    }

    /// States of very different scales (one layer's ≈ 100× another's, as in a rescaled teacher)
    /// are what the Jacobi-scaled metric is for: it certifies the same optima as the plain
    /// metric within the gaps, with the ℓ1 ball met, in fewer iterations in all.
    @Test func scaledMetricCertifiesBadlyScaledStatesInFewerIterations() throws {
        var g = SeededGenerator(seed: 5)
        let (p, m) = (30, 200)
        let u = Matrix<Double>.randomUniform(p, m, 0, 1, using: &g)
        let z1 = matmul(Matrix<Double>.randomNormal(8, p, scale: 3, using: &g), u)
        let x1 = z1.map { Swift.max($0, 0) }
        let z2 = matmul(Matrix<Double>.randomNormal(6, 8, scale: 0.01, using: &g), x1)
        let x2 = z2.map { Swift.max($0, 0) }
        let z = Matrix.vcat([z2, z1])
        let features = Matrix.vcat([x2, x1, u])
        let n = 14
        let tol = 1e-8
        var results: [SIMStageResult<Double>] = []
        for scale in [true, false] {
            let solver = SIMExactSolver(
                lambda2: 0.5, tolerance: tol, maxIterations: 400_000, scaleByGramDiagonal: scale)
            results.append(
                try solver.fitStage(
                    features: features, targets: z, stateCount: n, lambda: 0.5,
                    constraint: .infinityNorm(kappa: 0.9), progress: nil))
        }
        for i in 0..<n {
            let (scaled, plain) = (results[0].rows[i], results[1].rows[i])
            #expect(scaled.converged && plain.converged)
            #expect(scaled.gap >= 0 && scaled.gap <= tol * Swift.max(1, scaled.objective))
            #expect(abs(scaled.objective - plain.objective) <= scaled.gap + plain.gap + 1e-12 * scaled.objective)
            var l1 = 0.0
            for j in 0..<n { l1 += abs(results[0].weights[i, j]) }
            #expect(l1 <= 0.9 * (1 + 1e-12))
        }
        let iterations = results.map { $0.rows.map(\.iterations).reduce(0, +) }
        #expect(iterations[0] < iterations[1], "scaled \(iterations[0]) vs plain \(iterations[1]) iterations")
    }
}

extension SIMSolverTests {
    /// The low-rank solver: rank(A) ≤ r, ‖A‖∞ ≤ κ² (rows of L and of Rᵀ in the κ ball), the fit
    /// improves on its random start, and the same seed gives the same matrices.
    @Test func lowRankSolverIsWellPosedLowRankAndDeterministic() throws {
        let teacher = ReLUTeacher(p: 10, h1: 8, h2: 6, q: 3, m: 200, seed: 8)
        let states = try teacher.states()
        let solver = SIMLowRankSolver(
            rank: 2, lambdaState: 1e-4, wellPosedness: .infinityNorm(kappa: 0.9),
            epochs: 300, learningRate: 1e-2, zeroThreshold: 0, seed: 4)
        let fit = try solver.fit(states, progress: nil)
        #expect(fit.A.infinityNorm <= 0.81 + 1e-12)
        #expect(fit.report.wellPosednessMet)
        // Rank ≤ 2: the third singular value (square root of an eigenvalue of AᵀA) vanishes.
        let eig = try matmul(fit.A, fit.A, transposeA: true).symmetricEigen(vectors: false).values
        #expect(eig[eig.count - 3] <= 1e-10 * Swift.max(1, eig[eig.count - 1]))
        // The fit explains most of Z (A = B = 0 would leave all of it).
        let z = states.preActivations
        var predicted = matmul(fit.A, states.states)
        gemm(fit.B, states.inputs, into: &predicted, alpha: 1, beta: 1)
        #expect((predicted - z).frobeniusNorm < 0.5 * z.frobeniusNorm)
        let again = try solver.fit(states, progress: nil)
        #expect(again.A == fit.A && again.B == fit.B && again.C == fit.C)
        #expect(throws: IDLError.self) {
            try SIMLowRankSolver(wellPosedness: .strictlyUpperTriangular).fit(states, progress: nil)
        }
    }
}

extension SIMSolverTests {
    /// Single precision: the same fixture, with a tolerance Float can certify.
    @Test func exactSolverWorksInFloat() throws {
        let fx = try StateMatchingFixture()
        let features: Matrix<Float> = fx.features.converted()
        let z: Matrix<Float> = fx.z.converted()
        let solver = SIMExactSolver(
            wellPosedness: .infinityNorm(kappa: fx.kappa), tolerance: 1e-4, maxIterations: 50_000)
        let result = try solver.fitStage(
            features: features, targets: z, stateCount: fx.x.rows, lambda: fx.lambda,
            constraint: .infinityNorm(kappa: fx.kappa), progress: nil)
        let weights: Matrix<Double> = result.weights.converted()
        for i in 0..<fx.z.rows {
            let mine = fx.objective(row: i, weights: weights)
            #expect(abs(mine - fx.objectives[i]) <= 2e-4 * fx.objectives[i], "row \(i): \(mine) vs \(fx.objectives[i])")
            #expect(result.rows[i].converged && result.rows[i].gap >= 0)
            var l1: Float = 0
            for j in 0..<fx.x.rows { l1 += abs(result.weights[i, j]) }
            #expect(Double(l1) <= fx.kappa * (1 + 1e-6))
        }
    }
}
