import Foundation
import IDL
import Testing

/// The notebook's "custom activation" chapter: a SiLU written by the user, not the built-in one.
struct UserSiLU: Activation {
    var name: String { "user-silu" }
    func phi<T: BLASScalar>(_ x: T) -> T { x / (1 + T.exp(-x)) }
    func dphi<T: BLASScalar>(_ x: T) -> T {
        let s = 1 / (1 + T.exp(-x))
        return s * (1 + x * (1 - s))
    }
}

@Suite struct ImplicitModelTests {
    /// Builds the model of a torchidl fixture, runs forward and backward with L = Σ Ŷ∘G, and
    /// returns the worst relative error over the output and every gradient.
    func fixtureErrors(_ file: String) throws -> [String: Double] {
        let f = try loadFixture("implicit/\(file)")
        let config = f["config"] as! [String: Any]
        let params = f["params"] as! [String: Any]
        let grads = f["grads"] as! [String: Any]
        let activation: any Activation
        switch config["activation"] as! String {
        case "relu": activation = ReLU()
        case "silu": activation = UserSiLU()
        default: activation = Tanh()
        }
        let wp: WellPosedness =
            (config["wellposedness"] as! String) == "triu" ? .strictlyUpperTriangular : .infinityNorm
        let lowRank = config["low_rank"] as? Bool ?? false
        let model = try ImplicitModel<Double>(
            A: lowRank ? nil : try fixtureMatrix(params["A"]),
            L: lowRank ? try fixtureMatrix(params["L"]) : nil,
            R: lowRank ? try fixtureMatrix(params["R"]) : nil,
            B: try fixtureMatrix(params["B"]), C: try fixtureMatrix(params["C"]),
            D: (config["no_D"] as? Bool ?? false) ? nil : try fixtureMatrix(params["D"]),
            bias: config["bias"] as? Bool ?? false, kappa: config["kappa"] as! Double, wellPosedness: wp,
            activation: activation, maxIterations: 5000, tolerance: 1e-15, gradMaxIterations: 5000, gradTolerance: 1e-15
        )
        // Fixture data are batch-first (m × p): our matrices are their transposes.
        let u = Tensor(try fixtureMatrix(f["input"]).transposed, requiresGrad: true)
        let y = try model(u)
        let g = try fixtureMatrix(f["grad_output"]).transposed
        y.backward(seed: g)
        var errors = [String: Double]()
        func relErr(_ got: Matrix<Double>, _ want: Matrix<Double>) -> Double {
            guard got.rows == want.rows, got.cols == want.cols else { return .infinity }
            let scale = max(want.maxAbs, 1e-300)
            return (got - want).maxAbs / scale
        }
        errors["output"] = relErr(y.value, try fixtureMatrix(f["output"]).transposed)
        errors["input"] = relErr(u.grad!, try fixtureMatrix(grads["input"]).transposed)
        for (name, t) in [
            ("A", model.A), ("L", model.L), ("R", model.R), ("B", model.B), ("C", model.C), ("D", model.D),
        ] {
            guard let t else { continue }
            errors[name] = relErr(t.grad!, try fixtureMatrix(grads[name]))
        }
        #expect(model.log.lastForward?.converged == true)
        #expect(model.log.lastBackward?.converged == true)
        return errors
    }

    @Test(arguments: [
        "relu_small.json", "relu_bias.json", "relu_lowrank.json", "relu_triu.json", "silu_custom_activation.json",
    ])
    func matchesTorchidlFixture(file: String) throws {
        let errors = try fixtureErrors(file)
        #expect(errors.count >= 5)
        for (name, e) in errors {
            #expect(e < 1e-8, "\(file): \(name) relative error \(e)")
        }
    }

    func smallModel(
        _ wp: WellPosedness, activation: any Activation = ReLU(), rank: Int? = nil, bias: Bool = false, seed: UInt64 = 3
    ) throws -> ImplicitModel<Double> {
        var g = SeededGenerator(seed: seed)
        let model = try ImplicitModel<Double>(
            inputDim: 4, outputDim: 3, hiddenDim: 6, bias: bias, rank: rank, kappa: 0.9,
            wellPosedness: wp, activation: activation,
            maxIterations: 2000, tolerance: 1e-14, gradMaxIterations: 2000, gradTolerance: 1e-14,
            using: &g)
        // Larger weights than the randn/n initialisation, so the constraint is active.
        if let a = model.A { a.value = a.value * 8 }
        return model
    }

