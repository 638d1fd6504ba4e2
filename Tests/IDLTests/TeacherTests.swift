import Foundation
import IDL
import Testing

/// PyTorch teachers (`../shared/fixtures/teacher/<case>`): the state_dict loader against
/// PyTorch's logits and test accuracy.
@Suite struct TeacherTests {
    static let cases = ["torchidl_ffnn", "seq_bias_relu_small"]

    static func folder(_ name: String) -> URL { fixturesDirectory.appendingPathComponent("teacher/\(name)") }

    static func meta(_ name: String) throws -> [String: Any] { try loadFixture("teacher/\(name)/meta.json") }

    @Test(arguments: cases) func logitsMatchPyTorch(_ name: String) throws {
        let folder = Self.folder(name)
        let net = try Sequential<Float>(
            torchStateDictAt: folder.appendingPathComponent("teacher.safetensors"), activation: ReLU())
        let meta = try Self.meta(name)
        let sizes = meta["sizes"] as! [Int]
        let linears = net.layers.compactMap { $0 as? Linear<Float> }
        #expect(linears.map { $0.inputDim } + [linears.last!.outputDim] == sizes)
        #expect(linears.allSatisfy { ($0.bias != nil) == (meta["bias"] as! Bool) })
        let u = try readNpy(folder.appendingPathComponent("input.npy"), as: Float.self)
        let want = try readNpy(folder.appendingPathComponent("expected_logits.npy"), as: Float.self)
        let got = try net.predict(u)
        #expect(got.rows == want.rows && got.cols == want.cols)
        var worst = 0.0
        for j in 0..<want.cols {
            let scale = Double((0..<want.rows).map { abs(want[$0, j]) }.max()!)
            for i in 0..<want.rows {
                worst = max(worst, Double(abs(got[i, j] - want[i, j])) / max(scale, 1e-30))
            }
        }
        #expect(worst <= 1e-5, "largest relative logit error \(worst)")
    }

    @Test(arguments: cases) func accuracyOnTheTestSetEqualsPyTorchs(_ name: String) throws {
        let net = try Sequential<Float>(
            torchStateDictAt: Self.folder(name).appendingPathComponent("teacher.safetensors"), activation: ReLU())
        let test = try FashionMNIST.load(.test, scaling: .unit, as: Float.self)
        let scores = try net.predict(test.inputs)
        let correct = zip(scores.argmaxPerColumn(), test.labels).filter { $0 == $1 }.count
        // meta.json holds PyTorch's float32 accuracy: correct / 10 000 rounded to float32.
        let theirs = try Self.meta(name)["test_accuracy"] as! Double
        #expect(Float(Double(correct) / Double(test.count)) == Float(theirs), "\(correct) of \(test.count) correct")
    }

