import Foundation
import IDL
import Testing

// Edge cases of the hardening work: training health, degenerate numbers and shapes, bad input,
// memory limits and atomic writes under SIGKILL. Sizes are small: each test runs well under a
// second in release, except the kill test (a few runs of the `idl` binary).

/// An optimizer that records the parameter values after every step that left them all finite,
/// so a test can compare the model after a failure with the last finite parameters, without
/// relying on the training loop's own bookkeeping.
final class FiniteRecordingOptimizer<Inner: Optimizer>: Optimizer {
    typealias Scalar = Inner.Scalar
    let inner: Inner
    private(set) var lastFinite: [Matrix<Scalar>]
    private(set) var steps = 0
    init(_ inner: Inner) {
        self.inner = inner
        lastFinite = inner.parameters.map(\.value)
    }
    var parameters: [Tensor<Scalar>] { inner.parameters }
    var learningRate: Double {
        get { inner.learningRate }
        set { inner.learningRate = newValue }
    }
    func step() {
        inner.step()
        steps += 1
        if parameters.allSatisfy({ $0.value.isFinite }) { lastFinite = parameters.map(\.value) }
    }
}

/// Two Gaussian blobs in the plane, classes 0 and 1, m samples.
private func twoBlobs<T: BLASScalar>(_ m: Int, seed: UInt64, as _: T.Type = T.self) throws -> Dataset<T> {
    var g = SeededGenerator(seed: seed)
    var x = Matrix<T>.randomNormal(2, m, scale: 0.5, using: &g)
    var labels = [Int]()
    for j in 0..<m {
        labels.append(j % 2)
        x[0, j] += j % 2 == 0 ? -2 : 2
    }
    return try Dataset(inputs: x, labels: labels, classCount: 2)
}