    @Test(arguments: WellPosedness.allCases)
    func finiteDifferencesPerWellPosedness(_ wp: WellPosedness) throws {
        let model = try smallModel(wp == .none ? .strictlyUpperTriangular : wp, activation: Tanh())
        if wp == .none, let a = model.A { a.value = a.value.scaledIntoInfinityBall(radius: 0.5) }
        try checkModelGradients(model, straightThroughA: wp == .infinityNorm || wp == .rowL1Projection)
    }

    @Test func finiteDifferencesLowRankAndBias() throws {
        let model = try smallModel(.infinityNorm, activation: Tanh(), rank: 2, bias: true)
        model.L!.value = model.L!.value * 30  // make the factor scaling active
        try checkModelGradients(model, straightThroughA: false)
    }

    /// Finite differences of L = Σ Ŷ∘W with respect to the input and every parameter. With a
    /// straight-through rule the gradient of A is the gradient at the scaled matrix, so A is
    /// perturbed after scaling (the model is rebuilt with the effective A and no constraint).
    /// `columns` samples: 5 by default (one block); from 64 on the forward pass runs in blocks.
    func checkModelGradients(_ model: ImplicitModel<Double>, straightThroughA: Bool, columns: Int = 5) throws {
        var g = SeededGenerator(seed: 17)
        let u = Matrix<Double>.randomNormal(model.inputDim, columns, using: &g)
        let w = Matrix<Double>.randomNormal(model.outputDim, columns, using: &g)
        let target: ImplicitModel<Double>
        if straightThroughA {
            target = try ImplicitModel(
                A: model.effectiveA, B: model.B.value, C: model.C.value, D: model.D?.value, bias: model.bias,
                kappa: 0.9, wellPosedness: .none, activation: model.activation,
                maxIterations: 2000, tolerance: 1e-14, gradMaxIterations: 2000, gradTolerance: 1e-14)
        } else {
            target = model
        }
        let input = Tensor(u, requiresGrad: true)
        let y = try target(input)
        y.backward(seed: w)
        var worst = 0.0
        let h = 1e-6
        func loss() throws -> Double { (try target.predict(u) * w).sum() }
        for p in target.parameters {
            let analytic = p.grad!
            for e in 0..<p.value.count {
                let saved = p.value.storage[e]
                p.value.storage[e] = saved + h
                let lp = try loss()
                p.value.storage[e] = saved - h
                let lm = try loss()
                p.value.storage[e] = saved
                let numeric = (lp - lm) / (2 * h)
                worst = max(worst, abs(numeric - analytic.storage[e]) / max(1, abs(numeric)))
            }
        }
        var uu = u
        for e in 0..<u.count {
            uu.storage[e] = u.storage[e] + h
            let lp = (try target.predict(uu) * w).sum()
            uu.storage[e] = u.storage[e] - h
            let lm = (try target.predict(uu) * w).sum()
            uu.storage[e] = u.storage[e]
            worst = max(worst, abs((lp - lm) / (2 * h) - input.grad!.storage[e]))
        }
        #expect(worst < 1e-6, "worst finite-difference error \(worst)")
        // The straight-through model's A gradient equals the original model's.
        if straightThroughA {
            _ = try model(Tensor(u)).backward(seed: w)
            #expect(model.A!.grad!.isApproximatelyEqual(to: target.A!.grad!, tolerance: 1e-10))
        }
    }

