import IDL
import Testing

@Suite struct RobustnessTests {
    @Test func certificateBoundsTheRealChange() throws {
        var g = SeededGenerator(seed: 21)
        let model = try ImplicitModel<Double>(
            inputDim: 6, outputDim: 3, hiddenDim: 10, bias: true, kappa: 0.9,
            maxIterations: 2000, tolerance: 1e-13, using: &g)
        model.A!.value = model.A!.value * 20  // the scaling makes ‖A‖∞ = κ
        let cert = LipschitzCertificate(model)
        #expect(abs(cert.normA - 0.9) < 1e-12)
        #expect(abs(cert.normBound - (cert.normC * cert.normB / (1 - 0.9) + cert.normD)) < 1e-12)
        #expect(cert.entrywiseBound <= cert.normBound * (1 + 1e-12))
        #expect(cert.outputConstant == min(cert.normBound, cert.entrywiseBound))
        // Random pairs of inputs: ‖ŷ₁ − ŷ₂‖∞ ≤ L‖u₁ − u₂‖∞, per sample.
        let u1 = Matrix<Double>.randomNormal(6, 50, using: &g)
        let u2 = u1 + Matrix<Double>.randomNormal(6, 50, scale: 0.1, using: &g)
        let y1 = try model.predict(u1)
        let y2 = try model.predict(u2)
        for j in 0..<50 {
            let dy = (y1.column(j) - y2.column(j)).maxAbs
            let du = (u1.column(j) - u2.column(j)).maxAbs
            #expect(dy <= cert.outputConstant * du * (1 + 1e-9))
        }
        // Certified accuracy: at ε = 0 it is the accuracy (strict margin), and it cannot grow with ε.
        let labels = y1.argmaxPerColumn()
        #expect(try cert.certifiedAccuracy(scores: y1, labels: labels, epsilon: 0) == 1)
        let a1 = try cert.certifiedAccuracy(scores: y1, labels: labels, epsilon: 0.001)
        let a2 = try cert.certifiedAccuracy(scores: y1, labels: labels, epsilon: 0.01)
        #expect(a2 <= a1)
        #expect(throws: IDLError.self) { try cert.certifiedAccuracy(scores: y1, labels: [0], epsilon: 0.1) }
    }

    @Test func triangularModelsAreCertifiedWhateverTheirNorm() throws {
        // A feedforward (strictly upper triangular) A with ‖A‖∞ = 3: the norm bound is void, the
        // entrywise bound is finite and holds.
        let a = try Matrix<Double>(rowMajor: [[0, 3, 0], [0, 0, 2], [0, 0, 0]])
        var g = SeededGenerator(seed: 4)
        let b = Matrix<Double>.randomNormal(3, 2, using: &g)
        let c = Matrix<Double>.randomNormal(1, 3, using: &g)
        let model = try ImplicitModel(A: a, B: b, C: c, wellPosedness: .strictlyUpperTriangular)
        let cert = LipschitzCertificate(model)
        #expect(cert.normBound == .infinity && cert.entrywiseBound.isFinite)
        for _ in 0..<20 {
            let u1 = Matrix<Double>.randomNormal(2, 1, using: &g)
            let u2 = u1 + Matrix<Double>.randomNormal(2, 1, scale: 0.3, using: &g)
            let dy = (try model.predict(u1) - model.predict(u2)).maxAbs
            #expect(dy <= cert.outputConstant * (u1 - u2).maxAbs * (1 + 1e-9))
        }
    }

    @Test func explicitNetworkBoundHolds() throws {
        var g = SeededGenerator(seed: 6)
        let mlp = Sequential<Double>.mlp([5, 7, 3], using: &g)
        let bound = try lipschitzBound(mlp)
        let weights = mlp.layers.compactMap { $0 as? Linear<Double> }.map(\.weight.value)
        #expect(bound <= weights.map { $0.infinityNorm }.reduce(1, *) * (1 + 1e-12))
        for _ in 0..<20 {
            let u1 = Matrix<Double>.randomNormal(5, 1, using: &g)
            let u2 = u1 + Matrix<Double>.randomNormal(5, 1, scale: 0.2, using: &g)
            let dy = (try mlp.predict(u1) - mlp.predict(u2)).maxAbs
            #expect(dy <= bound * (u1 - u2).maxAbs * (1 + 1e-9))
        }
    }

    @Test func attacksStayInTheBallAndRaiseTheLoss() throws {
        var g = SeededGenerator(seed: 2)
        let model = Sequential<Double>.mlp([4, 8, 3], using: &g)
        let x = Matrix<Double>.randomUniform(4, 20, -0.5, 0.5, using: &g)
        let labels = (0..<20).map { $0 % 3 }
        let clean = try crossEntropyLoss(model(Tensor(x)), labels).value[0, 0]
        for adversarial in [
            try Attack.fgsm(model, inputs: x, labels: labels, epsilon: 0.1, range: -1...1),
            try Attack.pgd(model, inputs: x, labels: labels, epsilon: 0.1, stepSize: 0.03, steps: 10, range: -1...1),
        ] {
            #expect((adversarial - x).maxAbs <= 0.1 + 1e-12)
            let attacked = try crossEntropyLoss(model(Tensor(adversarial)), labels).value[0, 0]
            #expect(attacked > clean)
        }
        #expect(throws: IDLError.self) {
            try Attack.pgd(model, inputs: x, labels: labels, epsilon: -1, stepSize: 0.1, steps: 1)
        }
    }

    @Test func certifiedAccuracyRefusesBadLabelsAndRadii() throws {
        let scores = try Matrix<Float>(rows: 3, cols: 2, storage: [3, 0, 0, 0, 2, 0])
        // Both samples are right with margins 3 and 2: certified while 2·L·ε < 2.
        #expect(try certifiedRobustAccuracy(scores: scores, labels: [0, 1], epsilon: 0.4, lipschitz: 1) == 1)
        #expect(try certifiedRobustAccuracy(scores: scores, labels: [0, 1], epsilon: 1.2, lipschitz: 1) == 0.5)
        expectFailure(["label 3 of sample 1", "0..<3"]) {
            _ = try certifiedRobustAccuracy(scores: scores, labels: [0, 3], epsilon: 0.1, lipschitz: 1)
        }
        expectFailure(["label -1 of sample 0"]) {
            _ = try certifiedRobustAccuracy(scores: scores, labels: [-1, 0], epsilon: 0.1, lipschitz: 1)
        }
        expectFailure(["ε = -0.1"]) {
            _ = try certifiedRobustAccuracy(scores: scores, labels: [0, 1], epsilon: -0.1, lipschitz: 1)
        }
    }
}
