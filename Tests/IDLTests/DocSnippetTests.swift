import Foundation
import IDL
import Testing

// The code snippets of the DocC articles (Sources/IDL/IDL.docc), run verbatim so that the
// documentation cannot drift from the API: when a snippet stops compiling or stops doing what
// its article says, this file fails. Each test copies one article's snippets in order (the
// printing stays; the checks after each block are the test's own).

@Suite struct DocSnippetTests {
    /// GettingStarted.md: the regression loop, the solver report, the classifier.
    @Test func gettingStarted() throws {
        // --- "Train a first implicit model" (verbatim)
        var rng = SeededGenerator(seed: 0)

        // 200 samples with 8 features each: an 8×200 matrix (columns are samples).
        let inputs = Matrix<Float>.randomNormal(8, 200, using: &rng)
        // Targets the model can learn: a fixed random linear map of the inputs, 3×200.
        let map = Matrix<Float>.randomNormal(3, 8, scale: 0.5, using: &rng)
        let targets = matmul(map, inputs)

        let model = try ImplicitModel<Float>(inputDim: 8, outputDim: 3, hiddenDim: 32, using: &rng)
        let optimizer = try Adam(model.parameters, learningRate: 0.01)
        var losses: [Float] = []
        for _ in 1...60 {
            optimizer.zeroGrad()
            let output = try model(Tensor(inputs))  // solves X = φ(AX + BU), then Ŷ = CX + DU
            let loss = try mseLoss(output, targets)
            loss.backward()  // implicit differentiation: one adjoint solve
            optimizer.step()
            losses.append(loss.value[0, 0])
        }
        print("loss: \(losses.first!) → \(losses.last!)")

        // The article says the loop trains: the loss falls by more than a factor of ten.
        #expect(losses.count == 60)
        #expect(losses.last! < losses.first! / 10, "loss \(losses.first!) → \(losses.last!)")

        // --- "Look at what the solver did" (verbatim)
        print(model.log.summary)  // solves, mean iterations, how many did not converge
        print(model.log.lastForward!)  // e.g. "converged after 13 iterations, residual …"
        print(model.wellPosednessReport)  // ‖A‖∞ (≤ κ) and λ_pf(|A|) (< 1)

        let firstFive = try model.predict(inputs.columns(0..<5))  // 3×5, no graph recorded

        // 60 training steps and one predict: 61 forward solves, 60 backward solves.
        #expect(model.log.forwardSolves == 61)
        #expect(model.log.backwardSolves == 60)
        #expect(model.wellPosednessReport.infinityNorm <= 0.99 + 1e-6)
        #expect(model.wellPosednessReport.perronFrobenius < 1)
        #expect(firstFive.rows == 3 && firstFive.cols == 5)

        // --- "Train a classifier" (verbatim)
        // Two classes: is the first feature positive?
        let labels = (0..<200).map { inputs[0, $0] > 0 ? 1 : 0 }
        let data = try Dataset(inputs: inputs, labels: labels, classCount: 2)
        let (train, test) = (try data.subset(Array(0..<150)), try data.subset(Array(150..<200)))

        let classifier = try ImplicitModel<Float>(inputDim: 8, outputDim: 2, hiddenDim: 16, using: &rng)
        let reports = try trainClassifier(
            classifier, optimizer: try Adam(classifier.parameters, learningRate: 0.01),
            train: train, test: test, epochs: 20, batchSize: 25, generator: &rng,
            solveLog: classifier.log)
        print("test accuracy: \(reports.last!.testAccuracy!)")

        // A linearly separable task: far better than chance on the 50 held-out samples.
        #expect(reports.count == 20)
        #expect(reports.last!.testAccuracy! >= 0.85, "test accuracy \(reports.last!.testAccuracy!)")
    }

    /// ImplicitModels.md: every option of the initializer.
    @Test func implicitModelOptions() throws {
        // --- "Options" (verbatim)
        var rng = SeededGenerator(seed: 1)
        let model = try ImplicitModel<Double>(
            inputDim: 784, outputDim: 10, hiddenDim: 100,
            bias: true,  // append a constant-one row to U (B, D get p + 1 columns)
            noD: false,  // keep the feedthrough D
            rank: nil,  // or an Int for A = L Rᵀ
            kappa: 0.95,  // ‖A‖∞ ≤ κ
            wellPosedness: .rowL1Projection,  // or .infinityNorm, .strictlyUpperTriangular, .none
            activation: Tanh(),
            solver: Anderson(),  // forward and backward solver
            maxIterations: 300, tolerance: 1e-8,
            gradMaxIterations: 300, gradTolerance: 1e-8,
            using: &rng)
        print(model.summary)

        #expect(model.B.value.cols == 785 && model.D!.value.cols == 785)
        #expect(model.wellPosednessReport.infinityNorm <= 0.95 + 1e-12)
        #expect(model.activation.name == "tanh")
    }

