import Foundation
import IDL
import Testing

@Suite struct AutodiffTests {
    static let shapes: [(Int, Int, Int)] = [(1, 1, 1), (3, 4, 2), (5, 2, 7)]

    func random(_ r: Int, _ c: Int, _ seed: UInt64) -> Matrix<Double> {
        var g = SeededGenerator(seed: seed)
        return Matrix.randomNormal(r, c, using: &g)
    }

    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func matmulGradients(transposes: (Bool, Bool)) throws {
        let (ta, tb) = transposes
        for (m, k, n) in Self.shapes {
            let a = ta ? random(k, m, 1) : random(m, k, 1)
            let b = tb ? random(n, k, 2) : random(k, n, 2)
            let err = try gradientCheckError([a, b]) { matmul($0[0], $0[1], transposeA: ta, transposeB: tb) }
            #expect(err < 1e-7, "m=\(m) k=\(k) n=\(n) ta=\(ta) tb=\(tb): \(err)")
        }
    }

    @Test func elementwiseArithmeticGradients() throws {
        for (r, c, _) in Self.shapes {
            let a = random(r, c, 3)
            let b = random(r, c, 4)
            let col = random(r, 1, 5)
            #expect(try gradientCheckError([a, b]) { $0[0] + $0[1] } < 1e-7)
            #expect(try gradientCheckError([a, b]) { $0[0] - $0[1] } < 1e-7)
            #expect(try gradientCheckError([a, b]) { $0[0] * $0[1] } < 1e-7)
            #expect(try gradientCheckError([a, col]) { $0[0] + $0[1] } < 1e-7)  // bias broadcast
            #expect(try gradientCheckError([a, col]) { $0[0] - $0[1] } < 1e-7)
            #expect(try gradientCheckError([a, col]) { $0[0] * $0[1] } < 1e-7)
            #expect(try gradientCheckError([a]) { $0[0] * 2.5 } < 1e-7)
            #expect(try gradientCheckError([a]) { -$0[0] } < 1e-7)
            #expect(try gradientCheckError([a]) { $0[0].transposed } < 1e-7)
            #expect(try gradientCheckError([a]) { $0[0].sum() } < 1e-7)
            #expect(try gradientCheckError([a]) { $0[0].mean() } < 1e-7)
        }
    }

    @Test func activationGradients() throws {
        // Keep entries away from ReLU's kink at 0, where finite differences are meaningless.
        var x = random(4, 5, 6)
        x.apply { abs($0) < 1e-3 ? 0.5 : $0 }
        let cases: [(String, (Tensor<Double>) -> Tensor<Double>)] = [
            ("relu", relu), ("leaky", { leakyRelu($0, slope: 0.1) }), ("tanh", tanh),
            ("sigmoid", sigmoid), ("silu", silu), ("softplus", softplus),
        ]
        for (name, f) in cases {
            let err = try gradientCheckError([x]) { f($0[0]) }
            #expect(err < 1e-7, "\(name): \(err)")
        }
        // Values against the formulas.
        #expect(ReLU().phi(-2.0) == 0 && ReLU().phi(3.0) == 3 && ReLU().dphi(0.0) == 0)
        #expect(abs(Sigmoid().phi(0.0) - 0.5) < 1e-15)
        #expect(abs(Softplus().phi(0.0) - 0.6931471805599453) < 1e-15)
        #expect(abs(Softplus().phi(800.0) - 800) < 1e-12)  // no overflow
        #expect(abs(SiLU().phi(1.0) - 0.7310585786300049) < 1e-15)
    }

    @Test func slicingConcatenationReshapeGradients() throws {
        let a = random(5, 4, 7)
        let b = random(2, 4, 8)
        let c = random(5, 3, 9)
        #expect(try gradientCheckError([a]) { $0[0].rows(1..<4) } < 1e-7)
        #expect(try gradientCheckError([a]) { $0[0].columns(2..<4) } < 1e-7)
        #expect(try gradientCheckError([a, b]) { vcat([$0[0], $0[1]]) } < 1e-7)
        #expect(try gradientCheckError([a, c]) { hcat([$0[0], $0[1]]) } < 1e-7)
        #expect(try gradientCheckError([a]) { try $0[0].reshaped(rows: 10, cols: 2) } < 1e-7)
        // A node used twice accumulates both gradients.
        #expect(try gradientCheckError([a]) { $0[0] * $0[0] + $0[0] } < 1e-7)
        #expect(throws: IDLError.self) { try Tensor(a).reshaped(rows: 3, cols: 3) }
    }

    @Test func lossGradients() throws {
        for (q, m, _) in Self.shapes {
            let z = random(q, m, 10)
            let y = random(q, m, 11)
            for reduction in [Reduction.mean, .sum] {
                #expect(try gradientCheckError([z]) { try mseLoss($0[0], y, reduction: reduction) } < 1e-7)
                let labels = (0..<m).map { $0 % q }
                #expect(
                    try gradientCheckError([z]) { try crossEntropyLoss($0[0], labels, reduction: reduction) } < 1e-7)
            }
        }
        // Cross-entropy value against a hand computation: logits (1, 2, 3), label 2.
        let l = try crossEntropyLoss(Tensor(Matrix<Double>(column: [1, 2, 3])), [2])
        let expected = -(3 - log(exp(1.0) + exp(2.0) + exp(3.0)))
        #expect(abs(l.value[0, 0] - expected) < 1e-14)
        // Stable for huge logits.
        let big = try crossEntropyLoss(Tensor(Matrix<Double>(column: [1000, 0])), [1])
        #expect(abs(big.value[0, 0] - 1000) < 1e-9)
        #expect(throws: IDLError.self) { try crossEntropyLoss(Tensor(random(3, 2, 1)), [0]) }
        #expect(throws: IDLError.self) { try crossEntropyLoss(Tensor(random(3, 2, 1)), [0, 3]) }
        #expect(throws: IDLError.self) { try mseLoss(Tensor(random(3, 2, 1)), random(2, 3, 1)) }
    }

    @Test func customNodeGradient() throws {
        // A custom node computing 3x² with a hand-written backward.
        let x = random(3, 2, 12)
        let err = try gradientCheckError([x]) { inputs in
            let v = inputs[0].value
            return Tensor.custom(inputs: [inputs[0]], value: v * v * 3) { g in [g * v * 6] }
        }
        #expect(err < 1e-7)
    }

    @Test func graphIsFreedAfterAStep() {
        weak var weakNode: Tensor<Double>?
        let p = Tensor(parameter: random(3, 3, 1))
        do {
            let hidden = relu(matmul(p, Tensor(random(3, 4, 2))))
            weakNode = hidden
            let loss = hidden.sum()
            loss.backward()
        }
        #expect(weakNode == nil, "the graph of a step must be released when the loss goes out of scope")
        #expect(p.grad != nil)
    }
}
