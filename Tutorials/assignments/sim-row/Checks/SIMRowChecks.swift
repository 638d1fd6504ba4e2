import Foundation
import IDL

/// The functions of the sim-row assignment, as the grader calls them (see the handout,
/// sim-row/README.md).
public struct SIMRowFunctions {
    /// Task 1: the Euclidean projection onto {x : ‖x‖₁ ≤ radius}.
    public var projectOntoL1Ball: (_ v: [Double], _ radius: Double) throws -> [Double]
    /// Task 2: the row objective P(a, b) and the duality gap at (a, b).
    public var objectiveAndGap:
        (
            _ X: Matrix<Double>, _ U: Matrix<Double>, _ z: [Double], _ a: [Double], _ b: [Double], _ lambda: Double,
            _ kappa: Double
        ) throws -> (objective: Double, gap: Double)
    /// Task 3: the row problem solved by FISTA (or ADMM) to a relative duality gap.
    public var solveRow:
        (
            _ X: Matrix<Double>, _ U: Matrix<Double>, _ z: [Double], _ lambda: Double, _ kappa: Double,
            _ tolerance: Double, _ maxIterations: Int
        ) throws -> (a: [Double], b: [Double], gap: Double, iterations: Int)

    /// The three functions.
    public init(
        projectOntoL1Ball: @escaping ([Double], Double) throws -> [Double],
        objectiveAndGap:
            @escaping (Matrix<Double>, Matrix<Double>, [Double], [Double], [Double], Double, Double)
            throws -> (objective: Double, gap: Double),
        solveRow:
            @escaping (Matrix<Double>, Matrix<Double>, [Double], Double, Double, Double, Int) throws -> (
                a: [Double], b: [Double], gap: Double, iterations: Int
            )
    ) {
        self.projectOntoL1Ball = projectOntoL1Ball
        self.objectiveAndGap = objectiveAndGap
        self.solveRow = solveRow
    }
}

/// One state-matching row problem: minimize λ(‖a‖₁ + ‖b‖₁) + ½‖z − Xᵀa − Uᵀb‖² s.t. ‖a‖₁ ≤ κ.
struct RowProblem {
    var x, u: Matrix<Double>
    var z: [Double]
    var lambda, kappa: Double

    /// P(a, b), the objective (without the constraint).
    func objective(_ a: [Double], _ b: [Double]) -> Double {
        let r = residual(a, b)
        return 0.5 * r.reduce(0) { $0 + $1 * $1 } + lambda
            * (a.reduce(0) { $0 + abs($1) } + b.reduce(0) { $0 + abs($1) })
    }

    /// r = z − Xᵀa − Uᵀb.
    func residual(_ a: [Double], _ b: [Double]) -> [Double] {
        let fit = matmul(x, Matrix(column: a), transposeA: true) + matmul(u, Matrix(column: b), transposeA: true)
        return z.indices.map { z[$0] - fit.storage[$0] }
    }

    /// The handout's gap: P(a, b) − D(ρ) at ρ = s·r, s = min(1, λ/‖U r‖∞), with
    /// D(ρ) = ρᵀz − ½‖ρ‖² − κ·max(0, ‖X ρ‖∞ − λ).
    func gap(_ a: [Double], _ b: [Double]) -> Double {
        let r = residual(a, b)
        let gb = matmul(u, Matrix(column: r)).maxAbs
        let s = gb > lambda ? lambda / gb : 1
        let rho = r.map { $0 * s }
        let ga = matmul(x, Matrix(column: rho)).maxAbs
        let dual =
            zip(rho, z).reduce(0) { $0 + $1.0 * $1.1 } - 0.5 * rho.reduce(0) { $0 + $1 * $1 }
            - kappa * max(0, ga - lambda)
        return objective(a, b) - dual
    }

    /// A random problem: states X ≥ 0 (like ReLU activations), inputs U, and a target row made
    /// from a sparse (a, b) plus noise.
    static func random(n: Int, p: Int, m: Int, seed: UInt64, lambda: Double, kappa: Double) -> RowProblem {
        let x = randomMatrix(n, m, seed: seed).map { max($0, 0) }
        let u = randomMatrix(p, m, seed: seed + 1)
        var g = SeededGenerator(seed: seed + 2)
        let a = (0..<n).map { _ in g.uniform() < 0.3 ? g.normal() : 0 }
        let b = (0..<p).map { _ in g.uniform() < 0.5 ? g.normal() : 0 }
        let fit = matmul(x, Matrix(column: a), transposeA: true) + matmul(u, Matrix(column: b), transposeA: true)
        return RowProblem(x: x, u: u, z: fit.storage.map { $0 + 0.1 * g.normal() }, lambda: lambda, kappa: kappa)
    }
}

/// The cvxpy fixture: X, U, the target rows and the optimal objectives and points.
struct StateMatchingFixture {
    var x, u, z: Matrix<Double>
    var lambda, kappa: Double
    var rows: [(objective: Double, a: [Double], b: [Double])]