    /// ImplicitDifferentiation.md: the implicit layer as a graph node.
    @Test func implicitDifferentiation() throws {
        // --- "Using it in your own layer" (verbatim)
        var rng = SeededGenerator(seed: 0)
        let a = Tensor(parameter: Matrix<Double>.randomNormal(16, 16, scale: 0.02, using: &rng), name: "A")
        let b = Tensor(parameter: Matrix<Double>.randomNormal(16, 4, scale: 0.25, using: &rng), name: "B")
        let u = Tensor(Matrix<Double>.randomNormal(4, 10, using: &rng))  // 4 features × 10 samples
        let log = SolveLog()

        let x = equilibrium(
            a: a, injection: matmul(b, u), activation: ReLU(),
            forward: FixedPointSettings(tolerance: 1e-12),
            backward: FixedPointSettings(tolerance: 1e-12), log: log)
        let loss = x.sum()
        loss.backward()  // one adjoint solve; fills a.grad and b.grad
        print(log.summary)
        print(a.grad!.shapeDescription, b.grad!.shapeDescription)  // 16×16 16×4

        #expect(log.forwardSolves == 1 && log.backwardSolves == 1)
        #expect(log.forwardFailures == 0 && log.backwardFailures == 0)
        #expect(a.grad!.rows == 16 && a.grad!.cols == 16 && b.grad!.rows == 16 && b.grad!.cols == 4)
        // The article's claim, checked by a central difference on one entry of A.
        let h = 1e-6
        func lossAt(_ shift: Double) -> Double {
            var shifted = a.value
            shifted[2, 3] += shift
            let z0 = matmul(b.value, u.value)
            let (xs, _) = Picard().solve(
                initial: Matrix<Double>(rows: 16, cols: 10), tolerance: 1e-14, maxIterations: 1000
            ) { x, out in
                out = ReLU().apply(matmul(shifted, x) + z0)
            }
            return xs.sum()
        }
        let numeric = (lossAt(h) - lossAt(-h)) / (2 * h)
        #expect(
            abs(numeric - a.grad![2, 3]) < 1e-6 * max(1, abs(numeric)),
            "finite difference \(numeric), implicit \(a.grad![2, 3])")
    }

    /// FixedPointSolvers.md: Picard with a trace, then Anderson on the same model.
    @Test func fixedPointSolvers() throws {
        // --- "Statistics and the solve log" (verbatim)
        var rng = SeededGenerator(seed: 0)
        let u = Matrix<Double>.randomNormal(20, 50, using: &rng)

        let picard = try ImplicitModel<Double>(
            inputDim: 20, outputDim: 5, hiddenDim: 60, kappa: 0.99,
            solver: Picard(recordTrace: true), tolerance: 1e-10, using: &rng)
        _ = try picard.predict(u)
        print(picard.log.lastForward!)  // converged after … iterations, residual …
        print(picard.log.lastForward!.residualTrace.prefix(5))

        let picardStatistics = picard.log.lastForward!
        #expect(picardStatistics.converged)
        #expect(picardStatistics.residualTrace.count == picardStatistics.iterations)

        // The same model with Anderson acceleration for both solves.
        picard.setSolver(Anderson(memory: 5))
        picard.log.reset()
        _ = try picard.predict(u)
        print(picard.log.lastForward!)

        #expect(picard.log.lastForward!.converged)
        #expect(picard.log.forwardSolves == 1)
    }

    /// ImplicitRecurrentModels.md: the notebook's ImplicitRNN loop.
    @Test func implicitRNN() throws {
        // --- "Training" (verbatim)
        var rng = SeededGenerator(seed: 0)
        let steps = (0..<20).map { _ in Matrix<Float>.randomNormal(1, 50, using: &rng) }  // 20 steps, 1×50
        let targets = Matrix<Float>.randomNormal(1, 50, using: &rng)

        let model = try ImplicitRNN<Float>(
            inputDim: 1, outputDim: 1, implicitHiddenDim: 10, hiddenDim: 10,
            using: &rng)
        let optimizer = try Adam(model.parameters, learningRate: 0.01)
        for epoch in 1...10 {
            optimizer.zeroGrad()
            let loss = try mseLoss(model(steps), targets)
            loss.backward()  // back through time, one adjoint solve per step
            optimizer.step()
            print("epoch \(epoch): \(loss.value[0, 0])")
        }
        print(model.implicitLayer.log.summary)

        // One forward and one backward solve per step and epoch.
        #expect(model.implicitLayer.log.forwardSolves == 200)
        #expect(model.implicitLayer.log.backwardSolves == 200)
    }

    /// SIM.md: a small teacher, its states, an exact fit and the model.
    @Test func sim() throws {
        // --- "A small fit" (verbatim)
        var rng = SeededGenerator(seed: 0)
        // A small bias-free ReLU teacher; in practice you would train it first.
        let teacher = Sequential<Double>.mlp([6, 12, 8, 3], bias: false, using: &rng)
        try rescaleForWellPosedness(teacher, kappa: 0.99)  // same function, hidden ‖W‖∞ ≤ 0.99

        let inputs = Matrix<Double>.randomNormal(6, 400, using: &rng)  // 6 features × 400 samples
        let states = try StateExtraction.states(of: teacher, inputs: inputs)
        print(states.inputs.shapeDescription, states.states.shapeDescription)  // 6×400 20×400

        let solver = SIMExactSolver(
            lambdaState: 1e-3, lambdaOutput: 1e-3,
            wellPosedness: .infinityNorm(kappa: 0.99),
            tolerance: 1e-6, zeroThreshold: 1e-9, regenerateStates: true)
        let fit = try solver.fit(states)
        print(fit.report.infinityNormA, fit.report.maxGap, fit.report.sparsity)

        let sim = try SIMModel(fit)
        let test = Matrix<Double>.randomNormal(6, 100, using: &rng)
        let gap = (try sim.predict(test) - (try teacher.predict(test))).maxAbs
        print(sim.summary)
        print("largest difference from the teacher on new inputs: \(gap)")

        #expect(states.inputs.rows == 6 && states.states.rows == 20 && states.sampleCount == 400)
        #expect(fit.report.wellPosednessMet && fit.report.infinityNormA <= 0.99 * (1 + 1e-12))
        #expect(fit.report.unconvergedRows == 0)
        // The article calls the fit close to the teacher: small next to the outputs' size.
        let scale = try teacher.predict(test).maxAbs
        #expect(gap < 0.05 * scale, "difference \(gap) for outputs of size \(scale)")
    }

    /// Robustness.md: certificate, certified accuracy, PGD.
    @Test func robustness() throws {
        // --- (verbatim)
        var rng = SeededGenerator(seed: 0)
        let model = try ImplicitModel<Double>(
            inputDim: 10, outputDim: 3, hiddenDim: 20, kappa: 0.5,
            using: &rng)
        let inputs = Matrix<Double>.randomNormal(10, 64, using: &rng)
        let labels = try model.predict(inputs).argmaxPerColumn()  // the model's own predictions

        let certificate = LipschitzCertificate(model)
        print(certificate)  // norms, λ_pf and the constant L
        let certified = try certificate.certifiedAccuracy(
            scores: try model.predict(inputs),
            labels: labels, epsilon: 1e-3)

        let adversarial = try Attack.pgd(
            model, inputs: inputs, labels: labels,
            epsilon: 0.1, stepSize: 0.025, steps: 10)
        let attacked = try Metrics.accuracy(try model.predict(adversarial), labels)
        print("certified at ε = 0.001: \(certified), accuracy under PGD at ε = 0.1: \(attacked)")

        // Certified samples cannot be broken by any attack within the radius; here the attack
        // radius is larger, so only the ordering certified ≤ 1 and attacked ≤ 1 is guaranteed,
        // plus: the attack stayed inside its ε ball.
        #expect(certificate.outputConstant.isFinite && certificate.normA <= 0.5 + 1e-12)
        #expect((0...1).contains(certified) && (0...1).contains(attacked))
        #expect((adversarial - inputs).maxAbs <= 0.1 + 1e-12)
    }

    /// DataFormats.md: npy round trips and a safetensors model file.
    @Test func dataFormats() throws {
        // --- "numpy .npy" (verbatim)
        let folder = FileManager.default.temporaryDirectory
        var rng = SeededGenerator(seed: 0)
        let batch = Matrix<Float>.randomNormal(784, 32, using: &rng)  // 32 samples as columns

        let url = folder.appendingPathComponent("batch.npy")
        try writeNpy(batch, to: url)  // numpy sees shape (32, 784), C order
        let back: Matrix<Float> = try readNpy(url)  // 784×32 again
        print(back == batch)  // true

        let weights = Matrix<Double>.randomNormal(10, 784, using: &rng)
        let weightsURL = folder.appendingPathComponent("W.npy")
        try writeNpy(weights, to: weightsURL, layout: .sameShape)  // numpy sees (10, 784)
        print(try readNpy(weightsURL, as: Double.self, layout: .sameShape) == weights)  // true

        #expect(back == batch)
        #expect(try NpyArray(contentsOf: url).shape == [32, 784])
        #expect(try NpyArray(contentsOf: weightsURL).shape == [10, 784])
        #expect(try readNpy(weightsURL, as: Double.self, layout: .sameShape) == weights)
    }

    /// DataFormats.md: saving and loading an implicit model.
    @Test func safetensorsModel() throws {
        // --- "safetensors and torchidl's state_dict" (verbatim)
        var rng = SeededGenerator(seed: 0)
        let model = try ImplicitModel<Float>(inputDim: 4, outputDim: 2, hiddenDim: 8, bias: true, using: &rng)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("model.safetensors")
        try model.save(to: url)

        let file = try SafeTensors(contentsOf: url)
        print(file.names)  // ["A", "B", "C", "D"]
        print(try file.matrix("B", as: Float.self).shapeDescription)  // 8×5: the bias adds a column

        let loaded = try ImplicitModel<Float>.load(from: url)  // configuration from the metadata
        let fromPython = try ImplicitModel<Float>.load(
            from: url, options: ImplicitModelLoadOptions(kappa: 0.99, activation: ReLU(), bias: true))
        print(loaded.summary, fromPython.hiddenDim)

        #expect(file.names == ["A", "B", "C", "D"])
        #expect(try file.matrix("B", as: Float.self).cols == 5)
        let u = Matrix<Float>.randomNormal(4, 3, using: &rng)
        #expect(try loaded.predict(u) == (try model.predict(u)))
        #expect(try fromPython.predict(u) == (try model.predict(u)))
    }
}

