import IDL

/// The gradients of L with respect to A, B, C, D and U.
public typealias ImplicitGradients = (
    dA: Matrix<Double>, dB: Matrix<Double>, dC: Matrix<Double>, dD: Matrix<Double>, dU: Matrix<Double>
)

/// The functions of the implicit-differentiation assignment, as the grader calls them (see the
/// handout, implicit-differentiation/README.md).
public struct ImplicitDifferentiationFunctions {
    /// Task 1: the adjoint V = relu′(Z) ∘ (Aᵀ V + G), by fixed-point iteration from V = 0.
    public var adjoint:
        (_ A: Matrix<Double>, _ Z: Matrix<Double>, _ G: Matrix<Double>, _ tolerance: Double, _ maxIterations: Int)
            throws -> Matrix<Double>
    /// Task 2: the gradients of L = Σ Ŷ ∘ dY for the batch U.
    public var gradients:
        (
            _ A: Matrix<Double>, _ B: Matrix<Double>, _ C: Matrix<Double>, _ D: Matrix<Double>, _ U: Matrix<Double>,
            _ dY: Matrix<Double>
        ) throws -> ImplicitGradients

    /// The two functions.
    public init(
        adjoint: @escaping (Matrix<Double>, Matrix<Double>, Matrix<Double>, Double, Int) throws -> Matrix<Double>,
        gradients:
            @escaping (
                Matrix<Double>, Matrix<Double>, Matrix<Double>, Matrix<Double>, Matrix<Double>, Matrix<Double>
            ) throws -> ImplicitGradients
    ) {
        self.adjoint = adjoint
        self.gradients = gradients
    }
}

/// A torchidl fixture as the gradient checks use it: A made well-posed as torchidl does, U with
/// torchidl's row of ones when the model has a bias, and the expected gradients.
struct GradientFixture {
    var a, b, c, d, u, dY: Matrix<Double>
    var expected: ImplicitGradients
    var description: String

    init(_ file: String) throws {
        let fx = try Fixtures.load(file)
        let params = fx["params"] as? [String: Any] ?? [:]
        let grads = fx["grads"] as? [String: Any] ?? [:]
        let config = fx["config"] as? [String: Any] ?? [:]
        a = try Fixtures.matrix(params["A"], "A").scaledIntoInfinityBall(radius: 0.99)
        b = try Fixtures.matrix(params["B"], "B")
        c = try Fixtures.matrix(params["C"], "C")
        d = try Fixtures.matrix(params["D"], "D")
        let input = try Fixtures.matrix(fx["input"], "input").transposed
        u = config["bias"] as? Bool == true ? .vcat([input, .ones(1, input.cols)]) : input
        dY = try Fixtures.matrix(fx["grad_output"], "grad_output").transposed
        expected = (
            try Fixtures.matrix(grads["A"], "grads.A"), try Fixtures.matrix(grads["B"], "grads.B"),
            try Fixtures.matrix(grads["C"], "grads.C"), try Fixtures.matrix(grads["D"], "grads.D"),
            try Fixtures.matrix(grads["input"], "grads.input").transposed
        )
        description =
            "torchidl's \(file): A \(a.shapeDescription) scaled to ‖A‖∞ ≤ 0.99, B \(b.shapeDescription), C \(c.shapeDescription), D \(d.shapeDescription), U \(u.shapeDescription)\(u.rows > input.rows ? " (last row: ones, the bias)" : ""), dY \(dY.shapeDescription)"
    }
}

/// The library's adjoint: the gradient that flows into Z₀ = B U through IDL's implicit layer
/// when X is seeded with G; with the library's state X, returns (X, Z, V).
func libraryAdjoint(_ a: Matrix<Double>, _ bu: Matrix<Double>, _ g: Matrix<Double>) -> (
    x: Matrix<Double>, z: Matrix<Double>, v: Matrix<Double>
) {
    let settings = FixedPointSettings(tolerance: 1e-14, maxIterations: 100_000)
    let injection = Tensor(bu, requiresGrad: true)
    let x = equilibrium(
        a: Tensor(a), injection: injection, activation: ReLU(), forward: settings, backward: settings)
    x.backward(seed: g)
    return (x.value, matmul(a, x.value) + bu, injection.grad ?? Matrix(rows: bu.rows, cols: bu.cols))
}