    init() throws {
        let fx = try Fixtures.load("sim/state_matching_rows.json")
        x = try Fixtures.matrix(fx["X"], "X")
        u = try Fixtures.matrix(fx["U"], "U")
        z = try Fixtures.matrix(fx["Z"], "Z")
        lambda = try Fixtures.number(fx["lam"], "lam")
        kappa = try Fixtures.number(fx["kappa"], "kappa")
        rows = try (fx["rows"] as? [[String: Any]] ?? []).map {
            (
                try Fixtures.number($0["objective"], "objective"), try Fixtures.matrix($0["a"], "a").storage,
                try Fixtures.matrix($0["b"], "b").storage
            )
        }
    }

    func problem(_ i: Int) -> RowProblem {
        RowProblem(x: x, u: u, z: z.rowArray(i), lambda: lambda, kappa: kappa)
    }

    var description: String {
        "cvxpy's sim/state_matching_rows.json: X \(x.shapeDescription), U \(u.shapeDescription), λ = \(lambda), κ = \(kappa)"
    }
}

extension Assignment {
    /// The sim-row assignment bound to an implementation.
    public static func simRow(_ f: SIMRowFunctions) -> Assignment {
        let t1 = "1 · projection onto the ℓ1 ball"
        let t2 = "2 · objective and duality gap"
        let t3 = "3 · FISTA row solver"
        /// Runs the solver on a problem and checks feasibility, the reported gap and the
        /// objective against `optimum`.
        func checkSolve(_ pr: RowProblem, optimum: Double, tolerance: Double, input: String) throws {
            let r = try f.solveRow(pr.x, pr.u, pr.z, pr.lambda, pr.kappa, tolerance, 200_000)
            try expect(
                r.a.count == pr.x.rows && r.b.count == pr.u.rows, input: input,
                expected: "a with \(pr.x.rows) and b with \(pr.u.rows) entries", got: "\(r.a.count) and \(r.b.count)")
            let l1 = r.a.reduce(0) { $0 + abs($1) }
            try expect(
                l1 <= pr.kappa * (1 + 1e-9), input: input, expected: "‖a‖₁ ≤ κ = \(pr.kappa)",
                got: "‖a‖₁ = \(show(l1))",
                tolerance: "relative 1e-9")
            let p = pr.objective(r.a, r.b)
            let gap = pr.gap(r.a, r.b)
            try expect(
                r.gap <= tolerance * max(1, abs(p)) && gap <= 10 * tolerance * max(1, abs(p)) + 1e-12, input: input,
                expected: "a duality gap ≤ \(show(tolerance))·max(1, |P|) at the returned (a, b)",
                got:
                    "reported gap \(show(r.gap)), the handout's gap at the returned point \(show(gap)) (P = \(show(p)))"
            )
            try expectClose(
                p, optimum, tolerance: 1e-6, what: "P(a, b), the objective at the returned point", input: input)
        }
        return Assignment(
            name: "sim-row", title: "The SIM row problem",
            checks: [
                Check(
                    id: "l1-fixture", task: t1, points: 1,
                    summary: "torchidl's sim/l1ball_projection.json: 12 vectors of 9 entries, radius 0.99"
                ) {
                    let fx = try Fixtures.load("sim/l1ball_projection.json")
                    let v = try Fixtures.matrix(fx["input"], "input")
                    let want = try Fixtures.matrix(fx["output"], "output")
                    let radius = try Fixtures.number(fx["radius"], "radius")
                    for i in 0..<v.rows {
                        try expectClose(
                            try f.projectOntoL1Ball(v.rowArray(i), radius), want.rowArray(i), tolerance: 1e-10,
                            what: "x",
                            input: "row \(i) of l1ball_projection.json, v = \(show(v.rowArray(i))), radius \(radius)")
                    }
                },
                Check(
                    id: "l1-edge", task: t1, points: 1,
                    summary: "a zero vector, a vector already inside (unchanged), radius 0, ties, one entry, no entries"
                ) {
                    let cases: [([Double], Double, [Double])] = [
                        ([0, 0, 0], 1, [0, 0, 0]),
                        ([0.1, -0.2, 0.3], 1, [0.1, -0.2, 0.3]),
                        ([0.5, -2, 1], 0, [0, 0, 0]),
                        ([2, -2, 2, -2], 1, [0.25, -0.25, 0.25, -0.25]),
                        ([-7], 0.5, [-0.5]),
                        ([], 1, []),
                    ]
                    for (v, radius, want) in cases {
                        try expectClose(
                            try f.projectOntoL1Ball(v, radius), want, tolerance: 1e-14, what: "x",
                            input: "v = \(show(v)), radius \(show(radius))")
                    }
                },
                Check(
                    id: "l1-random", task: t1, points: 1,
                    summary: "random vectors of 1 to 200 entries, radii 0.1 to 10, against the library"
                ) {
                    var g = SeededGenerator(seed: 400)
                    for k in 0..<40 {
                        let count = 1 + g.integer(below: 200)
                        let v = (0..<count).map { _ in 3 * g.normal() }
                        let radius = 0.1 * pow(100, g.uniform())
                        try expectClose(
                            try f.projectOntoL1Ball(v, radius), try IDL.projectOntoL1Ball(v, radius: radius),
                            tolerance: 1e-10, what: "x",
                            input: "random vector \(k) (\(count) entries, seed 400), radius \(show(radius))")
                    }
                },
                Check(
                    id: "gap-at-optimum", task: t2, points: 1,
                    summary:
                        "cvxpy's optimal (a, b) of the 4 fixture rows: P = cvxpy's objective, gap ≈ 0 (never negative)"
                ) {
                    let fx = try StateMatchingFixture()
                    for (i, row) in fx.rows.enumerated() {
                        let pr = fx.problem(i)
                        let input = "\(fx.description), row \(i), (a, b) = cvxpy's optimum"
                        let r = try f.objectiveAndGap(pr.x, pr.u, pr.z, row.a, row.b, pr.lambda, pr.kappa)
                        try expectClose(r.objective, row.objective, tolerance: 1e-9, what: "P(a, b)", input: input)
                        try expect(
                            r.gap >= -1e-9 && r.gap <= 1e-6 * max(1, row.objective), input: input,
                            expected: "0 ≤ gap ≤ 1e-6·P (a gap is never negative: D(ρ) ≤ P* ≤ P(a, b))",
                            got: "gap = \(show(r.gap))", tolerance: "1e-9 below 0, 1e-6·P above")
                    }
                },
                Check(
                    id: "gap-formula", task: t2, points: 2,
                    summary:
                        "feasible non-optimal points (on and inside the ball) of the fixture rows: P and the handout's gap"
                ) {
                    let fx = try StateMatchingFixture()
                    var g = SeededGenerator(seed: 500)
                    for i in 0..<fx.rows.count {
                        let pr = fx.problem(i)
                        for scale in [1.0, 0.5] {
                            var a = try IDL.projectOntoL1Ball(
                                fx.rows[i].a.map { $0 + 0.3 * g.normal() }, radius: pr.kappa)
                            a = a.map { $0 * scale }
                            let b = fx.rows[i].b.map { $0 + 0.1 * g.normal() }
                            let input =
                                "\(fx.description), row \(i), a = \(show(a)) (‖a‖₁ = \(show(a.reduce(0) { $0 + abs($1) }))), b = \(show(b))"
                            let r = try f.objectiveAndGap(pr.x, pr.u, pr.z, a, b, pr.lambda, pr.kappa)
                            try expectClose(
                                r.objective, pr.objective(a, b), tolerance: 1e-9, what: "P(a, b)", input: input)
                            try expectClose(r.gap, pr.gap(a, b), tolerance: 1e-9, what: "gap", input: input)
                        }
                    }
                },
                Check(
                    id: "solve-fixture", task: t3, points: 2,
                    summary:
                        "the 4 rows of cvxpy's sim/state_matching_rows.json (κ active): objective within 1e-6 of cvxpy's, tolerance 1e-9"
                ) {
                    let fx = try StateMatchingFixture()
                    for i in 0..<fx.rows.count {
                        try checkSolve(
                            fx.problem(i), optimum: fx.rows[i].objective, tolerance: 1e-9,
                            input: "\(fx.description), row \(i), tolerance 1e-9, budget 200000")
                    }
                },
                Check(
                    id: "solve-zero-row", task: t3, points: 1,
                    summary: "a zero target row z = 0 (the optimum is a = b = 0, P = 0)"
                ) {
                    var pr = RowProblem.random(n: 12, p: 4, m: 50, seed: 600, lambda: 0.1, kappa: 0.9)
                    pr.z = [Double](repeating: 0, count: 50)
                    try checkSolve(
                        pr, optimum: 0, tolerance: 1e-9,
                        input: "z = 0 (50 samples), random X ≥ 0 (12×50), U (4×50), λ = 0.1, κ = 0.9")
                },
                Check(
                    id: "solve-random", task: t3, points: 1,
                    summary:
                        "a random row (n = 20, p = 8, m = 120, λ = 0.05, κ = 0.8): objective against the library's exact SIM solver"
                ) {
                    let pr = RowProblem.random(n: 20, p: 8, m: 120, seed: 700, lambda: 0.05, kappa: 0.8)
                    let solver = SIMExactSolver(tolerance: 1e-11, maxIterations: 1_000_000)
                    let result = try solver.fitStage(
                        features: .vcat([pr.x, pr.u]), targets: Matrix(row: pr.z), stateCount: 20, lambda: pr.lambda,
                        constraint: .infinityNorm(kappa: pr.kappa), progress: nil)
                    let w = result.weights.rowArray(0)
                    try checkSolve(
                        pr, optimum: pr.objective(Array(w[0..<20]), Array(w[20...])), tolerance: 1e-9,
                        input:
                            "random X ≥ 0 (20×120, seed 700), U (8×120), z from a sparse (a, b) plus noise, λ = 0.05, κ = 0.8"
                    )
                },
            ])
    }
}
