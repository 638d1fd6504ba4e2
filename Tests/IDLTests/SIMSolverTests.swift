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
        let solver = SIMExactSolver(wellPosedness: .infinityNorm(kappa: fx.kappa), tolerance: tol, maxIterations: 200_000)
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
        print("exact solver: max relative objective error vs cvxpy = \(worst), iterations \(result.rows.map(\.iterations))")
    }
}
