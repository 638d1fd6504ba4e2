import Foundation
import IDL

/// One row of the robustness comparison: at radius ε, the clean accuracy, the accuracy under
/// FGSM and the certified-robust accuracy.
public typealias RobustnessPoint = (epsilon: Double, clean: Double, fgsm: Double, certified: Double)

/// The functions of the robustness assignment, as the grader calls them (see the handout,
/// robustness/README.md).
public struct RobustnessFunctions {
    /// Task 1: ‖C‖∞‖B‖∞/(1 − ‖A‖∞) + ‖D‖∞ (+∞ when ‖A‖∞ ≥ 1; no D term when D is nil).
    public var lipschitzBound:
        (_ A: Matrix<Double>, _ B: Matrix<Double>, _ C: Matrix<Double>, _ D: Matrix<Double>?) throws -> Double
    /// Task 2: the share of samples certified robust at radius ε for an L-Lipschitz classifier.
    public var certifiedAccuracy:
        (_ scores: Matrix<Double>, _ labels: [Int], _ epsilon: Double, _ lipschitz: Double) throws -> Double
    /// Task 3: the FGSM adversarial inputs, clipped to [0, 1].
    public var fgsm:
        (_ model: ImplicitModel<Double>, _ inputs: Matrix<Double>, _ labels: [Int], _ epsilon: Double) throws ->
            Matrix<Double>
    /// Task 4: clean, FGSM and certified accuracy at each radius.
    public var compare:
        (_ model: ImplicitModel<Double>, _ inputs: Matrix<Double>, _ labels: [Int], _ epsilons: [Double]) throws ->
            [RobustnessPoint]

    /// The four functions.
    public init(
        lipschitzBound: @escaping (Matrix<Double>, Matrix<Double>, Matrix<Double>, Matrix<Double>?) throws -> Double,
        certifiedAccuracy: @escaping (Matrix<Double>, [Int], Double, Double) throws -> Double,
        fgsm: @escaping (ImplicitModel<Double>, Matrix<Double>, [Int], Double) throws -> Matrix<Double>,
        compare: @escaping (ImplicitModel<Double>, Matrix<Double>, [Int], [Double]) throws -> [RobustnessPoint]
    ) {
        self.lipschitzBound = lipschitzBound
        self.certifiedAccuracy = certifiedAccuracy
        self.fgsm = fgsm
        self.compare = compare
    }
}

/// Checks FGSM inputs against the sign rule u + ε·sign(∇_u L), clipped to [0, 1]: where the
/// gradient is below 1e-9 of its largest entry its sign is left open (rounding decides it).
func expectFGSM(
    _ got: Matrix<Double>, model: ImplicitModel<Double>, inputs: Matrix<Double>, labels: [Int], epsilon: Double,
    input: String
) throws {
    let expected = try Attack.fgsm(model, inputs: inputs, labels: labels, epsilon: epsilon, range: 0...1)
    let u = Tensor(inputs, requiresGrad: true)
    try crossEntropyLoss(model(u), labels, reduction: .sum).backward()
    let g = u.grad ?? Matrix(rows: inputs.rows, cols: inputs.cols)
    let tiny = 1e-9 * g.maxAbs
    try expect(
        got.rows == inputs.rows && got.cols == inputs.cols, input: input,
        expected: "a \(inputs.shapeDescription) matrix", got: "a \(got.shapeDescription) matrix")
    for k in 0..<got.count {
        let (v, e, x) = (got.storage[k], expected.storage[k], inputs.storage[k])
        let ok =
            abs(g.storage[k]) > tiny
            ? abs(v - e) <= 1e-12
            : [x - epsilon, x, x + epsilon].map { min(max($0, 0), 1) }.contains { abs($0 - v) <= 1e-12 }
        if !ok {
            let (i, j) = (k % got.rows, k / got.rows)
            throw CheckFailure(
                input: input,
                expected:
                    "entry [\(i), \(j)] = clip(\(show(x)) + ε·sign(\(show(g.storage[k]))), 0, 1) = \(show(e))",
                got: "\(show(v))", tolerance: "1e-12")
        }
    }
}

/// A small implicit classifier trained on FashionMNIST (the first 2 000 training images, two
/// epochs, seeded) and 200 test images: what the comparison task runs on.
func fashionModel() throws -> (model: ImplicitModel<Double>, inputs: Matrix<Double>, labels: [Int]) {
    var g = SeededGenerator(seed: 800)
    let train = try FashionMNIST.load(.train, as: Double.self).prefix(2000)
    let test = try FashionMNIST.load(.test, as: Double.self).prefix(200)
    let model = try ImplicitModel<Double>(inputDim: 784, outputDim: 10, hiddenDim: 20, kappa: 0.5, using: &g)
    let optimizer = try Adam(model.parameters, learningRate: 5e-3)
    _ = try trainClassifier(model, optimizer: optimizer, train: train, epochs: 2, batchSize: 64, generator: &g)
    model.setTraining(false)
    return (model, test.inputs, test.labels)
}