    /// Batches of 64 samples or more are solved in blocks whose number depends on the batch size only.
    @Test func batchBlocksDependOnTheBatchSizeOnly() {
        let saved = ThreadPolicy.workers
        defer { ThreadPolicy.workers = saved }
        for workers in [1, 2, 5] {
            ThreadPolicy.workers = workers
            #expect(
                [1, 20, 63, 64, 100, 127, 128, 1000].map { ThreadPolicy.batchBlocks(columns: $0) } == [
                    1, 1, 1, 2, 2, 2, 4, 4,
                ])
        }
    }

    /// The forward pass in 4 blocks (130 samples: 32, 33, 32, 33 columns) against finite
    /// differences of the loss computed by `predict`, for every parameter and the input; with
    /// a bias row, low rank (the factors' scaling differentiated) and the feedthrough D.
    @Test func finiteDifferencesInBlocks() throws {
        #expect(ThreadPolicy.batchBlocks(columns: 130) == 4)
        try checkModelGradients(
            try smallModel(.strictlyUpperTriangular, activation: Tanh(), bias: true), straightThroughA: false,
            columns: 130)
        let lowRank = try smallModel(.infinityNorm, activation: Tanh(), rank: 2, bias: true)
        lowRank.L!.value = lowRank.L!.value * 30
        try checkModelGradients(lowRank, straightThroughA: false, columns: 130)
    }

    /// At a tight tolerance the blocked pass (`callAsFunction`, 2 blocks of 50 samples) gives the
    /// output and gradients of one solve of the whole batch (`forward(_:initialState:)`) to
    /// rounding, and its solver statistics are one solve per pass.
    @Test func blocksMatchTheWholeBatchSolve() throws {
        var g = SeededGenerator(seed: 5)
        let u = Matrix<Double>.randomNormal(4, 100, using: &g)
        let w = Matrix<Double>.randomNormal(3, 100, using: &g)
        var results = [(y: Matrix<Double>, grads: [Matrix<Double>], input: Matrix<Double>)]()
        for blocked in [true, false] {
            let model = try smallModel(.infinityNorm, bias: true, seed: 11)
            let input = Tensor(u, requiresGrad: true)
            let y = blocked ? try model(input) : try model.forward(input, initialState: nil).output
            y.backward(seed: w)
            #expect(model.log.forwardSolves == 1 && model.log.backwardSolves == 1)
            #expect(model.log.forwardFailures == 0 && model.log.backwardFailures == 0)
            results.append((y.value, model.parameters.map { $0.grad! }, input.grad!))
        }
        #expect(results[0].grads.count == 4)
        #expect(results[0].y.isApproximatelyEqual(to: results[1].y, tolerance: 1e-11))
        #expect(results[0].input.isApproximatelyEqual(to: results[1].input, tolerance: 1e-11))
        for (a, b) in zip(results[0].grads, results[1].grads) {
            #expect(a.isApproximatelyEqual(to: b, tolerance: 1e-11), "\((a - b).maxAbs)")
        }
    }

    /// A few training steps in blocks (batch 128: 4 blocks) give the same losses and weights,
    /// bit for bit, on 1, 2 or 3 workers.
    @Test func blockedTrainingDoesNotDependOnTheWorkerCount() throws {
        var g = SeededGenerator(seed: 8)
        let x = Matrix<Float>.randomNormal(12, 512, using: &g)
        let labels = (0..<512).map { j in x[0, j] + x[1, j] > 0 ? 1 : (x[2, j] > 0.5 ? 2 : 0) }
        let data = try Dataset(inputs: x, labels: labels, classCount: 3)
        let saved = ThreadPolicy.workers
        defer { ThreadPolicy.workers = saved }
        var runs = [(losses: [Double], weights: [[Float]])]()
        for workers in [1, 2, 3] {
            ThreadPolicy.workers = workers
            var rng = SeededGenerator(seed: 9)
            let model = try ImplicitModel<Float>(inputDim: 12, outputDim: 3, hiddenDim: 20, bias: true, using: &rng)
            let opt = try Adam(model.parameters, learningRate: 0.01)
            let reports = try trainClassifier(
                model, optimizer: opt, train: data, epochs: 2, batchSize: 128, generator: &rng, solveLog: model.log)
            runs.append((reports.map(\.loss), model.parameters.map { $0.value.storage }))
        }
        #expect(runs[0].losses[1] < runs[0].losses[0])
        for run in runs.dropFirst() {
            #expect(run.losses == runs[0].losses)
            #expect(run.weights == runs[0].weights)
        }
    }

    @Test func picardAndAndersonReachTheSameFixedPoint() throws {
        var g = SeededGenerator(seed: 5)
        let n = 40
        // A slow contraction: ‖A‖∞ = λ_pf(|A|) = 0.99, inputs that keep the ReLU states active.
        let hard = Matrix<Double>(rows: n, cols: n, repeating: 0.99 / Double(n))
        // A random case: mixed signs, ‖A‖∞ = 0.99.
        var random = Matrix<Double>.randomNormal(n, n, using: &g)
        random = random * (0.99 / random.infinityNorm)
        for (a, factor) in [(hard, 3), (random, 1)] {  // factor: required speed-up
            let b = Matrix<Double>.randomNormal(n, 8, using: &g).absolute
            let c = Matrix<Double>.randomNormal(3, n, using: &g)
            let u = Matrix<Double>.randomNormal(8, 16, using: &g).absolute
            let picard = try ImplicitModel(A: a, B: b, C: c, solver: Picard(), maxIterations: 10_000, tolerance: 1e-10)
            let anderson = try ImplicitModel(
                A: a, B: b, C: c, solver: Anderson(), maxIterations: 10_000, tolerance: 1e-10)
            let y1 = try picard.predict(u)
            let y2 = try anderson.predict(u)
            #expect(y1.isApproximatelyEqual(to: y2, tolerance: 1e-7))
            let ip = picard.log.lastForward!.iterations
            let ia = anderson.log.lastForward!.iterations
            #expect(picard.log.lastForward!.converged && anderson.log.lastForward!.converged)
            #expect(factor == 1 ? ia <= ip : ia * factor < ip, "Anderson \(ia) iterations vs Picard \(ip)")
        }
    }

    @Test func floatSolvesStopAtTheRoundingFloor() throws {
        // States of size ~100 in Float: an absolute change below 3e-6 is below the rounding of the
        // entries (ε·100 ≈ 1.2e-5), so the solve must stop at the floor, not run to its cap.
        var g = SeededGenerator(seed: 12)
        let n = 50
        var a = Matrix<Double>.randomNormal(n, n, using: &g).absolute
        a = a * (0.95 / a.infinityNorm)
        let b = Matrix<Double>.randomNormal(n, 4, using: &g).absolute * 5
        let c = Matrix<Double>.randomNormal(2, n, using: &g)
        let u = Matrix<Double>.randomUniform(4, 8, 0, 1, using: &g)
        let exact = try ImplicitModel(A: a, B: b, C: c, maxIterations: 100_000, tolerance: 1e-12).predict(u)
        let single = try ImplicitModel(
            A: a.converted(to: Float.self), B: b.converted(to: Float.self), C: c.converted(to: Float.self),
            solver: Picard(), maxIterations: 5000, tolerance: 3e-6)
        let y = try single.predict(u.converted(to: Float.self)).converted(to: Double.self)
        let stats = try #require(single.log.lastForward)
        #expect(stats.converged && stats.iterations < 5000, "\(stats)")
        #expect((y - exact).maxAbs / exact.maxAbs < 1e-4)
    }

    @Test func badInputGivesClearErrors() throws {
        var g = SeededGenerator(seed: 1)
        let model = try ImplicitModel<Double>(inputDim: 4, outputDim: 2, hiddenDim: 5, using: &g)
        #expect(throws: IDLError.self) { try model(Tensor(Matrix<Double>.ones(3, 2))) }
        var nan = Matrix<Double>.ones(4, 2)
        nan[1, 1] = .nan
        #expect(throws: IDLError.self) { try model(Tensor(nan)) }
        #expect(throws: IDLError.self) {
            try ImplicitModel<Double>(inputDim: 4, outputDim: 2, hiddenDim: 5, rank: 6, using: &g)
        }
        #expect(throws: IDLError.self) {
            try ImplicitModel<Double>(inputDim: 4, outputDim: 2, hiddenDim: 5, kappa: 1.0, using: &g)
        }
        #expect(throws: IDLError.self) {
            try ImplicitModel<Double>(inputDim: 4, outputDim: 2, hiddenDim: 5, kappa: 0, using: &g)
        }
        #expect(throws: IDLError.self) {
            try model.forward(Tensor(Matrix<Double>.ones(4, 2)), initialState: Matrix.ones(5, 3))
        }
        do {
            _ = try model(Tensor(Matrix<Double>.ones(3, 2)))
        } catch {
            #expect("\(error)".contains("expects 4 input features"))
        }
    }

    @Test func nonConvergenceIsReportedNotSilent() throws {
        var g = SeededGenerator(seed: 2)
        // No constraint and a large A: the iteration diverges within its budget.
        let a = Matrix<Double>.identity(5) * 3
        let model = try ImplicitModel(
            A: a, B: Matrix.randomNormal(5, 2, using: &g), C: Matrix.ones(1, 5),
            wellPosedness: .none, activation: Identity(), maxIterations: 20)
        _ = try model.predict(Matrix.ones(2, 3))
        #expect(model.log.lastForward?.converged == false)
        #expect(model.log.forwardFailures == 1)
        #expect(model.log.summary.contains("1 not converged"))
    }

    @Test func wellPosednessReport() throws {
        let a = try Matrix<Double>(rowMajor: [[0.2, -0.3], [0.5, 0.1]])
        let r = WellPosednessReport(a)
        #expect(abs(r.infinityNorm - 0.6) < 1e-15)
        // |A| = [[.2,.3],[.5,.1]]: eigenvalues (0.3 ± √(0.01+0.6)... ) → ρ = 0.15 + √(0.0025 + 0.15·... )
        let tr = 0.3
        let det = 0.2 * 0.1 - 0.3 * 0.5
        let rho = tr / 2 + (tr * tr / 4 - det).squareRoot()
        #expect(abs(r.perronFrobenius - rho) < 1e-8)
        #expect(r.isWellPosed)
        let triu = WellPosednessReport(try Matrix<Double>(rowMajor: [[0, 5], [0, 0]]))
        #expect(triu.strictlyUpperTriangular && triu.perronFrobenius < 1e-9 && triu.isWellPosed)
        // The model's constraint holds after the rule.
        var g = SeededGenerator(seed: 9)
        let model = try smallModel(.rowL1Projection, seed: 4)
        #expect(model.wellPosednessReport.infinityNorm <= 0.9 + 1e-12)
        let inf = try smallModel(.infinityNorm)
        #expect(abs(inf.wellPosednessReport.infinityNorm - 0.9) < 1e-12)
        _ = g.next()
    }

    @Test func rowL1ProjectionOfA() throws {
        // Row (3, −1, 0.5) onto radius 2: θ = 1 gives (2, 0, 0); a row inside the ball is unchanged.
        let a = try Matrix<Double>(rowMajor: [[3, -1, 0.5], [0.1, -0.2, 0]])
        let p = a.rowsProjectedOntoL1Ball(radius: 2)
        #expect(p.rowMajorArrays == [[2, 0, 0], [0.1, -0.2, 0]])
    }
}