/// Runs `body` and returns the IDLError it throws (recording an issue when it throws nothing).
private func idlError(sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) -> IDLError? {
    do {
        try body()
        Issue.record("expected an IDLError, nothing was thrown", sourceLocation: sourceLocation)
    } catch let e as IDLError {
        return e
    } catch {
        Issue.record("expected an IDLError, got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

@Suite struct TrainingHealthTests {
    @Test func hugeLearningRateThrowsNonFiniteAndKeepsTheLastFiniteParameters() throws {
        // Two ways to blow up: a step so large that the parameters overflow at once (lr = 1e300
        // becomes ∞ in Float), and one that leaves them finite but makes the next loss overflow.
        for lr in [1e300, 1e30] {
            var g = SeededGenerator(seed: 11)
            let model = try ImplicitModel<Float>(inputDim: 2, outputDim: 2, hiddenDim: 4, using: &g)
            let opt = FiniteRecordingOptimizer(try SGD(model.parameters, learningRate: lr))
            let initial = model.parameters.map(\.value)
            let error = idlError {
                _ = try trainClassifier(
                    model, optimizer: opt, train: try twoBlobs(64, seed: 1, as: Float.self),
                    epochs: 3, batchSize: 8, generator: &g, solveLog: model.log)
            }
            guard case .nonFinite(let message)? = error else {
                Issue.record("lr \(lr): expected nonFinite, got \(String(describing: error))")
                continue
            }
            #expect(
                message.contains("step") && message.contains("learning rate") && message.contains("κ"), "\(message)")
            #expect(opt.steps >= 1)
            #expect(model.parameters.allSatisfy { $0.value.isFinite }, "lr \(lr)")
            #expect(
                model.parameters.map(\.value) == opt.lastFinite, "lr \(lr): the parameters are not the last finite ones"
            )
            if lr == 1e300 { #expect(model.parameters.map(\.value) == initial) }  // the first step was undone
        }
        // The same in Double: an infinite learning rate makes the first step non-finite; it is undone.
        var g = SeededGenerator(seed: 13)
        let model = try ImplicitModel<Double>(inputDim: 2, outputDim: 2, hiddenDim: 4, using: &g)
        let initial = model.parameters.map(\.value)
        let error = idlError {
            _ = try trainClassifier(
                model, optimizer: try SGD(model.parameters, learningRate: .infinity), train: try twoBlobs(16, seed: 1),
                epochs: 1, batchSize: 8, generator: &g)
        }
        #expect(error.map { "\($0)".contains("step 1 made parameter") } == true, "\(String(describing: error))")
        #expect(model.parameters.map(\.value) == initial)
    }

    @Test func nonConvergingSolvesAreCountedPerEpochWithAdvice() throws {
        var g = SeededGenerator(seed: 12)
        // Three iterations at a tolerance no solve reaches: every forward and backward solve fails.
        let model = try ImplicitModel<Double>(
            inputDim: 2, outputDim: 2, hiddenDim: 6, maxIterations: 3, tolerance: 1e-300,
            gradMaxIterations: 3, gradTolerance: 1e-300, using: &g)
        let opt = try Adam(model.parameters, learningRate: 0.01)
        let reports = try trainClassifier(
            model, optimizer: opt, train: try twoBlobs(40, seed: 2), test: try twoBlobs(20, seed: 3),
            epochs: 2, batchSize: 10, generator: &g, solveLog: model.log)
        for r in reports {
            // 4 steps, one forward and one backward solve each; the test-set evaluation is not counted.
            #expect(r.steps == 4)
            #expect(r.forwardFailures == 4 && r.backwardFailures == 4)
            #expect(r.forwardIterations == 3 && r.convergedFraction == 0)
            let warning = try #require(r.solveWarning)
            for word in ["4 forward", "4 backward", "did not converge", "Anderson", "mitr", "κ"] {
                #expect(warning.contains(word), "\(warning)")
            }
            #expect(r.description.contains(warning))
        }
        // A healthy run has no warning.
        let healthy = try ImplicitModel<Double>(inputDim: 2, outputDim: 2, hiddenDim: 6, using: &g)
        let ok = try trainClassifier(
            healthy, optimizer: try Adam(healthy.parameters, learningRate: 0.01), train: try twoBlobs(40, seed: 2),
            epochs: 1, batchSize: 10, generator: &g, solveLog: healthy.log)
        #expect(ok[0].forwardFailures == 0 && ok[0].solveWarning == nil)
    }
}

@Suite struct NumericalEdgeCaseTests {
    @Test func allZeroInputsGiveFiniteOutputsAndGradients() throws {
        var g = SeededGenerator(seed: 21)
        let model = try ImplicitModel<Double>(inputDim: 3, outputDim: 2, hiddenDim: 5, using: &g)
        let zeros = Matrix<Double>(rows: 3, cols: 4)
        // Without bias, U = 0 gives the fixed point X = 0 and Ŷ = 0 exactly.
        #expect(try model.predict(zeros) == Matrix<Double>(rows: 2, cols: 4))
        let data = try Dataset(inputs: zeros, labels: [0, 1, 0, 1], classCount: 2)
        let reports = try trainClassifier(
            model, optimizer: try Adam(model.parameters, learningRate: 0.01), train: data,
            epochs: 1, batchSize: 2, generator: &g, solveLog: model.log)
        #expect(abs(reports[0].loss - log(2)) < 1e-12)  // uniform scores: cross-entropy log 2
        #expect(model.parameters.allSatisfy { $0.value.isFinite })
        // Standardising all-zero data: nothing divided by zero.
        let s = try Standardizer(fitting: zeros)
        #expect(s.scale == [1, 1, 1] && s.mean == [0, 0, 0])
        #expect(try s.transform(zeros) == zeros)
    }

    @Test func constantFeaturesAreCentredNotDividedByZero() throws {
        // Row 0 constant (5), row 1 constant up to rounding noise, row 2 varying.
        let x = try Matrix<Float>(rowMajor: [[5, 5, 5, 5], [1e6, 1e6, 1e6, 1e6 + 0.0625], [0, 2, 4, 6]])
        let s = try Standardizer(fitting: x, minimumScale: 0.1)
        #expect(s.scale[0] == 1 && s.scale[1] == 1)
        #expect(abs(Double(s.scale[2]) - 5.0.squareRoot()) < 1e-6)  // population sd of 0, 2, 4, 6
        let t = try s.transform(x)
        #expect(t.isFinite)
        #expect((0..<4).allSatisfy { t[0, $0] == 0 })
        // SIM's input standardiser: constant inputs keep scale 1 and the states stay finite.
        var g = SeededGenerator(seed: 22)
        let u = Matrix<Double>(rows: 2, cols: 6, repeating: 3)
        let w = Matrix<Double>.randomNormal(3, 2, scale: 1, using: &g)
        let z = matmul(w, u)
        let states = try SIMStates(inputs: u, states: z.map { max($0, 0) }, preActivations: z, outputs: z.rows(0..<1))
        let (scaled, standardizer) = try states.standardizingInputs()
        #expect(standardizer.scale == [1, 1])
        #expect(scaled.inputs.isFinite && scaled.inputs.rows == 3)
    }

    @Test func hiddenDimensionOneAndBatchOfOne() throws {
        var g = SeededGenerator(seed: 23)
        let model = try ImplicitModel<Double>(inputDim: 2, outputDim: 2, hiddenDim: 1, using: &g)
        #expect(model.effectiveA.rows == 1 && model.wellPosednessReport.infinityNorm <= 0.99)
        let one = Matrix<Double>(column: [0.3, -0.2])
        let y = try model.predict(one)
        #expect(y.rows == 2 && y.cols == 1 && y.isFinite)
        // A batch of one equals the same column inside a larger batch.
        let batch = Matrix.hcat([one, Matrix<Double>(column: [1, 1])])
        #expect((try model.predict(batch).columns(0..<1) - y).maxAbs < 1e-12)
        // Training with batches of one, and a last batch of one (5 = 2 + 2 + 1).
        let opt = try Adam(model.parameters, learningRate: 0.01)
        let single = try trainClassifier(
            model, optimizer: opt, train: try twoBlobs(5, seed: 4), epochs: 1, batchSize: 1,
            generator: &g, solveLog: model.log)
        #expect(single[0].steps == 5 && single[0].loss.isFinite)
        let ragged = try trainClassifier(
            model, optimizer: opt, train: try twoBlobs(5, seed: 4), epochs: 1, batchSize: 2,
            generator: &g, solveLog: model.log)
        #expect(ragged[0].steps == 3 && model.parameters.allSatisfy { $0.value.isFinite })
    }

    @Test func lowRankEqualToTheHiddenDimension() throws {
        var g = SeededGenerator(seed: 24)
        let model = try ImplicitModel<Double>(inputDim: 3, outputDim: 2, hiddenDim: 4, rank: 4, using: &g)
        #expect(model.rank == 4 && model.wellPosednessReport.infinityNorm <= 0.99 + 1e-12)
        #expect(try model.predict(Matrix<Double>.randomNormal(3, 5, scale: 1, using: &g)).isFinite)
        let error = idlError {
            _ = try ImplicitModel<Double>(inputDim: 3, outputDim: 2, hiddenDim: 4, rank: 5, using: &g)
        }
        #expect(error.map { "\($0)".contains("1 ≤ rank ≤ hiddenDim = 4") } == true)
    }

    /// States of a one-layer ReLU network on m positive inputs, with a hidden unit whose
    /// pre-activation is identically 0 (row 0) and one that is never active (row 1).
    func statesWithDeadUnits(m: Int = 30, duplicateInput: Bool = false) throws -> SIMStates<Double> {
        var g = SeededGenerator(seed: 25)
        var u = Matrix<Double>.randomUniform(3, m, 0, 1, using: &g)
        if duplicateInput { for j in 0..<m { u[2, j] = u[1, j] } }  // rank-deficient [X; U]
        var w = Matrix<Double>.randomNormal(4, 3, scale: 1, using: &g)
        for j in 0..<3 {
            w[0, j] = 0
            w[1, j] = -1
        }
        let z = matmul(w, u)
        let x = z.map { max($0, 0) }
        let y = matmul(Matrix<Double>.randomNormal(2, 4, scale: 1, using: &g), x)
        return try SIMStates(inputs: u, states: x, preActivations: z, outputs: y)
    }

    @Test func simSolversHandleDeadUnitsAndRankDeficientDesigns() throws {
        let solvers: [any SIMSolver] = [
            SIMLeastSquaresSolver(wellPosedness: .unconstrained),
            SIMExactSolver(
                lambdaState: 0.01, lambdaOutput: 0.01, wellPosedness: .infinityNorm(kappa: 0.9), tolerance: 1e-8),
            SIMADMMSolver(lambdaState: 0.01, lambdaOutput: 0.01, wellPosedness: .infinityNorm(kappa: 0.9)),
            SIMLowRankSolver(
                rank: 4, lambdaState: 1e-4, wellPosedness: .infinityNorm(kappa: 0.9), epochs: 200, learningRate: 1e-2),
        ]
        for duplicate in [false, true] {
            let states = try statesWithDeadUnits(duplicateInput: duplicate)
            for solver in solvers {
                let fit = try solver.fit(states)
                let what = "\(solver.name), rank-deficient \(duplicate)"
                for (name, m) in [("A", fit.A), ("B", fit.B), ("C", fit.C), ("D", fit.D)] {
                    #expect(m.isFinite, "\(what): \(name) is not finite")
                }
                // Row 0 of Z is zero: every solver that minimises a convex objective gives the zero row.
                if !(solver is SIMLowRankSolver) {
                    #expect(
                        (0..<4).allSatisfy { fit.A[0, $0] == 0 } && (0..<3).allSatisfy { fit.B[0, $0] == 0 },
                        "\(what): \(fit.A), \(fit.B)")
                    // States 0 and 1 are identically zero features: no weight is put on them.
                    #expect((0..<4).allSatisfy { fit.A[$0, 0] == 0 && fit.A[$0, 1] == 0 }, "\(what): \(fit.A)")
                }
                if solver is SIMExactSolver {
                    #expect(fit.report.unconvergedRows == 0, "\(what): \(fit.report.warnings)")
                }
                if solver is SIMLeastSquaresSolver {
                    // Exact data, so least squares reproduces Z; the rank deficiency (the two dead
                    // units, and the duplicated input) is reported.
                    let residual = matmul(fit.A, states.states) + matmul(fit.B, states.inputs) - states.preActivations
                    #expect(residual.maxAbs < 1e-9, "\(what)")
                    #expect(
                        fit.report.warnings.contains { $0.contains("has rank \(duplicate ? 4 : 5) < 7") },
                        "\(what): \(fit.report.warnings)")
                }
            }
        }
    }

    @Test func kappaCloseToOneStillSolvesOrReports() throws {
        // X = relu(0.999 X + u) with u > 0 has the fixed point x = 1000 u; Picard contracts by
        // 0.999 per iteration, so 300 iterations cannot reach it, while Anderson (exact on this
        // linear map) does.
        let n = 3
        let a = Matrix<Double>.identity(n) * 0.999
        let b = Matrix<Double>(rows: n, cols: 1, repeating: 1)
        let c = Matrix<Double>(rows: 1, cols: n, repeating: 1)
        let u = Matrix<Double>(row: [0.001, 0.002])
        let picard = try ImplicitModel<Double>(A: a, B: b, C: c, kappa: 0.999)
        #expect(picard.wellPosednessReport.infinityNorm <= 0.999)
        _ = try picard.predict(u)
        let stats = try #require(picard.log.lastForward)
        #expect(!stats.converged && stats.iterations == 300)
        #expect(picard.log.forwardFailures == 1 && picard.log.summary.contains("Anderson"))
        let anderson = try ImplicitModel<Double>(A: a, B: b, C: c, kappa: 0.999, solver: Anderson(), tolerance: 1e-10)
        let y = try anderson.predict(u)
        #expect(anderson.log.lastForward?.converged == true)
        #expect(abs(y[0, 0] - 3) < 1e-6 && abs(y[0, 1] - 6) < 1e-6)  // 3 states × 1000 u
        // Both well-posedness projections keep ‖A‖∞ ≤ 0.999.
        var g = SeededGenerator(seed: 26)
        let big = Matrix<Double>.randomNormal(5, 5, scale: 3, using: &g)
        #expect(big.scaledIntoInfinityBall(radius: 0.999).infinityNorm <= 0.999 * (1 + 1e-15))
        #expect(big.rowsProjectedOntoL1Ball(radius: 0.999).infinityNorm <= 0.999 * (1 + 1e-12))
        // Training at κ = 0.999 stays finite and counts any failed solves.
        let model = try ImplicitModel<Float>(inputDim: 2, outputDim: 2, hiddenDim: 6, kappa: 0.999, using: &g)
        let r = try trainClassifier(
            model, optimizer: try Adam(model.parameters, learningRate: 0.05),
            train: try twoBlobs(40, seed: 5, as: Float.self), epochs: 2, batchSize: 10,
            generator: &g, solveLog: model.log)
        #expect(r.allSatisfy { $0.loss.isFinite && $0.forwardFailures != nil })
        #expect(Double(model.effectiveA.infinityNorm) <= 0.999 * (1 + 1e-6))
        // SIM at κ = 0.999 meets the bound.
        let fit = try SIMExactSolver(lambdaState: 0.01, lambdaOutput: 0.01, wellPosedness: .infinityNorm(kappa: 0.999))
            .fit(statesWithDeadUnits())
        #expect(fit.report.wellPosednessMet && fit.report.infinityNormA <= 0.999 * (1 + 1e-12))
    }
}

