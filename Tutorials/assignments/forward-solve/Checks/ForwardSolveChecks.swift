import IDL

/// The functions of the forward-solve assignment, as the grader calls them (see the handout,
/// forward-solve/README.md).
public struct ForwardSolveFunctions {
    /// Task 1: Picard iteration X ← relu(A X + B U) from X = 0.
    public var picard:
        (_ A: Matrix<Double>, _ B: Matrix<Double>, _ U: Matrix<Double>, _ tolerance: Double, _ maxIterations: Int)
            throws -> (X: Matrix<Double>, iterations: Int, converged: Bool)
    /// Task 2: A scaled by κ/‖A‖∞ when ‖A‖∞ > κ.
    public var scaleIntoInfinityBall: (_ A: Matrix<Double>, _ kappa: Double) throws -> Matrix<Double>
    /// Task 3: each row of A projected onto the ℓ1 ball.
    public var projectRowsOntoL1Ball: (_ A: Matrix<Double>, _ radius: Double) throws -> Matrix<Double>
    /// Task 4: λ_pf(|A|).
    public var perronFrobenius: (_ A: Matrix<Double>) throws -> Double

    /// The four functions.
    public init(
        picard:
            @escaping (Matrix<Double>, Matrix<Double>, Matrix<Double>, Double, Int) throws -> (
                X: Matrix<Double>, iterations: Int, converged: Bool
            ),
        scaleIntoInfinityBall: @escaping (Matrix<Double>, Double) throws -> Matrix<Double>,
        projectRowsOntoL1Ball: @escaping (Matrix<Double>, Double) throws -> Matrix<Double>,
        perronFrobenius: @escaping (Matrix<Double>) throws -> Double
    ) {
        self.picard = picard
        self.scaleIntoInfinityBall = scaleIntoInfinityBall
        self.projectRowsOntoL1Ball = projectRowsOntoL1Ball
        self.perronFrobenius = perronFrobenius
    }
}

/// relu(A X + B U), the state map.
func reluStateMap(_ a: Matrix<Double>, _ x: Matrix<Double>, _ bu: Matrix<Double>) -> Matrix<Double> {
    (matmul(a, x) + bu).map { max($0, 0) }
}