extension Assignment {
    /// The implicit-differentiation assignment bound to an implementation.
    public static func implicitDifferentiation(_ f: ImplicitDifferentiationFunctions) -> Assignment {
        let t1 = "1 · the adjoint fixed point"
        let t2 = "2 · gradients of A, B, C, D, U"
        func adjointCheck(id: String, points: Int, kappa: Double, seed: UInt64, summary: String) -> Check {
            Check(id: id, task: t1, points: points, summary: summary) {
                let (n, p, m) = (16, 5, 6)
                let a = randomMatrix(n, n, seed: seed).scaledIntoInfinityBall(radius: kappa)
                let bu = matmul(randomMatrix(n, p, seed: seed + 1), randomMatrix(p, m, seed: seed + 2))
                let g = randomMatrix(n, m, seed: seed + 3)
                let (_, z, v) = libraryAdjoint(a, bu, g)
                let input =
                    "random A (\(n)×\(n), ‖A‖∞ = \(kappa), seed \(seed)), Z = A X + B U at the fixed point (\(n)×\(m)), G (\(n)×\(m)), tolerance 1e-13, budget 100000"
                try expectClose(try f.adjoint(a, z, g, 1e-13, 100_000), v, tolerance: 1e-9, what: "V", input: input)
            }
        }
        func fixtureCheck(_ part: String, _ pick: @escaping (ImplicitGradients) -> Matrix<Double>) -> Check {
            Check(
                id: "grad-fixture-\(part)", task: t2, points: 1,
                summary: "torchidl's implicit/relu_small.json (n = 8, p = 5, q = 3, m = 4): ∂L/∂\(part)"
            ) {
                let fx = try GradientFixture("implicit/relu_small.json")
                let got = try f.gradients(fx.a, fx.b, fx.c, fx.d, fx.u, fx.dY)
                try expectClose(
                    pick(got), pick(fx.expected), tolerance: 1e-8, what: "∂L/∂\(part)", input: fx.description)
            }
        }
        return Assignment(
            name: "implicit-differentiation", title: "Implicit differentiation",
            checks: [
                adjointCheck(
                    id: "adjoint-random", points: 2, kappa: 0.8, seed: 100,
                    summary: "random A (16×16, ‖A‖∞ = 0.8), Z, G (16×6): V against the library's implicit layer"),
                adjointCheck(
                    id: "adjoint-slow-contraction", points: 1, kappa: 0.99, seed: 200,
                    summary: "random A with ‖A‖∞ = 0.99 (a slow contraction: hundreds of iterations), Z, G (16×6)"),
                fixtureCheck("A") { $0.dA },
                fixtureCheck("B") { $0.dB },
                fixtureCheck("C") { $0.dC },
                fixtureCheck("D") { $0.dD },
                fixtureCheck("U") { $0.dU },
                Check(
                    id: "grad-bias-fixture", task: t2, points: 1,
                    summary:
                        "torchidl's implicit/relu_bias.json (n = 10, p = 6 + a bias row of ones, q = 2, m = 7): all five gradients"
                ) {
                    let fx = try GradientFixture("implicit/relu_bias.json")
                    let got = try f.gradients(fx.a, fx.b, fx.c, fx.d, fx.u, fx.dY)
                    let inputRows = fx.expected.dU.rows
                    try expectClose(got.dA, fx.expected.dA, tolerance: 1e-8, what: "∂L/∂A", input: fx.description)
                    try expectClose(got.dB, fx.expected.dB, tolerance: 1e-8, what: "∂L/∂B", input: fx.description)
                    try expectClose(got.dC, fx.expected.dC, tolerance: 1e-8, what: "∂L/∂C", input: fx.description)
                    try expectClose(got.dD, fx.expected.dD, tolerance: 1e-8, what: "∂L/∂D", input: fx.description)
                    try expect(
                        got.dU.rows == fx.u.rows && got.dU.cols == fx.u.cols, input: fx.description,
                        expected: "∂L/∂U of shape \(fx.u.shapeDescription)", got: "shape \(got.dU.shapeDescription)")
                    try expectClose(
                        got.dU.rows(0..<inputRows), fx.expected.dU, tolerance: 1e-8,
                        what: "∂L/∂U (the input rows)", input: fx.description)
                },
                Check(
                    id: "grad-random-batch", task: t2, points: 1,
                    summary:
                        "random model (n = 24, p = 7, q = 4, ‖A‖∞ = 0.9) on a batch of 32: all five gradients against the library's ImplicitModel"
                ) {
                    let (n, p, q, m) = (24, 7, 4, 32)
                    let a = randomMatrix(n, n, seed: 300).scaledIntoInfinityBall(radius: 0.9)
                    let (b, c, d) = (
                        randomMatrix(n, p, seed: 301), randomMatrix(q, n, seed: 302), randomMatrix(q, p, seed: 303)
                    )
                    let (u, dY) = (randomMatrix(p, m, seed: 304), randomMatrix(q, m, seed: 305))
                    let model = try ImplicitModel<Double>(
                        A: a, B: b, C: c, D: d, maxIterations: 100_000, tolerance: 1e-14, gradMaxIterations: 100_000,
                        gradTolerance: 1e-14)
                    let input = Tensor(u, requiresGrad: true)
                    try model(input).backward(seed: dY)
                    let want: ImplicitGradients = (
                        model.A!.grad!, model.B.grad!, model.C.grad!, model.D!.grad!, input.grad!
                    )
                    let got = try f.gradients(a, b, c, d, u, dY)
                    let text =
                        "random A (24×24, ‖A‖∞ = 0.9, seed 300), B (24×7), C (4×24), D (4×7), U (7×32), dY (4×32)"
                    for (name, g, w) in [
                        ("A", got.dA, want.dA), ("B", got.dB, want.dB), ("C", got.dC, want.dC), ("D", got.dD, want.dD),
                        ("U", got.dU, want.dU),
                    ] {
                        try expectClose(g, w, tolerance: 1e-8, what: "∂L/∂\(name)", input: text)
                    }
                },
            ])
    }
}