@Suite struct BadInputTests {
    @Test func emptyDataSetsAndBatchesAreRefused() throws {
        var g = SeededGenerator(seed: 31)
        let empty = try Dataset<Double>(inputs: Matrix(rows: 2, cols: 0), labels: [], classCount: 2)
        let model = try ImplicitModel<Double>(inputDim: 2, outputDim: 2, hiddenDim: 3, using: &g)
        let opt = try Adam(model.parameters, learningRate: 0.01)
        expectFailure(["training set has no samples"]) {
            _ = try trainClassifier(model, optimizer: opt, train: empty, epochs: 1, batchSize: 4, generator: &g)
        }
        expectFailure(["test set has no samples"]) {
            _ = try trainClassifier(
                model, optimizer: opt, train: try twoBlobs(4, seed: 1), test: empty, epochs: 1, batchSize: 4,
                generator: &g)
        }
        expectFailure(["no samples"]) { _ = try evaluateAccuracy(model, empty) }
        expectFailure(["no samples"]) { _ = try Standardizer(fitting: Matrix<Double>(rows: 2, cols: 0)) }
        expectFailure(["at least one sample"]) {
            let none = Matrix<Double>(rows: 2, cols: 0)
            _ = try SIMStates(inputs: none, states: none, preActivations: none, outputs: none)
        }
        // A batch of zero samples is not an error: zero predictions.
        let y = try model.predict(Matrix<Double>(rows: 2, cols: 0))
        #expect(y.rows == 2 && y.cols == 0)
    }