/// GettingStarted.md, "The same on FashionMNIST": compiled with the suite so that the snippet
/// keeps matching the API, not run (ten epochs on the full data set take a while; the CLI's
/// `idl train` runs the same configuration).
func gettingStartedFashionMNISTSnippet() throws {
    var rng = SeededGenerator(seed: 0)
    let (train, test) = try FashionMNIST.loadTrainAndTest(scaling: .symmetric, as: Float.self)
    let model = try ImplicitModel<Float>(inputDim: 784, outputDim: 10, hiddenDim: 100, using: &rng)
    let optimizer = try Adam(model.parameters, learningRate: 5e-3)
    _ = try trainClassifier(
        model, optimizer: optimizer, train: train, test: test,
        epochs: 10, batchSize: 64, generator: &rng, solveLog: model.log
    ) { report in
        print("epoch \(report.epoch): loss \(report.loss), test accuracy \(report.testAccuracy!)")
    }
}

/// README.md, "A first model": compiled with the suite so that the front page keeps matching the
/// API, not run (one epoch on the full data set; `idl train` runs the same configuration).
func readmeFirstModelSnippet() throws {
    var rng = SeededGenerator(seed: 0)
    let model = try ImplicitModel<Float>(inputDim: 784, outputDim: 10, hiddenDim: 100, using: &rng)
    let optimizer = try Adam(model.parameters, learningRate: 5e-3)
    let (train, test) = try FashionMNIST.loadTrainAndTest(scaling: .symmetric, as: Float.self)
    for batch in try train.batches(size: 64, shuffledWith: &rng) {  // columns are samples
        optimizer.zeroGrad()
        let loss = try crossEntropyLoss(model(Tensor(batch.inputs)), batch.labels)
        loss.backward()  // implicit differentiation
        optimizer.step()
    }
    print(model.log.summary)  // forward/backward iterations, non-converged solves
    print(model.wellPosednessReport)  // ‖A‖∞ and λ_pf(|A|)
    print(try evaluateAccuracy(model, test))  // one epoch: about 0.8
}
