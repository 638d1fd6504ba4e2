import ArgumentParser
import Foundation
import IDL

struct SIMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sim",
        abstract: "Fit a state-driven implicit model (SIM) to a trained network by convex optimisation.",
        discussion: """
            A bare `idl sim` is the SIM benchmark: it trains the teacher 784-64-32-16-10 (ReLU, no bias, \
            Adam 0.01, batch 128, 5 epochs) on FashionMNIST (pixels in [0, 1]), rescales it so that each \
            hidden weight matrix has ‖W‖∞ ≤ κ (its outputs do not change), collects the states of 2 000 \
            random training images, fits A, B, C, D with the exact convex solver (‖A‖∞ ≤ κ, λ 35 for \
            A and B, 1 for C and D, elastic net λ₂ 2), and evaluates on the 10 000 test images.

            --states-in skips the teacher and fits saved states (written before with --states-out).

            With --json the last line is a JSON object with the keys teacher_accuracy, test_accuracy, \
            nonzeros, teacher_nonzeros, norm_A_inf, fit_seconds, eval_seconds, solver, model.
            """
    )

    @Option(help: "Solver: exact, least-squares, admm, low-rank.") var solver = SIMSolverName.exact
    @Option(help: "λ for the state rows (A, B).") var lambdaState = 35.0
    @Option(help: "λ for the output rows (C, D).") var lambdaOutput = 1.0
    @Option(help: "Elastic-net weight λ₂ (exact and ADMM solvers).") var lambda2 = 2.0
    @Option(help: "Radius κ of ‖A‖∞ ≤ κ.") var kappa = 0.99
    @Flag(help: "Keep A strictly upper triangular instead of bounding ‖A‖∞.") var triangular = false
    @Option(help: "Relative duality-gap tolerance of the exact solver.") var tolerance = 1e-4
    @Option(help: "Weights with |w| below this become exact zeros.") var zeroThreshold = 1e-8
    @Flag(inversion: .prefixedNo, help: "Fit C, D on states regenerated with the fitted A, B.") var regenStates = true
    @Option(help: "Rank of A for the low-rank solver.") var rank = 10
    @Option(help: "Training images whose states are collected (default 2000; at most the 60 000 training images).")
    var samples: Int?
    var sampleCount: Int { samples ?? 2000 }
    @Option(help: "Teacher training epochs.") var teacherEpochs = 5
    @Option(help: "Random seed.") var seed: UInt64 = 0
    @Option(help: "Save the collected states (.safetensors).") var statesOut: String?
    @Option(help: "Fit these saved states instead of training a teacher.") var statesIn: String?
    @Option(help: "Where to save the fitted model (.safetensors, loadable by `idl predict`).") var output =
        "results/sim-model.safetensors"
    @OptionGroup var out: OutputOptions

    /// `--solver`: any other value is refused by the parser with the list of choices.
    enum SIMSolverName: String, CaseIterable, ExpressibleByArgument {
        case exact
        case leastSquares = "least-squares"
        case admm
        case lowRank = "low-rank"
    }

    func validate() throws {
        try NumberRule.openUnitInterval.check("--kappa", kappa)
        try NumberRule.nonNegative.check("--lambda-state", lambdaState)
        try NumberRule.nonNegative.check("--lambda-output", lambdaOutput)
        try NumberRule.nonNegative.check("--lambda2", lambda2)
        try NumberRule.positive.check("--tolerance", tolerance)
        try NumberRule.nonNegative.check("--zero-threshold", zeroThreshold)
        try NumberRule.check("--rank", rank, atLeast: 1)
        if let samples { try NumberRule.check("--samples", samples, atLeast: 1) }
        try NumberRule.check("--teacher-epochs", teacherEpochs, atLeast: 1)
    }

    func makeSolver() -> any SIMSolver {
        let constraint: SIMWellPosedness = triangular ? .strictlyUpperTriangular : .infinityNorm(kappa: kappa)
        switch solver {
        case .leastSquares:
            return SIMLeastSquaresSolver(wellPosedness: .unconstrained, regenerateStates: regenStates)
        case .admm:
            return SIMADMMSolver(
                lambdaState: lambdaState, lambdaOutput: lambdaOutput, lambda2: lambda2, wellPosedness: constraint,
                zeroThreshold: zeroThreshold, regenerateStates: regenStates)
        case .lowRank:
            return SIMLowRankSolver(
                rank: rank, lambdaState: lambdaState, wellPosedness: constraint, zeroThreshold: zeroThreshold,
                regenerateStates: regenStates, seed: seed)
        case .exact:
            return SIMExactSolver(
                lambdaState: lambdaState, lambdaOutput: lambdaOutput, lambda2: lambda2, wellPosedness: constraint,
                tolerance: tolerance, zeroThreshold: zeroThreshold, regenerateStates: regenStates)
        }
    }

    func run() throws {
        try RunFiles.check(
            RunFile.input("--states-in", statesIn) + RunFile.output("--states-out", statesOut)
                + RunFile.output("--output", output))
        if statesIn != nil && samples != nil {
            throw ValidationError(
                "--samples applies to the states collected from the teacher, not to --states-in; drop one")
        }
        if statesIn == nil {
            // The teacher 784-64-32-16-10 has n = 112 states, kept in Double, of at most the 60 000 training images.
            try MemoryEstimate.sim(
                stateCount: 64 + 32 + 16, inputCount: 784, outputCount: 10, sampleCount: min(sampleCount, 60_000),
                scalarSize: 8
            ).check()
        }
        let test = try FashionMNIST.load(.test, scaling: .unit, as: Float.self)
        var teacherAccuracy: Double? = nil
        var teacherNonzeros: Int? = nil
        let states: SIMStates<Double>
        if let statesIn {
            states = try SIMStates<Double>(contentsOf: URL(fileURLWithPath: statesIn))
            out.say(
                "loaded states from \(FilePathBytes.display(statesIn)): n = \(states.stateCount), p = \(states.inputCount), m = \(states.sampleCount)"
            )
            // The fitted model is scored on the test images: the states must have their features and classes.
            guard states.inputCount == test.featureCount else {
                throw CommandError(
                    "--states-in \(FilePathBytes.display(statesIn)) has inputs U of \(states.inputCount) features, but the test images have \(test.featureCount); collect the states from a network on these images (784 pixels)"
                )
            }
            guard states.outputCount == test.classCount else {
                throw CommandError(
                    "--states-in \(FilePathBytes.display(statesIn)) has outputs Y of \(states.outputCount) columns, but the test labels have \(test.classCount) classes; the outputs must be the network's class scores"
                )
            }
        } else {
            let train = try FashionMNIST.load(.train, scaling: .unit, as: Float.self)
            guard sampleCount <= train.count else {
                throw ValidationError(
                    "--samples \(sampleCount) is larger than the training set (\(train.count) images); use at most \(train.count)"
                )
            }
            var g = SeededGenerator(seed: seed)
            let teacher = Sequential<Float>.mlp([784, 64, 32, 16, 10], bias: false, using: &g)
            let opt = try Adam(teacher.parameters, learningRate: 0.01)
            _ = try trainClassifier(
                teacher, optimizer: opt, train: train, test: test, epochs: teacherEpochs, batchSize: 128,
                generator: &g, progress: out.progressStyle
            ) { r in
                out.say(
                    "teacher epoch \(r.epoch): loss \(formatFixed(r.loss, decimals: 4)), test accuracy \(formatFixed(100 * r.testAccuracy!, decimals: 2)) %"
                )
            }
            let factors = try rescaleForWellPosedness(teacher, kappa: kappa)
            teacherAccuracy = try evaluateAccuracy(teacher, test)
            teacherNonzeros = teacher.parameters.reduce(0) { $0 + $1.value.count - $1.value.zeroCount }
            out.say(
                "teacher: \(formatFixed(100 * teacherAccuracy!, decimals: 2)) %, \(teacherNonzeros!) weights; layers rescaled by \(factors.map { formatScalar($0, digits: 3) })"
            )
            let subset = try train.randomSubset(sampleCount, using: &g)
            states = try StateExtraction.states(of: teacher, inputs: subset.inputs).converted(to: Double.self)
            if let statesOut {
                try createParentDirectory(of: statesOut)
                try states.save(to: URL(fileURLWithPath: statesOut))
                out.say("saved states to \(FilePathBytes.display(statesOut))")
            }
        }
        let method = makeSolver()
        let bar = ProgressReporter("SIM rows", total: states.stateCount + states.outputCount, style: out.progressStyle)
        let start = monotonicSeconds()
        let fit = try method.fit(states) { done, _ in bar.update(completed: done) }
        let fitSeconds = monotonicSeconds() - start
        bar.finish()
        let model = try SIMModel(fit)
        let evalStart = monotonicSeconds()
        let scores = try model.predict(test.inputs.converted(to: Double.self))
        let evalSeconds = monotonicSeconds() - evalStart
        let accuracy = try Metrics.accuracy(scores, test.labels)
        for w in fit.report.warnings { out.say("warning: \(w)") }
        out.say(
            "\(method.name): test accuracy \(formatFixed(100 * accuracy, decimals: 2)) %, fit \(formatFixed(fitSeconds, decimals: 2)) s, evaluation of \(test.count) images \(formatFixed(evalSeconds, decimals: 3)) s"
        )
        out.say(model.summary)
        let outputURL = URL(fileURLWithPath: output)
        try createParentDirectory(of: output)
        try model.implicitModel.save(to: outputURL)
        out.say("saved \(FilePathBytes.display(outputURL.path))")
        var figures: [String: Any] = [
            "test_accuracy": accuracy, "nonzeros": model.nonzeros, "norm_A_inf": Double(fit.A.infinityNorm),
            "fit_seconds": fitSeconds, "eval_seconds": evalSeconds, "solver": method.name, "model": outputURL.path,
        ]
        if let teacherAccuracy { figures["teacher_accuracy"] = teacherAccuracy }
        if let teacherNonzeros { figures["teacher_nonzeros"] = teacherNonzeros }
        try out.emit(figures)
    }
}
