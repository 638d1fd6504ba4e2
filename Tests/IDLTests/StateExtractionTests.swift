import Foundation
import IDL
import Testing

@Suite struct StateExtractionTests {
    func teacher(_ g: inout SeededGenerator) -> Sequential<Double> {
        Sequential<Double>.mlp([6, 5, 4, 3], bias: false, using: &g)
    }

    @Test func statesStackLastLayerFirstAndSatisfyTheImplicitEquations() throws {
        var g = SeededGenerator(seed: 31)
        let net = teacher(&g)
        let u = Matrix<Double>.randomNormal(6, 40, using: &g)
        let states = try StateExtraction.states(of: net, inputs: u, batchSize: 16)
        #expect(states.stateCount == 9 && states.sampleCount == 40)
        #expect(try StateExtraction.stateBlockSizes(of: net, inputDim: 6) == [4, 5])
        let w = net.layers.compactMap { $0 as? Linear<Double> }.map(\.weight.value)
        // X = (x2; x1): x1 = relu(W0 u), x2 = relu(W1 x1), Ŷ = W2 x2.
        let x1 = ReLU().apply(matmul(w[0], u))
        let x2 = ReLU().apply(matmul(w[1], x1))
        #expect(states.states.isApproximatelyEqual(to: Matrix.vcat([x2, x1]), tolerance: 1e-14))
        #expect(
            states.preActivations.isApproximatelyEqual(
                to: Matrix.vcat([matmul(w[1], x1), matmul(w[0], u)]), tolerance: 1e-14))
        #expect(states.outputs.isApproximatelyEqual(to: try net.predict(u), tolerance: 1e-14))
        // The feedforward-as-implicit matrices reproduce Z and Ŷ exactly.
        var a = Matrix<Double>(rows: 9, cols: 9)
        for i in 0..<4 { for j in 0..<5 { a[i, 4 + j] = w[1][i, j] } }
        var b = Matrix<Double>(rows: 9, cols: 6)
        b.setRows(4, to: w[0])
        var c = Matrix<Double>(rows: 3, cols: 9)
        for i in 0..<3 { for j in 0..<4 { c[i, j] = w[2][i, j] } }
        let z = matmul(a, states.states) + matmul(b, u)
        #expect(z.isApproximatelyEqual(to: states.preActivations, tolerance: 1e-13))
        #expect(matmul(c, states.states).isApproximatelyEqual(to: states.outputs, tolerance: 1e-13))
    }

    @Test func exactSIMOfARescaledTeacherIsWellPosedAndReproducesIt() throws {
        var g = SeededGenerator(seed: 32)
        let net = teacher(&g)
        for l in net.layers.compactMap({ $0 as? Linear<Double> }) { l.weight.value = l.weight.value * 3 }  // ‖W1‖∞ > 1
        let u = Matrix<Double>.randomNormal(6, 30, using: &g)
        let before = try net.predict(u)
        let factors = try rescaleForWellPosedness(net, kappa: 0.9)
        #expect(factors.count == 3 && factors[0] == 1 && factors[1] < 1 && abs(factors[2] * factors[1] - 1) < 1e-12)
        #expect(try net.predict(u).isApproximatelyEqual(to: before, tolerance: 1e-12))
        let hidden = net.layers.compactMap { $0 as? Linear<Double> }[1].weight.value
        #expect(hidden.infinityNorm <= 0.9 + 1e-12)
        // Least squares on the states recovers a model with the teacher's outputs on new inputs.
        let states = try StateExtraction.states(of: net, inputs: Matrix<Double>.randomNormal(6, 200, using: &g))
        let model = try SIMModel(try SIMLeastSquaresSolver().fit(states))
        let fresh = Matrix<Double>.randomNormal(6, 10, using: &g)
        #expect((try model.predict(fresh) - net.predict(fresh)).maxAbs < 1e-8)
        #expect(model.nonzeros > 0 && model.sparsity >= 0 && model.sparsity < 1)
        #expect(throws: IDLError.self) {
            try rescaleForWellPosedness(Sequential<Double>.mlp([2, 3, 2], activation: Tanh(), using: &g))
        }
    }

    @Test func statesRoundTripThroughSafetensors() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var g = SeededGenerator(seed: 33)
        let net = teacher(&g)
        let states = try StateExtraction.states(of: net, inputs: Matrix<Double>.randomNormal(6, 7, using: &g))
        let url = dir.appendingPathComponent("states.safetensors")
        try states.save(to: url)
        let back = try SIMStates<Double>(contentsOf: url)
        #expect(back.inputs == states.inputs && back.states == states.states)
        #expect(back.preActivations == states.preActivations && back.outputs == states.outputs)
        #expect(throws: IDLError.self) {
            try SIMStates<Double>(contentsOf: dir.appendingPathComponent("none.safetensors"))
        }
    }

    @Test func skipLayersKeepsTheLastActivationOfEachBlock() throws {
        var g = SeededGenerator(seed: 34)
        // Two blocks of (Linear, ReLU, Linear, ReLU) inside a Sequential of more than 1 child.
        func block(_ i: Int, _ o: Int) -> Sequential<Double> {
            Sequential([
                Linear<Double>(i, o, bias: false, using: &g), ActivationLayer<Double>(ReLU()),
                Linear<Double>(o, o, bias: false, using: &g), ActivationLayer<Double>(ReLU()),
            ])
        }
        let net = Sequential<Double>([block(4, 3), block(3, 2), Linear<Double>(2, 2, bias: false, using: &g)])
        let u = Matrix<Double>.randomNormal(4, 5, using: &g)
        #expect(try StateExtraction.states(of: net, inputs: u).stateCount == 3 + 3 + 2 + 2)
        #expect(
            try StateExtraction.states(of: net, inputs: u, selection: .lastOfEachBlock(threshold: 1)).stateCount == 3
                + 2)
    }
}