    @Test func keysInNaturalOrderUnderAnyPrefix() throws {
        var g = SeededGenerator(seed: 3)
        let w = (0..<12).map { k in
            Matrix<Float>.randomUniform(3, 3, -1, 1, using: &g) + Matrix(rows: 3, cols: 3) * Float(k)
        }
        var file = SafeTensors()
        // Eleven layers: "model.fc2" must come before "model.fc10".
        for k in 0..<11 { file.setMatrix("model.fc\(k + 1).weight", w[k]) }
        file.tensors["model.fc3.bias"] = SafeTensors.Tensor(vector: [Float](repeating: 0.5, count: 3))
        let net = try Sequential<Float>(torchStateDict: file, activation: Tanh())
        let linears = net.layers.compactMap { $0 as? Linear<Float> }
        #expect(linears.count == 11)
        for k in 0..<11 { #expect(linears[k].weight.value == w[k]) }
        #expect(linears[2].bias?.value == Matrix(column: [0.5, 0.5, 0.5]))
        #expect(net.layers.count == 21)
        #expect((net.layers[1] as? ActivationLayer<Float>)?.activation.name == "tanh")
        #expect(net.layers.last is Linear<Float>)
    }

    @Test func badStateDictsNameTheKey() throws {
        var g = SeededGenerator(seed: 4)
        func file(_ entries: [String: SafeTensors.Tensor]) -> SafeTensors { SafeTensors(tensors: entries) }
        let w34 = SafeTensors.Tensor(Matrix<Float>.randomUniform(3, 4, -1, 1, using: &g))
        let w23 = SafeTensors.Tensor(Matrix<Float>.randomUniform(2, 3, -1, 1, using: &g))
        let w25 = SafeTensors.Tensor(Matrix<Float>.randomUniform(2, 5, -1, 1, using: &g))
        expectFailure(["0.bias", "0.weight"]) {
            _ = try Sequential<Float>(
                torchStateDict: file(["0.bias": .init(vector: [Float](repeating: 0, count: 3))]), activation: ReLU())
        }
        expectFailure(["bn.running_mean", ".weight or .bias"]) {
            _ = try Sequential<Float>(
                torchStateDict: file(["0.weight": w34, "bn.running_mean": .init(vector: [Float(0)])]),
                activation: ReLU())
        }
        expectFailure(["2.weight", "[2, 5]", "'0.weight', gives 3 outputs"]) {
            _ = try Sequential<Float>(torchStateDict: file(["0.weight": w34, "2.weight": w25]), activation: ReLU())
        }
        expectFailure(["0.bias", "[4]", "[3]"]) {
            _ = try Sequential<Float>(
                torchStateDict: file([
                    "0.weight": w34, "0.bias": .init(vector: [Float](repeating: 0, count: 4)), "2.weight": w23,
                ]), activation: ReLU())
        }
        expectFailure(["0.weight", "2-D"]) {
            _ = try Sequential<Float>(
                torchStateDict: file(["0.weight": .init(vector: [Float](repeating: 0, count: 4))]), activation: ReLU())
        }
        expectFailure(["no tensor"]) { _ = try Sequential<Float>(torchStateDict: file([:]), activation: ReLU()) }
    }
}

/// SIM of teachers with biases and activations other than ReLU.
@Suite struct GeneralTeacherSIMTests {
    @Test func biasedStatesCarryTheConstantRowAndSatisfyTheImplicitEquations() throws {
        var g = SeededGenerator(seed: 61)
        let net = Sequential<Double>.mlp([5, 4, 3, 2], activation: Tanh(), bias: true, using: &g)
        let u = Matrix<Double>.randomNormal(5, 30, using: &g)
        let states = try StateExtraction.states(of: net, inputs: u)
        #expect(states.constantInputRow && states.inputCount == 6 && states.activation.name == "tanh")
        #expect(states.inputs.rows(0..<5) == u && states.inputs.row(5) == Matrix<Double>.ones(1, 30))
        let layers = net.layers.compactMap { $0 as? Linear<Double> }
        let (w, b) = (layers.map(\.weight.value), layers.map { $0.bias!.value })
        // X = (x2; x1) with x1 = tanh(W0 u + b0), x2 = tanh(W1 x1 + b1), Ŷ = W2 x2 + b2:
        // A holds W1, B = [W0 b0] in x1's block and [0 b1] in x2's, D = [0 b2].
        var a = Matrix<Double>(rows: 7, cols: 7)
        var bb = Matrix<Double>(rows: 7, cols: 6)
        var c = Matrix<Double>(rows: 2, cols: 7)
        var d = Matrix<Double>(rows: 2, cols: 6)
        for i in 0..<3 {
            for j in 0..<4 { a[i, 3 + j] = w[1][i, j] }
            bb[i, 5] = b[1][i, 0]
        }
        for i in 0..<4 {
            for j in 0..<5 { bb[3 + i, j] = w[0][i, j] }
            bb[3 + i, 5] = b[0][i, 0]
        }
        for i in 0..<2 {
            for j in 0..<3 { c[i, j] = w[2][i, j] }
            d[i, 5] = b[2][i, 0]
        }
        let z = matmul(a, states.states) + matmul(bb, states.inputs)
        #expect(z.isApproximatelyEqual(to: states.preActivations, tolerance: 1e-13))
        #expect(Tanh().apply(z).isApproximatelyEqual(to: states.states, tolerance: 1e-13))
        #expect(
            (matmul(c, states.states) + matmul(d, states.inputs)).isApproximatelyEqual(
                to: states.outputs, tolerance: 1e-13))
        // The same matrices as a SIM model: tanh equilibrium, constant row appended to raw inputs.
        let fit = SIMFit(A: a, B: bb, C: c, D: d, report: SIMReport())
        let model = try SIMModel(fit, states: states, tolerance: 1e-12)
        let fresh = Matrix<Double>.randomNormal(5, 8, using: &g)
        #expect(try model.predict(fresh).isApproximatelyEqual(to: try net.predict(fresh), tolerance: 1e-10))
        #expect(
            try model.predictSparse(fresh, tolerance: 1e-12).outputs.isApproximatelyEqual(
                to: try net.predict(fresh), tolerance: 1e-10))
        let full = try model.modelInputs(fresh)
        let eq = try simEquilibrium(A: a, B: bb, inputs: full, activation: Tanh(), tolerance: 1e-13)
        #expect(eq.converged)
        let residual = Tanh().apply(matmul(a, eq.states) + matmul(bb, full)) - eq.states
        #expect(residual.maxAbs < 1e-12)
    }

    @Test func simEquilibriumIteratesTheGivenActivation() throws {
        var g = SeededGenerator(seed: 62)
        var a = Matrix<Double>.randomUniform(6, 6, -1, 1, using: &g)
        a = a * (0.8 / a.infinityNorm)
        let b = Matrix<Double>.randomNormal(6, 3, using: &g)
        let u = Matrix<Double>.randomNormal(3, 5, using: &g)
        for phi in [Tanh(), Sigmoid(), Softplus(), LeakyReLU(slope: 0.2)] as [any Activation] {
            let eq = try simEquilibrium(A: a, B: b, inputs: u, activation: phi, tolerance: 1e-13)
            #expect(eq.converged, "\(phi.name)")
            let fixedPoint = phi.apply(matmul(a, eq.states) + matmul(b, u))
            #expect((fixedPoint - eq.states).maxAbs < 1e-12, "\(phi.name)")
            // Not the ReLU equilibrium.
            let relu = try simEquilibrium(A: a, B: b, inputs: u, tolerance: 1e-13)
            #expect((relu.states - eq.states).maxAbs > 1e-3, "\(phi.name)")
        }
    }

    @Test func rescalingABiasedReLUTeacherKeepsItsOutputs() throws {
        var g = SeededGenerator(seed: 63)
        for phi in [ReLU(), LeakyReLU(slope: 0.1)] as [any Activation] {
            let net = Sequential<Double>.mlp([5, 6, 5, 4, 3], activation: phi, bias: true, using: &g)
            for l in net.layers.compactMap({ $0 as? Linear<Double> }) { l.weight.value = l.weight.value * 4 }
            let u = Matrix<Double>.randomNormal(5, 20, using: &g)
            let before = try net.predict(u)
            let factors = try rescaleForWellPosedness(net, kappa: 0.9)
            #expect(factors[1] < 1 && factors[2] < 1)
            #expect(try net.predict(u).isApproximatelyEqual(to: before, tolerance: 1e-11), "\(phi.name)")
            for l in net.layers.compactMap({ $0 as? Linear<Double> }).dropFirst().dropLast() {
                #expect(l.weight.value.infinityNorm <= 0.9 + 1e-12)
            }
        }
    }

    @Test func statesKeepActivationAndConstantRowThroughSavingAndStandardising() throws {
        var g = SeededGenerator(seed: 64)
        let net = Sequential<Double>.mlp([4, 3, 2], activation: LeakyReLU(slope: 0.25), bias: true, using: &g)
        let states = try StateExtraction.states(of: net, inputs: Matrix<Double>.randomNormal(4, 12, using: &g))
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("s.safetensors")
        try states.save(to: url)
        let back = try SIMStates<Double>(contentsOf: url)
        #expect(back.constantInputRow && (back.activation as? LeakyReLU)?.slope == 0.25)
        #expect(back.inputs == states.inputs)
        let (standardised, scaler) = try states.standardizingInputs()
        #expect(standardised.inputCount == 5 && standardised.constantInputRow)
        #expect(standardised.inputs.row(4) == Matrix<Double>.ones(1, 12))
        #expect(try scaler.transform(Matrix<Double>.randomNormal(4, 2, using: &g)).rows == 4)
        expectFailure(["constantInputRow", "not all ones"]) {
            _ = try SIMStates(
                inputs: Matrix<Double>.randomNormal(3, 4, using: &g), states: Matrix(rows: 2, cols: 4),
                preActivations: Matrix(rows: 2, cols: 4), outputs: Matrix(rows: 1, cols: 4), constantInputRow: true)
        }
        expectFailure(["different activations"]) {
            let mixed = Sequential<Double>([
                Linear(4, 3, using: &g), ActivationLayer(Tanh()), Linear(3, 3, using: &g), ActivationLayer(ReLU()),
                Linear(3, 2, using: &g),
            ])
            _ = try StateExtraction.states(of: mixed, inputs: Matrix<Double>.randomNormal(4, 3, using: &g))
        }
    }

    /// The bar: a SIM fit of a tanh teacher with biases within 2 points of the teacher.
    @Test func simOfATanhTeacherWithBiasesComesWithinTwoPoints() throws {
        var g = SeededGenerator(seed: 65)
        let all = try FashionMNIST.load(.train, scaling: .unit, as: Float.self)
        let train = try all.randomSubset(6000, using: &g)
        let test = try FashionMNIST.load(.test, scaling: .unit, as: Float.self).prefix(2000)
        let teacher = Sequential<Float>.mlp([784, 32, 16, 10], activation: Tanh(), bias: true, using: &g)
        _ = try trainClassifier(
            teacher, optimizer: try Adam(teacher.parameters, learningRate: 0.005), train: train, epochs: 4,
            batchSize: 64, generator: &g)
        let teacherAccuracy = try evaluateAccuracy(teacher, test)
        let states = try StateExtraction.states(of: teacher, inputs: train.prefix(1000).inputs)
            .converted(to: Double.self)
        #expect(states.constantInputRow && states.activation.name == "tanh")
        // λ₂ = 2 keeps the row problems well conditioned, so the fit takes seconds.
        let solver = SIMExactSolver(
            lambdaState: 1, lambdaOutput: 0.1, lambda2: 2, tolerance: 1e-4, zeroThreshold: 1e-8,
            regenerateStates: true)
        let fit = try solver.fit(states)
        #expect(fit.report.wellPosednessMet && fit.A.infinityNorm <= 0.99 + 1e-9)
        let model = try SIMModel(fit, states: states)
        let predicted = try model.predict(test.inputs.converted(to: Double.self)).argmaxPerColumn()
        let accuracy = Double(zip(predicted, test.labels).filter { $0 == $1 }.count) / Double(test.count)
        #expect(
            accuracy >= teacherAccuracy - 0.02,
            "SIM \(accuracy) vs teacher \(teacherAccuracy); ‖A‖∞ = \(fit.A.infinityNorm), \(fit.report.warnings)")
        #expect(teacherAccuracy > 0.75)
    }
}