    @Test func mismatchedShapesNameWhatWasExpectedAndFound() throws {
        var g = SeededGenerator(seed: 32)
        let model = try ImplicitModel<Double>(inputDim: 3, outputDim: 2, hiddenDim: 4, using: &g)
        expectFailure(["expects 3 input features", "got a 4×5 batch"]) {
            _ = try model.predict(Matrix(rows: 4, cols: 5))
        }
        expectFailure(["initial state must be 4×5", "got 4×2"]) {
            _ = try model.forward(Tensor(Matrix<Double>(rows: 3, cols: 5)), initialState: Matrix(rows: 4, cols: 2))
        }
        expectFailure(["A must be n×n with n = rows of B = 4", "got 3×3"]) {
            _ = try ImplicitModel<Double>(
                A: Matrix(rows: 3, cols: 3), B: Matrix(rows: 4, cols: 2), C: Matrix(rows: 1, cols: 4))
        }
        let rnn = try ImplicitRNN<Double>(inputDim: 2, outputDim: 1, implicitHiddenDim: 4, hiddenDim: 3, using: &g)
        expectFailure(["shape mismatch"]) { _ = try rnn([Matrix<Double>(rows: 3, cols: 2)]) }
        expectFailure(["same number of samples", "3×5", "4×6"]) {
            _ = try SIMStates(
                inputs: Matrix<Double>(rows: 3, cols: 5), states: Matrix(rows: 4, cols: 6),
                preActivations: Matrix(rows: 4, cols: 6), outputs: Matrix(rows: 1, cols: 6))
        }
        let fit = try SIMLeastSquaresSolver(wellPosedness: .unconstrained).fit(
            NumericalEdgeCaseTests().statesWithDeadUnits())
        let sim = try SIMModel(fit)
        expectFailure(["expects 3 input features", "got a 5×2 batch"]) { _ = try sim.predict(Matrix(rows: 5, cols: 2)) }
        expectFailure(["features [X; U] have 4 samples", "targets have 3"]) {
            _ = try SIMLeastSquaresSolver().fitStage(
                features: Matrix<Double>(rows: 2, cols: 4), targets: Matrix(rows: 1, cols: 3),
                stateCount: 1, lambda: 0, constraint: .unconstrained, progress: nil)
        }
    }