@Suite struct ImplicitModelFileTests {
    @Test func torchidlStateDictReproducesTorchidlOutput() throws {
        // A model trained and exported by torchidl: safetensors state_dict, batch-first npy input.
        let folder = fixturesDirectory.appendingPathComponent("interop/implicit_small")
        let model = try ImplicitModel<Float>.load(from: folder.appendingPathComponent("model.safetensors"))
        #expect(model.inputDim == 16 && model.outputDim == 4 && model.hiddenDim == 24)
        let u = try readNpy(folder.appendingPathComponent("input.npy"), as: Float.self)
        let expected = try readNpy(folder.appendingPathComponent("expected_output.npy"), as: Float.self)
        let y = try model.predict(u)
        #expect(y.rows == 4 && y.cols == expected.cols)
        #expect((y - expected).maxAbs < 1e-4, "max difference \((y - expected).maxAbs)")
    }

    @Test func saveAndLoadRoundTrip() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var g = SeededGenerator(seed: 8)
        for rank in [nil, 3] as [Int?] {
            let model = try ImplicitModel<Double>(
                inputDim: 5, outputDim: 2, hiddenDim: 7, bias: true, rank: rank, kappa: 0.8,
                wellPosedness: .rowL1Projection, activation: Tanh(), using: &g)
            let url = dir.appendingPathComponent("m\(rank ?? 0).safetensors")
            try model.save(to: url)
            let back = try ImplicitModel<Double>.load(from: url)
            #expect(back.kappa == 0.8 && back.bias && back.rank == rank && back.wellPosedness == .rowL1Projection)
            #expect(back.activation.name == "tanh")
            let u = Matrix<Double>.randomNormal(5, 3, using: &g)
            #expect(try back.predict(u) == model.predict(u))
        }
        #expect(throws: IDLError.self) {
            try ImplicitModel<Double>.load(from: dir.appendingPathComponent("missing.safetensors"))
        }
        // A file without B.
        var partial = SafeTensors()
        partial.setMatrix("A", Matrix<Double>.identity(3))
        try partial.write(to: dir.appendingPathComponent("partial.safetensors"))
        #expect(throws: IDLError.self) {
            try ImplicitModel<Double>.load(from: dir.appendingPathComponent("partial.safetensors"))
        }
    }
}
