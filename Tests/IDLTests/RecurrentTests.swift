import Foundation
import IDL
import Testing

@Suite struct RecurrentTests {
    /// A batch-first (batch, T, p) nested JSON list as T steps of p × batch.
    func fixtureSteps(_ value: Any?) throws -> [Matrix<Double>] {
        guard let nested = value as? [[[Double]]], let first = nested.first,
            let steps = first.first.map({ _ in first.count })
        else {
            throw IDLError.io("fixture input is not a (batch, T, p) list")
        }
        let p = first[0].count
        return (0..<steps).map { t in Matrix(rows: p, cols: nested.count) { f, b in nested[b][t][f] } }
    }

    /// Both paths: the fused sequence node (`ImplicitRNN`'s default) and the step-by-step graph.
    @Test(arguments: [true, false])
    func matchesTorchidlFixture(fused: Bool) throws {
        let f = try loadFixture("rnn/implicit_rnn_small.json")
        let config = f["config"] as! [String: Any]
        let params = f["params"] as! [String: Any]
        let grads = f["grads"] as! [String: Any]
        let p = config["input_dim"] as! Int
        let layer = try ImplicitModel<Double>(
            A: try fixtureMatrix(params["recurrent.layer.A"]), B: try fixtureMatrix(params["recurrent.layer.B"]),
            C: try fixtureMatrix(params["recurrent.layer.C"]), D: try fixtureMatrix(params["recurrent.layer.D"]),
            kappa: config["kappa"] as! Double,
            maxIterations: 5000, tolerance: 1e-15, gradMaxIterations: 5000, gradTolerance: 1e-15)
        let cell = try ImplicitRNNCell(layer: layer, inputDim: p)
        #expect(cell.hiddenDim == config["hidden_dim"] as! Int)
        #expect(cell.implicitHiddenDim == config["implicit_hidden_dim"] as! Int)
        let linear = try Linear(
            weight: try fixtureMatrix(params["linear.weight"]), bias: try fixtureMatrix(params["linear.bias"]))
        let model = try ImplicitRNN(recurrent: cell, linear: linear)
        let steps = try fixtureSteps(f["input"]).map { Tensor($0, requiresGrad: true) }
        #expect(steps.count == config["seq_len"] as! Int)
        let y = fused ? try model(steps) : try linear(cell.forward(steps).last)
        y.backward(seed: try fixtureMatrix(f["grad_output"]).transposed)

        func relErr(_ got: Matrix<Double>?, _ want: Matrix<Double>) -> Double {
            guard let got, got.rows == want.rows, got.cols == want.cols else { return .infinity }
            return (got - want).maxAbs / max(want.maxAbs, 1e-300)
        }
        var errors = [String: Double]()
        errors["output"] = relErr(y.value, try fixtureMatrix(f["output"]).transposed)
        errors["A"] = relErr(layer.A?.grad, try fixtureMatrix(grads["recurrent.layer.A"]))
        errors["B"] = relErr(layer.B.grad, try fixtureMatrix(grads["recurrent.layer.B"]))
        errors["C"] = relErr(layer.C.grad, try fixtureMatrix(grads["recurrent.layer.C"]))
        errors["D"] = relErr(layer.D?.grad, try fixtureMatrix(grads["recurrent.layer.D"]))
        errors["linear.weight"] = relErr(linear.weight.grad, try fixtureMatrix(grads["linear.weight"]))
        errors["linear.bias"] = relErr(linear.bias?.grad, try fixtureMatrix(grads["linear.bias"]))
        let inputGrads = try fixtureSteps(grads["input"])
        errors["input"] = zip(steps, inputGrads).map { relErr($0.grad, $1) }.max()!
        for (name, e) in errors.sorted(by: { $0.key < $1.key }) {
            #expect(e < 1e-8, "\(name): relative error \(e)")
        }
        print(
            "ImplicitRNN fixture (\(fused ? "fused" : "step-by-step graph")): max relative error \(errors.values.max()!) (\(errors.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")))"
        )
        #expect(layer.log.forwardSolves == steps.count)
        #expect(layer.log.forwardConverged == steps.count)
        #expect(layer.log.backwardConverged == layer.log.backwardSolves)

        // The Layer entry point on the flattened (T·p) × batch input (batch-first bytes) agrees.
        let flat = Matrix.vcat(steps.map(\.value))
        #expect(try model.predict(flat).isApproximatelyEqual(to: y.value, tolerance: 1e-14))
    }

    /// Finite differences of L = Σ f(steps) ∘ W with respect to every parameter and input step.
    func finiteDifferenceError(
        parameters: [Tensor<Double>], steps: [Matrix<Double>], h: Double = 1e-6,
        _ f: ([Tensor<Double>]) throws -> Tensor<Double>
    ) throws -> Double {
        var g = SeededGenerator(seed: 23)
        let leaves = steps.map { Tensor($0, requiresGrad: true) }
        let out = try f(leaves)
        let w = Matrix<Double>.randomNormal(out.rows, out.cols, using: &g)
        for p in parameters { p.grad = nil }
        out.backward(seed: w)
        func loss(_ xs: [Matrix<Double>]) throws -> Double { (try f(xs.map { Tensor($0) }).value * w).sum() }
        var worst = 0.0
        func compare(_ analytic: Double, _ numeric: Double) {
            worst = max(worst, abs(analytic - numeric) / max(1, abs(analytic), abs(numeric)))
        }
        for p in parameters {
            let analytic = p.grad ?? Matrix(rows: p.rows, cols: p.cols)
            for e in 0..<p.value.count {
                let saved = p.value.storage[e]
                p.value.storage[e] = saved + h
                let lp = try loss(steps)
                p.value.storage[e] = saved - h
                let lm = try loss(steps)
                p.value.storage[e] = saved
                compare(analytic.storage[e], (lp - lm) / (2 * h))
            }
        }
        for (t, x) in steps.enumerated() {
            let analytic = leaves[t].grad ?? Matrix(rows: x.rows, cols: x.cols)
            for e in 0..<x.count {
                var plus = steps
                var minus = steps
                plus[t].storage[e] += h
                minus[t].storage[e] -= h
                compare(analytic.storage[e], (try loss(plus) - loss(minus)) / (2 * h))
            }
        }
        return worst
    }

    func randomSteps(_ count: Int, features: Int, batch: Int, seed: UInt64) -> [Matrix<Double>] {
        var g = SeededGenerator(seed: seed)
        return (0..<count).map { _ in Matrix<Double>.randomNormal(features, batch, using: &g) }
    }

    /// Dense A with D, and warm-started solves without D.
    @Test(arguments: [(false, false), (true, true)])
    func implicitRNNFiniteDifferences(warmStart: Bool, noD: Bool) throws {
        var g = SeededGenerator(seed: 8)
        // No well-posedness rule (torchidl's ∞-norm scaling passes A's gradient straight through,
        // which finite differences do not see); A is put inside the ball by hand instead.
        let model = try ImplicitRNN<Double>(
            inputDim: 2, outputDim: 2, implicitHiddenDim: 5, hiddenDim: 3, noD: noD, kappa: 0.9,
            wellPosedness: .none, activation: Tanh(), maxIterations: 3000, tolerance: 1e-14,
            gradMaxIterations: 3000, gradTolerance: 1e-14, using: &g)
        model.recurrent.warmStart = warmStart
        // Larger weights than randn/n, so the state is far from linear.
        for t in [model.implicitLayer.B, model.implicitLayer.C] { t.value = t.value * 3 }
        model.implicitLayer.A!.value = (model.implicitLayer.A!.value * 10).scaledIntoInfinityBall(radius: 0.7)
        #expect(model.parameters.count == (noD ? 5 : 6))
        let error = try finiteDifferenceError(
            parameters: model.parameters, steps: randomSteps(3, features: 2, batch: 4, seed: 9)
        ) { try model($0) }
        #expect(error < 1e-6, "worst finite-difference error \(error)")
    }

    @Test func lowRankBiasImplicitRNNFiniteDifferences() throws {
        var g = SeededGenerator(seed: 12)
        let model = try ImplicitRNN<Double>(
            inputDim: 1, outputDim: 1, implicitHiddenDim: 4, hiddenDim: 3, bias: true, rank: 2,
            activation: Tanh(), maxIterations: 3000, tolerance: 1e-14,
            gradMaxIterations: 3000, gradTolerance: 1e-14, using: &g)
        model.implicitLayer.L!.value = model.implicitLayer.L!.value * 20  // the factor scaling is active
        let error = try finiteDifferenceError(
            parameters: model.parameters, steps: randomSteps(3, features: 1, batch: 3, seed: 2)
        ) { try model($0) }
        #expect(error < 1e-6, "worst finite-difference error \(error)")
    }

    @Test func lstmFiniteDifferences() throws {
        var g = SeededGenerator(seed: 4)
        let model = try LSTMRegressor<Double>(inputDim: 2, hiddenDim: 3, outputDim: 2, using: &g)
        #expect(model.parameters.count == 6)
        let steps = randomSteps(4, features: 2, batch: 3, seed: 5)
        let error = try finiteDifferenceError(parameters: model.parameters, steps: steps) { try model($0) }
        #expect(error < 1e-7, "worst finite-difference error \(error)")
        // All hidden states (T·h × batch) as the output.
        let allError = try finiteDifferenceError(parameters: model.lstm.parameters, steps: steps) {
            try model.lstm.outputs($0)
        }
        #expect(allError < 1e-7, "worst finite-difference error (all outputs) \(allError)")
    }

    /// The fused LSTM node against the same equations written with the generic graph operations.
    @Test func lstmMatchesComposedOperations() throws {
        var g = SeededGenerator(seed: 6)
        let lstm = try LSTM<Double>(inputDim: 3, hiddenDim: 4, using: &g)
        let h = 4
        let steps = randomSteps(5, features: 3, batch: 6, seed: 7)
        let x1 = steps.map { Tensor($0, requiresGrad: true) }
        let fused = try lstm.outputs(x1)
        let w = Matrix<Double>.randomNormal(fused.rows, fused.cols, using: &g)
        fused.backward(seed: w)
        let fusedGrads = lstm.parameters.map { $0.grad! }
        for p in lstm.parameters { p.grad = nil }

        let x2 = steps.map { Tensor($0, requiresGrad: true) }
        var hPrev = Tensor(Matrix<Double>(rows: h, cols: 6))
        var cPrev = Tensor(Matrix<Double>(rows: h, cols: 6))
        var outs = [Tensor<Double>]()
        for x in x2 {
            let z = matmul(lstm.weightIH, x) + lstm.biasIH + matmul(lstm.weightHH, hPrev) + lstm.biasHH
            let i = sigmoid(z.rows(0..<h))
            let f = sigmoid(z.rows(h..<(2 * h)))
            let gg = tanh(z.rows((2 * h)..<(3 * h)))
            let o = sigmoid(z.rows((3 * h)..<(4 * h)))
            cPrev = f * cPrev + i * gg
            hPrev = o * tanh(cPrev)
            outs.append(hPrev)
        }
        let composed = vcat(outs)
        composed.backward(seed: w)
        #expect(fused.value.isApproximatelyEqual(to: composed.value, tolerance: 1e-13))
        #expect(try lstm.last(x1).value.isApproximatelyEqual(to: hPrev.value, tolerance: 1e-13))
        for (a, p) in zip(fusedGrads, lstm.parameters) {
            #expect(a.isApproximatelyEqual(to: p.grad!, tolerance: 1e-12), "\(p.name ?? "?")")
        }
        for (a, b) in zip(x1, x2) { #expect(a.grad!.isApproximatelyEqual(to: b.grad!, tolerance: 1e-12)) }
    }

    @Test func lstmInitialisationFollowsPyTorch() throws {
        var g = SeededGenerator(seed: 1)
        let lstm = try LSTM<Float>(inputDim: 3, hiddenDim: 16, using: &g)
        #expect(lstm.weightIH.shape == (64, 3) && lstm.weightHH.shape == (64, 16))
        #expect(lstm.biasIH.shape == (64, 1) && lstm.biasHH.shape == (64, 1))
        let bound: Float = 1 / 4
        for p in lstm.parameters { #expect(p.value.maxAbs <= bound) }
        #expect(lstm.weightHH.value.maxAbs > 0.8 * bound)
    }

    /// The tutorial's toy run: batch 50, 20 steps, 1 feature, h = n = 10, Adam 0.01, 10 epochs,
    /// MSE on random data; the loss goes down in most epochs.
    @Test func tutorialToyTrainingDecreasesLoss() throws {
        var g = SeededGenerator(seed: 0)
        let steps = (0..<20).map { _ in Matrix<Float>.randomNormal(1, 50, using: &g) }
        let target = Matrix<Float>.randomNormal(1, 50, using: &g)
        let model = try ImplicitRNN<Float>(inputDim: 1, outputDim: 1, implicitHiddenDim: 10, hiddenDim: 10, using: &g)
        let optimizer = try Adam(model.parameters, learningRate: 0.01)
        var losses = [Double]()
        for _ in 0..<10 {
            optimizer.zeroGrad()
            let loss = try mseLoss(model(steps), target)
            loss.backward()
            optimizer.step()
            losses.append(Double(loss.value[0, 0]))
        }
        let decreases = zip(losses, losses.dropFirst()).filter { $1 < $0 }.count
        #expect(decreases >= 6, "losses \(losses)")
        #expect(losses.last! < losses.first!)
    }

    @Test func badInputThrows() throws {
        var g = SeededGenerator(seed: 3)
        let rnn = try ImplicitRNN<Double>(inputDim: 2, outputDim: 1, implicitHiddenDim: 4, hiddenDim: 3, using: &g)
        let lstm = try LSTMRegressor<Double>(inputDim: 2, hiddenDim: 3, outputDim: 1, using: &g)
        let good = Matrix<Double>(rows: 2, cols: 5, repeating: 0.5)
        let cases: [(String, [Matrix<Double>], (IDLError) -> Bool)] = [
            (
                "wrong feature count", [good, Matrix(rows: 3, cols: 5)],
                { if case .shapeMismatch = $0 { true } else { false } }
            ),
            ("empty sequence", [], { if case .invalidArgument = $0 { true } else { false } }),
            (
                "ragged batch sizes", [good, Matrix(rows: 2, cols: 4)],
                { if case .shapeMismatch = $0 { true } else { false } }
            ),
            (
                "NaN input", [good, Matrix(rows: 2, cols: 5, repeating: .nan)],
                { if case .nonFinite = $0 { true } else { false } }
            ),
        ]
        for (name, steps, matches) in cases {
            for (modelName, run) in [("ImplicitRNN", { _ = try rnn(steps) }), ("LSTM", { _ = try lstm(steps) })]
                as [(String, () throws -> Void)]
            {
                do {
                    try run()
                    Issue.record("\(modelName), \(name): no error thrown")
                } catch let error as IDLError {
                    #expect(matches(error), "\(modelName), \(name): unexpected \(error)")
                }
            }
        }
        // A flattened input whose rows are not a multiple of p.
        #expect(throws: IDLError.self) { try rnn.predict(Matrix<Double>(rows: 5, cols: 2)) }
        #expect(throws: IDLError.self) { try lstm.predict(Matrix<Double>(rows: 3, cols: 2)) }
        // A layer that does not take [x_t; h_{t−1}].
        let wrong = try ImplicitModel<Double>(inputDim: 4, outputDim: 3, hiddenDim: 2, using: &g)
        #expect(throws: IDLError.self) { try ImplicitRNNCell(layer: wrong, inputDim: 2) }
    }

    @Test func flattenedLayoutMatchesBatchFirstArrays() throws {
        // x[b, t, f] = 100 b + 10 t + f for batch 2, T = 3, p = 2, in C order.
        var bytes = [Double]()
        for b in 0..<2 { for t in 0..<3 { for f in 0..<2 { bytes.append(Double(100 * b + 10 * t + f)) } } }
        let flat = try Matrix<Double>(rows: 6, cols: 2, storage: bytes)
        let steps = try sequenceSteps(fromFlattened: flat, features: 2)
        #expect(steps.count == 3)
        for t in 0..<3 { for b in 0..<2 { for f in 0..<2 { #expect(steps[t][f, b] == Double(100 * b + 10 * t + f)) } } }
        #expect(throws: IDLError.self) { try sequenceSteps(fromFlattened: flat, features: 4) }
    }
}