    @Test func labelsOutOfRangeAreRefused() throws {
        let x = Matrix<Double>(rows: 2, cols: 3)
        expectFailure(["label 3 of sample 2 is outside 0..<3"]) {
            _ = try Dataset(inputs: x, labels: [0, 1, 3], classCount: 3)
        }
        expectFailure(["label -1 of sample 0"]) { _ = try Dataset(inputs: x, labels: [-1, 1, 2], classCount: 3) }
        // A data set with more classes than the model has outputs.
        var g = SeededGenerator(seed: 33)
        let model = try ImplicitModel<Double>(inputDim: 2, outputDim: 2, hiddenDim: 3, using: &g)
        let three = try Dataset(inputs: x, labels: [0, 1, 2], classCount: 3)
        expectFailure(["label 2 outside 0..<2"]) {
            _ = try trainClassifier(
                model, optimizer: try Adam(model.parameters), train: three, epochs: 1, batchSize: 3, generator: &g)
        }
    }

    @Test func nanAndInfinityInInputsAreRefused() throws {
        var x = Matrix<Double>(rows: 2, cols: 3)
        x[1, 2] = .nan
        expectFailure(["non-finite", "feature 1 of sample 2"]) {
            _ = try Dataset(inputs: x, labels: [0, 1, 0], classCount: 2)
        }
        var g = SeededGenerator(seed: 34)
        let model = try ImplicitModel<Double>(inputDim: 2, outputDim: 2, hiddenDim: 3, using: &g)
        expectFailure(["NaN or infinite"]) { _ = try model.predict(x) }
        var inf = x
        inf[1, 2] = .infinity
        expectFailure(["NaN or infinite"]) { _ = try model.predict(inf) }
        expectFailure(["NaN or infinite"]) { _ = try Standardizer(fitting: x) }
        expectFailure(["inputs U", "row 1, column 2"]) {
            _ = try SIMStates(
                inputs: x, states: Matrix(rows: 1, cols: 3), preActivations: Matrix(rows: 1, cols: 3),
                outputs: Matrix(rows: 1, cols: 3))
        }
        expectFailure(["matrix B contains NaN"]) {
            _ = try ImplicitModel<Double>(A: Matrix(rows: 2, cols: 2), B: x.columns(1..<3), C: Matrix(rows: 1, cols: 2))
        }
    }
}