@Suite struct SIMModelTests {
    @Test func sparseInferenceMatchesDenseAndStandardisedInputsWork() throws {
        var g = SeededGenerator(seed: 40)
        let net = Sequential<Double>.mlp([8, 6, 5, 3], bias: false, using: &g)
        try rescaleForWellPosedness(net, kappa: 0.9)
        let u = Matrix<Double>.randomUniform(8, 300, 0, 1, using: &g)
        let raw = try StateExtraction.states(of: net, inputs: u)
        let (standardised, scaler) = try raw.standardizingInputs()
        #expect(standardised.inputCount == 9)
        for (states, scalerOrNil) in [(raw, nil), (standardised, scaler)]
            as [(SIMStates<Double>, Standardizer<Double>?)]
        {
            let solver = SIMExactSolver(
                lambdaState: 1e-3, lambdaOutput: 1e-3, lambda2: 1e-3, wellPosedness: .infinityNorm(kappa: 0.95),
                tolerance: 1e-8, zeroThreshold: 1e-6)
            let model = try SIMModel(try solver.fit(states), inputStandardizer: scalerOrNil)
            let fresh = Matrix<Double>.randomUniform(8, 20, 0, 1, using: &g)
            let dense = try model.predict(fresh)
            let (sparse, stats) = try model.predictSparse(fresh, tolerance: 1e-12)
            #expect(stats.converged)
            #expect((dense - sparse).maxAbs < 1e-5)
            // The fit stays close to the teacher on fresh inputs.
            let teacher = try net.predict(fresh)
            #expect((dense - teacher).maxAbs < 0.05 * max(1, teacher.maxAbs))
            #expect(model.wellPosednessReport.infinityNorm <= 0.95 + 1e-9)
        }
        let a = try Matrix<Double>(rowMajor: [[0, 2, 0], [1, 0, 3]])
        let csr = SparseMatrix(a)
        #expect(csr.nonzeroCount == 3 && csr.dense == a)
        let x = Matrix<Double>.randomNormal(3, 4, using: &g)
        var y = Matrix<Double>(rows: 2, cols: 4)
        csr.multiply(x, into: &y)
        #expect(y.isApproximatelyEqual(to: matmul(a, x), tolerance: 1e-14))
    }
}