extension Assignment {
    /// The forward-solve assignment bound to an implementation.
    public static func forwardSolve(_ f: ForwardSolveFunctions) -> Assignment {
        let t1 = "1 · Picard iteration"
        let t2 = "2 · ∞-norm scaling"
        let t3 = "3 · rows onto the ℓ1 ball"
        let t4 = "4 · λ_pf(|A|)"
        return Assignment(
            name: "forward-solve", title: "Forward solve and well-posedness",
            checks: [
                Check(
                    id: "picard-fixture", task: t1, points: 2,
                    summary:
                        "torchidl's implicit/relu_small.json: n = 8, p = 5, m = 4, A scaled to ‖A‖∞ = 0.99, tolerance 1e-12"
                ) {
                    let fx = try Fixtures.load("implicit/relu_small.json")
                    let params = fx["params"] as? [String: Any] ?? [:]
                    let a = try Fixtures.matrix(params["A"], "A").scaledIntoInfinityBall(radius: 0.99)
                    let b = try Fixtures.matrix(params["B"], "B")
                    let c = try Fixtures.matrix(params["C"], "C")
                    let d = try Fixtures.matrix(params["D"], "D")
                    let u = try Fixtures.matrix(fx["input"], "input").transposed
                    let y = try Fixtures.matrix(fx["output"], "output").transposed
                    let input = "relu_small.json (A 8×8 scaled to ‖A‖∞ = 0.99, U 5×4), tolerance 1e-12, budget 10000"
                    let r = try f.picard(a, b, u, 1e-12, 10_000)
                    try expect(
                        r.converged, input: input, expected: "converged = true", got: "converged = false")
                    try expectClose(
                        matmul(c, r.X) + matmul(d, u), y, tolerance: 1e-8, what: "Ŷ = C X + D U (torchidl's output)",
                        input: input)
                },
                Check(
                    id: "picard-random", task: t1, points: 1,
                    summary: "random A (20×20, ‖A‖∞ = 0.9), B (20×5), U (5×7), tolerance 1e-10, budget 1000"
                ) {
                    let a = randomMatrix(20, 20, seed: 11).scaledIntoInfinityBall(radius: 0.9)
                    let b = randomMatrix(20, 5, seed: 12)
                    let u = randomMatrix(5, 7, seed: 13)
                    let input = "random A (20×20, ‖A‖∞ = 0.9, seed 11), B (20×5), U (5×7), tolerance 1e-10, budget 1000"
                    let bu = matmul(b, u)
                    let (x, stats) = Picard().solve(
                        initial: Matrix(rows: 20, cols: 7), tolerance: 1e-10, maxIterations: 1000
                    ) {
                        x, out in out = reluStateMap(a, x, bu)
                    }
                    let r = try f.picard(a, b, u, 1e-10, 1000)
                    try expectClose(r.X, x, tolerance: 1e-9, what: "X", input: input)
                    try expect(
                        r.converged && abs(r.iterations - stats.iterations) <= 1, input: input,
                        expected: "converged after \(stats.iterations) iterations (±1)",
                        got: "converged = \(r.converged) after \(r.iterations) iterations")
                },
                Check(
                    id: "picard-zero-input", task: t1, points: 1,
                    summary:
                        "U = 0 (4×3) with a random A (6×6, ‖A‖∞ = 0.5): the fixed point is X = 0, found at the first iteration"
                ) {
                    let a = randomMatrix(6, 6, seed: 21).scaledIntoInfinityBall(radius: 0.5)
                    let b = randomMatrix(6, 4, seed: 22)
                    let input = "U = 0 (4×3), A 6×6 with ‖A‖∞ = 0.5, tolerance 1e-10, budget 100"
                    let r = try f.picard(a, b, Matrix(rows: 4, cols: 3), 1e-10, 100)
                    try expectClose(r.X, Matrix(rows: 6, cols: 3), tolerance: 0, what: "X", input: input)
                    try expect(
                        r.converged && r.iterations == 1, input: input, expected: "converged = true after 1 iteration",
                        got: "converged = \(r.converged) after \(r.iterations) iterations")
                },
                Check(
                    id: "picard-no-convergence", task: t1, points: 1,
                    summary:
                        "non-converging A, budget 50: A = −I with B U = 1 (Picard oscillates between 0 and 1), then A = 1.5·I (X grows without bound)"
                ) {
                    let b = Matrix<Double>.ones(4, 2) * 0.5
                    let u = Matrix<Double>.ones(2, 3)
                    for (a, name) in [
                        (Matrix<Double>.identity(4) * -1, "−I"), (Matrix<Double>.identity(4) * 1.5, "1.5·I"),
                    ] {
                        let input = "A = \(name) (4×4), B = 0.5·ones (4×2), U = ones (2×3), tolerance 1e-8, budget 50"
                        let r = try f.picard(a, b, u, 1e-8, 50)
                        try expect(
                            !r.converged && r.iterations == 50, input: input,
                            expected:
                                "converged = false after all 50 iterations (a solve that failed is never reported as converged; mind NaN in the stopping test)",
                            got: "converged = \(r.converged) after \(r.iterations) iterations")
                    }
                },
                Check(
                    id: "scale-outside", task: t2, points: 1,
                    summary: "random A (12×12, ‖A‖∞ ≈ 30), κ = 0.95: scaled by κ/‖A‖∞"
                ) {
                    let a = randomMatrix(12, 12, seed: 31, scale: 3)
                    let input = "random A (12×12, ‖A‖∞ = \(show(a.infinityNorm)), seed 31), κ = 0.95"
                    let got = try f.scaleIntoInfinityBall(a, 0.95)
                    try expectClose(
                        got, a.scaledIntoInfinityBall(radius: 0.95), tolerance: 1e-12, what: "A", input: input)
                },
                Check(
                    id: "scale-inside", task: t2, points: 1,
                    summary: "A already inside the ball (‖A‖∞ = 0.5 < κ = 0.99), and A = 0: returned unchanged"
                ) {
                    let a = randomMatrix(7, 7, seed: 32).scaledIntoInfinityBall(radius: 0.5)
                    let got = try f.scaleIntoInfinityBall(a, 0.99)
                    try expectClose(got, a, tolerance: 0, what: "A", input: "A (7×7) with ‖A‖∞ = 0.5 < κ = 0.99")
                    let zero = try f.scaleIntoInfinityBall(Matrix(rows: 3, cols: 3), 0.99)
                    try expectClose(
                        zero, Matrix(rows: 3, cols: 3), tolerance: 0, what: "A", input: "A = 0 (3×3), κ = 0.99")
                },
                Check(
                    id: "project-fixture", task: t3, points: 1,
                    summary: "torchidl's sim/l1ball_projection.json: 12 rows of 9 entries onto the ball of radius 0.99"
                ) {
                    let fx = try Fixtures.load("sim/l1ball_projection.json")
                    let v = try Fixtures.matrix(fx["input"], "input")
                    let want = try Fixtures.matrix(fx["output"], "output")
                    let radius = try Fixtures.number(fx["radius"], "radius")
                    let got = try f.projectRowsOntoL1Ball(v, radius)
                    try expectClose(
                        got, want, tolerance: 1e-10, what: "A", input: "l1ball_projection.json (12×9), radius \(radius)"
                    )
                },
                Check(
                    id: "project-edge", task: t3, points: 1,
                    summary: "rows that are zero, already inside, on the sphere, with one entry, with ties; radius 1"
                ) {
                    let rows: [[Double]] = [
                        [0, 0, 0, 0], [0.1, -0.2, 0.3, 0], [0.25, -0.25, 0.25, -0.25], [0, 0, -7, 0], [2, -2, 2, -2],
                    ]
                    let a = try Matrix(rowMajor: rows)
                    let input = "A = \(rows) (rows: zero, inside, on the sphere, one entry, ties), radius 1"
                    let got = try f.projectRowsOntoL1Ball(a, 1)
                    try expectClose(
                        got, a.rowsProjectedOntoL1Ball(radius: 1), tolerance: 1e-14, what: "A", input: input)
                },
                Check(
                    id: "project-random", task: t3, points: 1,
                    summary: "random A (30×50, entries of size ≈ 2) onto the ball of radius 0.5"
                ) {
                    let a = randomMatrix(30, 50, seed: 41, scale: 2)
                    let got = try f.projectRowsOntoL1Ball(a, 0.5)
                    try expectClose(
                        got, a.rowsProjectedOntoL1Ball(radius: 0.5), tolerance: 1e-10, what: "A",
                        input: "random A (30×50, seed 41, scale 2), radius 0.5")
                },
                Check(
                    id: "pf-random", task: t4, points: 1,
                    summary: "random A (15×15, entries of both signs)"
                ) {
                    let a = randomMatrix(15, 15, seed: 51, scale: 0.2)
                    try expectClose(
                        try f.perronFrobenius(a), perronFrobeniusEigenvalue(a), tolerance: 1e-6, what: "λ_pf(|A|)",
                        input: "random A (15×15, seed 51, scale 0.2)")
                },
                Check(
                    id: "pf-periodic", task: t4, points: 1,
                    summary:
                        "periodic |A| where plain power iteration oscillates: a 3-cycle and [[0, 2], [0.5, 0]], both λ_pf = 1"
                ) {
                    let cycle = try Matrix<Double>(rowMajor: [[0, 1, 0], [0, 0, -1], [1, 0, 0]])
                    try expectClose(
                        try f.perronFrobenius(cycle), 1, tolerance: 1e-6, what: "λ_pf(|A|)",
                        input: "A = [[0, 1, 0], [0, 0, -1], [1, 0, 0]] (a 3-cycle)")
                    let swap = try Matrix<Double>(rowMajor: [[0, 2], [0.5, 0]])
                    try expectClose(
                        try f.perronFrobenius(swap), 1, tolerance: 1e-6, what: "λ_pf(|A|)",
                        input: "A = [[0, 2], [0.5, 0]]")
                },
                Check(
                    id: "pf-triangular", task: t4, points: 1,
                    summary: "an upper triangular A (λ_pf = largest |diagonal entry|) and A = 0"
                ) {
                    let tri = try Matrix<Double>(rowMajor: [[0.3, 5, -2], [0, -0.7, 4], [0, 0, 0.1]])
                    try expectClose(
                        try f.perronFrobenius(tri), 0.7, tolerance: 1e-6, what: "λ_pf(|A|)",
                        input: "A = [[0.3, 5, -2], [0, -0.7, 4], [0, 0, 0.1]]")
                    try expectClose(
                        try f.perronFrobenius(Matrix(rows: 4, cols: 4)), 0, tolerance: 1e-9, what: "λ_pf(|A|)",
                        input: "A = 0 (4×4)")
                },
            ])
    }
}