@Suite struct MemoryLimitTests {
    @Test func absurdHiddenDimensionIsRefusedUpFront() throws {
        var g = SeededGenerator(seed: 41)
        let start = Date()
        let error = idlError {
            _ = try ImplicitModel<Float>(inputDim: 784, outputDim: 10, hiddenDim: 10_000_000, using: &g)
        }
        #expect(Date().timeIntervalSince(start) < 1)
        let text = error.map { "\($0)" } ?? ""
        for word in ["not enough memory", "n=10000000", "GiB", "available", "reduce the hidden dimension"] {
            #expect(text.contains(word), "\(text)")
        }
    }

    @Test func estimatesFollowTheDocumentedFormula() throws {
        // n = 100, p = 784, q = 10, batch 64, Float, Picard (2 buffers):
        // parameters 100² + 100·784 + 10·100 + 10·784 = 97 240 numbers, ×4 bytes ×5 copies = 1 944 800;
        // activations (784 + 6·100 + 3·10)·64·4 = 361 984; solver 2·100·64·4 = 51 200.
        let e = MemoryEstimate.implicitModel(
            inputDim: 784, outputDim: 10, hiddenDim: 100, batchSize: 64, scalarSize: 4, solverBuffers: 2)
        #expect(e.bytes == 1_944_800 + 361_984 + 51_200)
        #expect(throws: Never.self) { try e.check(available: 1e9) }
        expectFailure(["not enough memory", "0.0022 GiB", "available"]) { try e.check(available: 1e6) }
        // SIM and data loading estimates refuse absurd sizes too.
        expectFailure(["not enough memory", "m=1000000000"]) {
            try MemoryEstimate.sim(
                stateCount: 1000, inputCount: 784, outputCount: 10, sampleCount: 1_000_000_000, scalarSize: 8
            ).check()
        }
        expectFailure(["not enough memory", "loading"]) {
            try MemoryEstimate.decodedData("images", elements: Int(1) << 50, scalarSize: 8).check()
        }
        // The machine's memory is readable here (Linux) and plausible.
        let available = try #require(SystemMemory.availableBytes)
        let physical = try #require(SystemMemory.physicalBytes)
        #expect(available > 0 && available <= physical)
    }