extension Assignment {
    /// The robustness assignment bound to an implementation.
    public static func robustness(_ f: RobustnessFunctions) -> Assignment {
        let t1 = "1 · certified Lipschitz bound"
        let t2 = "2 · certified accuracy"
        let t3 = "3 · FGSM"
        let t4 = "4 · comparison on FashionMNIST"
        return Assignment(
            name: "robustness", title: "Certified and empirical robustness",
            checks: [
                Check(
                    id: "lipschitz-random", task: t1, points: 1,
                    summary: "random A (10×10, ‖A‖∞ = 0.7), B (10×6), C (3×10), D (3×6)"
                ) {
                    let a = randomMatrix(10, 10, seed: 900).scaledIntoInfinityBall(radius: 0.7)
                    let (b, c, d) = (
                        randomMatrix(10, 6, seed: 901), randomMatrix(3, 10, seed: 902), randomMatrix(3, 6, seed: 903)
                    )
                    try expectClose(
                        try f.lipschitzBound(a, b, c, d), LipschitzCertificate(A: a, B: b, C: c, D: d).normBound,
                        tolerance: 1e-12, what: "L",
                        input: "random A (10×10, ‖A‖∞ = 0.7, seed 900), B (10×6), C (3×10), D (3×6)")
                },
                Check(
                    id: "lipschitz-edge", task: t1, points: 1,
                    summary: "‖A‖∞ = 1 (no certificate: +∞), no D, and B = 0 (L = ‖D‖∞)"
                ) {
                    let (b, c, d) = (
                        randomMatrix(5, 3, seed: 910), randomMatrix(2, 5, seed: 911), randomMatrix(2, 3, seed: 912)
                    )
                    let one = randomMatrix(5, 5, seed: 913).scaledIntoInfinityBall(radius: 1).map { $0 * 1.0000001 }
                    try expectClose(
                        try f.lipschitzBound(one, b, c, d), .infinity, tolerance: 0, what: "L",
                        input: "A (5×5) with ‖A‖∞ = \(show(one.infinityNorm)) ≥ 1")
                    let a = randomMatrix(5, 5, seed: 914).scaledIntoInfinityBall(radius: 0.6)
                    try expectClose(
                        try f.lipschitzBound(a, b, c, nil), LipschitzCertificate(A: a, B: b, C: c, D: nil).normBound,
                        tolerance: 1e-12, what: "L", input: "A (5×5, ‖A‖∞ = 0.6), B, C, D = nil")
                    try expectClose(
                        try f.lipschitzBound(a, Matrix(rows: 5, cols: 3), c, d), d.infinityNorm, tolerance: 1e-12,
                        what: "L", input: "A (5×5, ‖A‖∞ = 0.6), B = 0, C, D (‖D‖∞ = \(show(d.infinityNorm)))")
                },
                Check(
                    id: "certified-random", task: t2, points: 1,
                    summary: "random scores (10 classes × 60 samples), labels, ε = 0.05, L = 3"
                ) {
                    var g = SeededGenerator(seed: 920)
                    let scores = randomMatrix(10, 60, seed: 921, scale: 2)
                    let labels = (0..<60).map { _ in g.integer(below: 10) }
                    try expectClose(
                        try f.certifiedAccuracy(scores, labels, 0.05, 3),
                        try certifiedRobustAccuracy(scores: scores, labels: labels, epsilon: 0.05, lipschitz: 3),
                        tolerance: 1e-12, what: "certified accuracy",
                        input: "random scores (10×60, seed 921), labels (seed 920), ε = 0.05, L = 3")
                },
                Check(
                    id: "certified-edge", task: t2, points: 1,
                    summary: "a tie (not certified), ε = 0 (a strictly positive margin suffices), no samples (0)"
                ) {
                    let scores = try Matrix<Double>(rowMajor: [[1, 0.5, 2, 0.2], [1, 0.1, 0, 0.3]])
                    let labels = [0, 0, 1, 0]
                    let input =
                        "scores [[1, 0.5, 2, 0.2], [1, 0.1, 0, 0.3]] (2 classes × 4 samples), labels [0, 0, 1, 0]"
                    try expectClose(
                        try f.certifiedAccuracy(scores, labels, 0, 10), 0.25, tolerance: 1e-12,
                        what: "certified accuracy", input: input + ", ε = 0, L = 10 (sample 0 is a tie)")
                    try expectClose(
                        try f.certifiedAccuracy(scores, labels, 0.015, 10), 0.25, tolerance: 1e-12,
                        what: "certified accuracy",
                        input: input + ", ε = 0.015, L = 10 (sample 1's margin 0.4 > 2Lε = 0.3)")
                    try expectClose(
                        try f.certifiedAccuracy(scores, labels, 0.025, 10), 0, tolerance: 1e-12,
                        what: "certified accuracy",
                        input: input + ", ε = 0.025, L = 10 (sample 1's margin 0.4 < 2Lε = 0.5)")
                    try expectClose(
                        try f.certifiedAccuracy(Matrix(rows: 3, cols: 0), [], 0.1, 1), 0, tolerance: 0,
                        what: "certified accuracy", input: "no samples (3×0 scores, no labels)")
                },
                Check(
                    id: "fgsm-small-model", task: t3, points: 2,
                    summary: "a random implicit model (p = 6, n = 8, q = 3), 20 inputs in [0.3, 0.7], ε = 0.1"
                ) {
                    var g = SeededGenerator(seed: 930)
                    let model = try ImplicitModel<Double>(inputDim: 6, outputDim: 3, hiddenDim: 8, using: &g)
                    let inputs = Matrix<Double>.randomUniform(6, 20, 0.3, 0.7, using: &g)
                    let labels = (0..<20).map { _ in g.integer(below: 3) }
                    let got = try f.fgsm(model, inputs, labels, 0.1)
                    try expectFGSM(
                        got, model: model, inputs: inputs, labels: labels, epsilon: 0.1,
                        input:
                            "ImplicitModel(inputDim: 6, outputDim: 3, hiddenDim: 8) seeded 930, inputs 6×20 in [0.3, 0.7], ε = 0.1"
                    )
                },
                Check(
                    id: "fgsm-clipping", task: t3, points: 1,
                    summary: "inputs at the edges 0 and 1 of the pixel range, ε = 0.3: the result stays in [0, 1]"
                ) {
                    var g = SeededGenerator(seed: 940)
                    let model = try ImplicitModel<Double>(inputDim: 5, outputDim: 4, hiddenDim: 6, using: &g)
                    let inputs = Matrix<Double>(rows: 5, cols: 12) { i, j in [0, 1, 0.1, 0.9][(i + j) % 4] }
                    let labels = (0..<12).map { $0 % 4 }
                    let got = try f.fgsm(model, inputs, labels, 0.3)
                    try expectFGSM(
                        got, model: model, inputs: inputs, labels: labels, epsilon: 0.3,
                        input:
                            "ImplicitModel(inputDim: 5, outputDim: 4, hiddenDim: 6) seeded 940, inputs 5×12 with entries 0, 1, 0.1, 0.9, ε = 0.3"
                    )
                },
                Check(
                    id: "compare-fashion", task: t4, points: 3,
                    summary:
                        "a small implicit model (n = 20, κ = 0.5) trained on 2 000 FashionMNIST images, 200 test images, ε ∈ {0, 0.001, 0.003, 0.01, 0.03}"
                ) {
                    let (model, inputs, labels) = try fashionModel()
                    let epsilons = [0, 0.001, 0.003, 0.01, 0.03]
                    let input =
                        "the FashionMNIST model of the handout (n = 20, κ = 0.5), 200 test images, ε ∈ \(epsilons)"
                    let got = try f.compare(model, inputs, labels, epsilons)
                    try expect(
                        got.count == epsilons.count && zip(got, epsilons).allSatisfy { $0.0.epsilon == $0.1 },
                        input: input,
                        expected: "one row per ε, in order: \(epsilons)", got: "\(got.map(\.epsilon))")
                    let scores = try model.predict(inputs)
                    let clean = try Metrics.accuracy(scores, labels)
                    let p = model.inputDim
                    let bound = LipschitzCertificate(
                        A: model.effectiveA, B: model.B.value.columns(0..<p), C: model.C.value,
                        D: model.D.map { $0.value.columns(0..<p) }
                    ).normBound
                    let step = 1 / Double(labels.count)
                    for (row, eps) in zip(got, epsilons) {
                        let attacked = try Attack.fgsm(
                            model, inputs: inputs, labels: labels, epsilon: eps, range: 0...1)
                        let fgsm = try Metrics.accuracy(try model.predict(attacked), labels)
                        let certified = try certifiedRobustAccuracy(
                            scores: scores, labels: labels, epsilon: eps, lipschitz: bound)
                        try expectClose(
                            row.clean, clean, tolerance: 1e-12, what: "clean accuracy at ε = \(eps)", input: input)
                        try expectClose(
                            row.certified, certified, tolerance: 1e-12,
                            what: "certified accuracy at ε = \(eps) (task 1's bound L = \(show(bound)))", input: input)
                        try expect(
                            abs(row.fgsm - fgsm) <= step + 1e-12, input: input,
                            expected: "FGSM accuracy at ε = \(eps): \(show(fgsm))", got: "\(show(row.fgsm))",
                            tolerance: "one sample (\(show(step)))")
                    }
                },
            ])
    }
}