    @Test func idlTrainRefusesAnAbsurdHiddenDimension() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try CLITests().writeTinyDataset(dir)
        let start = Date()
        let r = try runTool(
            "idl",
            [
                "train", "--dataset", "mnist-format", "--data-dir", dir.path, "--hidden-dim", "10000000",
                "--output", dir.appendingPathComponent("m.safetensors").path,
                "--log-dir", dir.appendingPathComponent("log").path, "--quiet",
            ])
        #expect(Date().timeIntervalSince(start) < 5)
        #expect(r.status != 0)
        #expect(r.err.contains("not enough memory") && r.err.contains("GiB"), "\(r.err)")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("m.safetensors").path))
    }
}

@Suite struct AtomicWriteTests {
    @Test func temporaryFilesAreRecognisableAndStaleOnesAreRemoved() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(AtomicFile.isTemporaryFileName(".w.npy.tmp-123-456"))
        #expect(
            !AtomicFile.isTemporaryFileName("w.npy") && !AtomicFile.isTemporaryFileName(".w.npy.tmp-x-1")
                && !AtomicFile.isTemporaryFileName("w.npy.tmp-1-2"))
        // Every writer goes through the atomic path: each removes a stale temporary file of a
        // dead process (pid 2^22 + 1 is above Linux's largest pid) but not that of a live one (pid 1).
        var table = ResultTable(columns: ["a"])
        try table.append(["1"])
        var g = SeededGenerator(seed: 51)
        let model = try ImplicitModel<Float>(inputDim: 2, outputDim: 1, hiddenDim: 2, using: &g)
        let u = Matrix<Double>(rows: 1, cols: 2, repeating: 1)
        let writers: [(String, () throws -> Void)] = [
            ("w.npy", { try writeNpy(Matrix<Float>.ones(2, 2), to: dir.appendingPathComponent("w.npy")) }),
            (
                "t.safetensors",
                {
                    var f = SafeTensors()
                    f.setMatrix("x", Matrix<Float>.ones(1, 1))
                    try f.write(to: dir.appendingPathComponent("t.safetensors"))
                }
            ),
            ("m.safetensors", { try model.save(to: dir.appendingPathComponent("m.safetensors")) }),
            (
                "s.safetensors",
                {
                    try SIMStates(inputs: u, states: u, preActivations: u, outputs: u).save(
                        to: dir.appendingPathComponent("s.safetensors"))
                }
            ),
            ("r.md", { try table.write(to: dir.appendingPathComponent("r")) }),
            ("r.csv", { try table.write(to: dir.appendingPathComponent("r")) }),
        ]
        for (name, write) in writers {
            let dead = dir.appendingPathComponent(".\(name).tmp-4194305-7")
            let alive = dir.appendingPathComponent(".\(name).tmp-1-7")
            try Data("partial".utf8).write(to: dead)
            try Data("partial".utf8).write(to: alive)
            try write()
            #expect(!FileManager.default.fileExists(atPath: dead.path), "\(name): stale temporary file left")
            #expect(FileManager.default.fileExists(atPath: alive.path), "\(name): a live writer's file was removed")
            try FileManager.default.removeItem(at: alive)
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        #expect(names == ["m.safetensors", "r.csv", "r.md", "s.safetensors", "t.safetensors", "w.npy"])
    }

    /// Kills `idl predict` with SIGKILL while it writes a 40 MB output, at several delays after
    /// its temporary file appears: the output is always the old file or the new one, whole.
    @Test func killedWhileWritingLeavesTheOldOrTheNewFile() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // p = 1, n = 1, q = 200 outputs for 50 000 samples: a 40 MB float32 output, little compute.
        let q = 200
        let m = 50_000
        let model = try ImplicitModel<Float>(
            A: Matrix(rows: 1, cols: 1), B: Matrix(rows: 1, cols: 1, repeating: 1),
            C: Matrix(rows: q, cols: 1) { i, _ in Float(i) })
        let modelURL = dir.appendingPathComponent("model.safetensors")
        let inputURL = dir.appendingPathComponent("u.npy")
        try model.save(to: modelURL)
        try writeNpy(Matrix<Float>(rows: 1, cols: m) { _, j in Float(j % 7) }, to: inputURL)
        let reference = dir.appendingPathComponent("ref")
        let output = dir.appendingPathComponent("y.npy")
        try FileManager.default.createDirectory(at: reference, withIntermediateDirectories: true)
        let arguments = { (out: URL) in
            ["predict", "--model", modelURL.path, "--input", inputURL.path, "--output", out.path, "--quiet"]
        }
        let done = try runTool("idl", arguments(reference.appendingPathComponent("y.npy")))
        #expect(done.status == 0, "\(done.err)")
        let newBytes = try Data(contentsOf: reference.appendingPathComponent("y.npy"))
        #expect(newBytes.count > q * m * 4)
        try writeNpy(Matrix<Float>.ones(2, 2), to: output)
        let oldBytes = try Data(contentsOf: output)

        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
            "idl")
        func temporaries() -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).filter(
                AtomicFile.isTemporaryFileName)
        }
        // Temporary files with bytes in them: the output being written (the up-front check's
        // empty probe file, created and removed at start-up, does not count).
        func writing() -> Set<String> {
            Set(
                temporaries().filter {
                    let size = try? FileManager.default.attributesOfItem(atPath: dir.appendingPathComponent($0).path)[
                        .size]
                    return (size as? Int ?? 0) > 0
                })
        }
        var killedMidway = 0
        for delay in [0, 0, 3_000, 15_000] {  // microseconds after the temporary file appears
            let before = writing()
            let p = Process()
            p.executableURL = binary
            p.arguments = arguments(output)
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            let deadline = Date().addingTimeInterval(20)
            while p.isRunning && writing().subtracting(before).isEmpty && Date() < deadline { usleep(200) }
            usleep(useconds_t(delay))
            let wasRunning = p.isRunning
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            let now = try Data(contentsOf: output)
            #expect(
                now == oldBytes || now == newBytes,
                "delay \(delay) µs: \(now.count) bytes, neither the old nor the new file")
            if wasRunning && now == oldBytes { killedMidway += 1 }
            if now == newBytes { try writeNpy(Matrix<Float>.ones(2, 2), to: output) }  // old content again
        }
        #expect(killedMidway >= 1, "no kill landed while the file was being written")
        print("killed while writing: \(killedMidway) of 4 runs")
        // Leftovers of killed runs are hidden, recognisable temporary files only ...
        let visible = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { !$0.hasPrefix(".") }
            .sorted()
        #expect(visible == ["model.safetensors", "ref", "u.npy", "y.npy"])
        #expect(temporaries().count >= 1)
        // ... which the next complete run removes.
        let final = try runTool("idl", arguments(output))
        #expect(final.status == 0, "\(final.err)")
        #expect(try Data(contentsOf: output) == newBytes)
        #expect(temporaries().isEmpty, "\(temporaries())")
    }
}
