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

            --states-in skips the teacher and fits saved states (written before with --states-out). \
            --teacher FILE.safetensors --activation relu fits your own PyTorch network instead (a state_dict \
            of nn.Linear layers, with or without biases; see `idl predict --help`): its FashionMNIST test \
            accuracy is reported as computed here, a ReLU teacher is rescaled as above, and its states are \
            collected on --samples random training images (pixels in [0, 1]). Biases become a constant-one \
            input row; the saved model appends it by itself.

            --preset torchidl starts every solver setting from torchidl's defaults instead of ours.

            --b-cap, --c-cap and --d-cap (exact solver) cap the ℓ1 norm of every row of B, C and D, for \
            a fit aimed at robustness: the certified ℓ∞ Lipschitz constant ‖C‖∞‖B‖∞/(1 − ‖A‖∞) + ‖D‖∞ \
            is then at most c·b/(1 − κ) + d (a smaller --kappa helps too).

            With --json the last line is a JSON object with the keys teacher_accuracy, test_accuracy, \
            nonzeros, teacher_nonzeros, norm_A_inf, well_posed, fit_seconds, eval_seconds, solver, model.
            """
    )

    @Option(help: "Solver: exact, least-squares, admm, low-rank.") var solver = SIMSolverName.exact
    @Option(
        help:
            "Defaults of the solver settings: tuned (ours, see above) or torchidl (torchidl's own: λ 1e-6, zero threshold 1e-6, no regeneration, ADMM 1000/100 iterations with ρ 10/10 and 100-row batches, low-rank full rank and 10 000 epochs). Flags given explicitly override either."
    )
    var preset = "tuned"
    @Option(help: "λ for the state rows (A, B) (tuned 35).") var lambdaState: Double?
    @Option(help: "λ for the output rows (C, D) (tuned 1).") var lambdaOutput: Double?
    @Option(help: "Elastic-net weight λ₂ (exact and ADMM solvers; tuned 2).") var lambda2: Double?
    @Option(help: "Radius κ of ‖A‖∞ ≤ κ.") var kappa = 0.99
    @Flag(help: "Keep A strictly upper triangular instead of bounding ‖A‖∞.") var triangular = false
    @Option(help: "Exact solver: cap every row's ℓ1 norm of B (‖B‖∞ ≤ cap), for robustness.") var bCap: Double?
    @Option(help: "Exact solver: cap every row's ℓ1 norm of C (‖C‖∞ ≤ cap), for robustness.") var cCap: Double?
    @Option(help: "Exact solver: cap every row's ℓ1 norm of D (‖D‖∞ ≤ cap), for robustness.") var dCap: Double?
    @Option(help: "Relative duality-gap tolerance of the exact solver (tuned 1e-4).") var tolerance: Double?
    @Option(help: "Weights with |w| below this become exact zeros (tuned 1e-8).") var zeroThreshold: Double?
    @Flag(inversion: .prefixedNo, help: "Fit C, D on states regenerated with the fitted A, B (tuned: on).")
    var regenStates: Bool?
    @Option(help: "Rank of A for the low-rank solver (tuned 10).") var rank: Int?
    @Option(help: "ADMM: ρ of stage 1 (A, B).") var rho: Double?
    @Option(help: "ADMM: ρ of stage 2 (C, D).") var rhoOutput: Double?
    @Option(help: "ADMM: iteration budget of stage 1 (A, B).") var admmIterations: Int?
    @Option(help: "ADMM: iteration budget of stage 2 (C, D).") var admmIterationsOutput: Int?
    @Option(help: "ADMM: target rows solved together.") var batchFeatureSize: Int?
    @Option(help: "ADMM: write the objective per iteration of both stages as a figure (.png).") var lossPlot: String?
    @Option(help: "Picard tolerance (largest entry change) of regeneration and inference (torchidl's atol).")
    var atol: Double?
    @Option(help: "Picard iteration budget of regeneration and inference.") var maxIterations = 2000
    @Option(help: "Training images whose states are collected (default 2000; at most the 60 000 training images).")
    var samples: Int?
    var sampleCount: Int { samples ?? 2000 }
    @Option(help: "Teacher training epochs.") var teacherEpochs = 5
    @Option(help: "Random seed.") var seed: UInt64 = 0
    @Option(help: "Save the collected states (.safetensors).") var statesOut: String?
    @Option(help: "Fit these saved states instead of training a teacher.") var statesIn: String?
    @Option(help: "Fit this PyTorch teacher (a .safetensors state_dict of nn.Linear layers) instead of training one.")
    var teacher: String?
    @Option(help: "The teacher's activation (relu, tanh, sigmoid, softplus, leaky-relu[:SLOPE]); with --teacher.")
    var activation: String?
    @Option(help: "Where to save the fitted model (.safetensors, loadable by `idl predict`).") var output =
        "results/sim-model.safetensors"
    @Flag(
        help:
            "Fit on the processes mpirun started (mpirun -np K idl sim --distributed --states-in FILE; exact solver): each solves a fixed share of the rows, rank 0 writes the model, the same bits as one process."
    )
    var distributed = false
    @Flag(
        help:
            "With --distributed: each rank reads only its share of the samples of --states-in, and the ranks fit the exact solver's problem by consensus ADMM over the shards (for states larger than one machine; close to the exact fit, not the same bits). --rho sets ρ at the start of each stage, --admm-iterations the budget per stage."
    )
    var shardSamples = false
    @Option(help: "With --shard-samples: relative tolerance of ADMM's primal and dual residual test (default 3e-4).")
    var admmTolerance: Double?
    @OptionGroup var out: OutputOptions

    /// `--solver`: any other value is refused by the parser with the list of choices.
    enum SIMSolverName: String, CaseIterable, ExpressibleByArgument {
        case exact
        case leastSquares = "least-squares"
        case admm
        case lowRank = "low-rank"
    }

    func validate() throws {
        guard ["tuned", "torchidl"].contains(preset) else {
            throw ValidationError("unknown --preset '\(preset)'; use tuned or torchidl")
        }
        try NumberRule.openUnitInterval.check("--kappa", kappa)
        if let lambdaState { try NumberRule.nonNegative.check("--lambda-state", lambdaState) }
        if let lambdaOutput { try NumberRule.nonNegative.check("--lambda-output", lambdaOutput) }
        if let lambda2 { try NumberRule.nonNegative.check("--lambda2", lambda2) }
        for (flag, cap) in [("--b-cap", bCap), ("--c-cap", cCap), ("--d-cap", dCap)] {
            guard let cap else { continue }
            try NumberRule.positive.check(flag, cap)
            if solver != .exact {
                throw ValidationError(
                    "\(flag) caps rows in the exact solver's row problems; use it with --solver exact")
            }
        }
        if let tolerance { try NumberRule.positive.check("--tolerance", tolerance) }
        if let zeroThreshold { try NumberRule.nonNegative.check("--zero-threshold", zeroThreshold) }
        if let rank { try NumberRule.check("--rank", rank, atLeast: 1) }
        if let samples { try NumberRule.check("--samples", samples, atLeast: 1) }
        try NumberRule.check("--teacher-epochs", teacherEpochs, atLeast: 1)
        if let atol { try NumberRule.positive.check("--atol", atol) }
        try NumberRule.check("--max-iterations", maxIterations, atLeast: 1)
        if let rho { try NumberRule.positive.check("--rho", rho) }
        if let rhoOutput { try NumberRule.positive.check("--rho-output", rhoOutput) }
        if let admmIterations { try NumberRule.check("--admm-iterations", admmIterations, atLeast: 1) }
        if let admmIterationsOutput {
            try NumberRule.check("--admm-iterations-output", admmIterationsOutput, atLeast: 1)
        }
        if let batchFeatureSize { try NumberRule.check("--batch-feature-size", batchFeatureSize, atLeast: 1) }
        if teacher != nil && statesIn != nil {
            throw ValidationError("--teacher and --states-in both name what to fit; give one")
        }
        if activation != nil && teacher == nil {
            throw ValidationError("--activation names the activation of a --teacher file; give --teacher too")
        }
        if let activation { _ = try parseActivation(activation) }
        if let admmTolerance {
            try NumberRule.positive.check("--admm-tolerance", admmTolerance)
            if !shardSamples {
                throw ValidationError("--admm-tolerance is the stopping rule of --shard-samples; add it")
            }
        }
        if shardSamples {
            guard distributed else {
                throw ValidationError(
                    "--shard-samples splits the samples among the ranks of a distributed run; add --distributed and start it with mpirun"
                )
            }
            for (flag, given) in [
                ("--tolerance", tolerance != nil), ("--rho-output", rhoOutput != nil),
                ("--admm-iterations-output", admmIterationsOutput != nil),
                ("--batch-feature-size", batchFeatureSize != nil), ("--loss-plot", lossPlot != nil),
            ] where given {
                throw ValidationError(
                    "\(flag) does not apply to --shard-samples (consensus ADMM over sample shards, stopped by --admm-tolerance and --admm-iterations); drop it"
                )
            }
        }
        if lossPlot != nil && solver != .admm {
            throw ValidationError("--loss-plot draws the ADMM objective; use it with --solver admm")
        }
    }

    func makeSolver() -> any SIMSolver {
        let torchidl = preset == "torchidl"
        let constraint: SIMWellPosedness = triangular ? .strictlyUpperTriangular : .infinityNorm(kappa: kappa)
        let equilibrium = SIMEquilibriumSettings(tolerance: atol, maxIterations: maxIterations)
        switch solver {
        case .leastSquares:
            var s = torchidl ? SIMLeastSquaresSolver.torchidlDefaults : SIMLeastSquaresSolver(regenerateStates: true)
            s.wellPosedness = .unconstrained
            if let zeroThreshold { s.zeroThreshold = zeroThreshold }
            if let regenStates { s.regenerateStates = regenStates }
            s.equilibrium = equilibrium
            return s
        case .admm:
            var s =
                torchidl
                ? SIMADMMSolver.torchidlDefaults
                : SIMADMMSolver(
                    lambdaState: 35, lambdaOutput: 1, lambda2: 2, zeroThreshold: 1e-8, regenerateStates: true)
            s.wellPosedness = constraint
            if let lambdaState { s.lambdaState = lambdaState }
            if let lambdaOutput { s.lambdaOutput = lambdaOutput }
            if let lambda2 { s.lambda2 = lambda2 }
            if let zeroThreshold { s.zeroThreshold = zeroThreshold }
            if let regenStates { s.regenerateStates = regenStates }
            if let rho { s.rho = rho }
            if let rhoOutput { s.rhoOutput = rhoOutput }
            if let admmIterations { s.maxIterations = admmIterations }
            if let admmIterationsOutput { s.maxIterationsOutput = admmIterationsOutput }
            if let batchFeatureSize { s.batchFeatureSize = batchFeatureSize }
            s.recordObjective = lossPlot != nil
            s.equilibrium = equilibrium
            return s
        case .lowRank:
            var s =
                torchidl
                ? SIMLowRankSolver.torchidlDefaults
                : SIMLowRankSolver(rank: 10, lambdaState: 35, zeroThreshold: 1e-8, regenerateStates: true)
            s.wellPosedness = constraint
            s.seed = seed
            if let rank { s.rank = rank }
            if let lambdaState { s.lambdaState = lambdaState }
            if let zeroThreshold { s.zeroThreshold = zeroThreshold }
            if let regenStates { s.regenerateStates = regenStates }
            s.equilibrium = equilibrium
            return s
        case .exact:
            var s =
                torchidl
                ? SIMExactSolver.torchidlDefaults
                : SIMExactSolver(
                    lambdaState: 35, lambdaOutput: 1, lambda2: 2, tolerance: 1e-4, zeroThreshold: 1e-8,
                    regenerateStates: true)
            s.wellPosedness = constraint
            if let lambdaState { s.lambdaState = lambdaState }
            if let lambdaOutput { s.lambdaOutput = lambdaOutput }
            if let lambda2 { s.lambda2 = lambda2 }
            if let tolerance { s.tolerance = tolerance }
            if let zeroThreshold { s.zeroThreshold = zeroThreshold }
            if let regenStates { s.regenerateStates = regenStates }
            s.caps = SIMRowCaps(b: bCap, c: cCap, d: dCap)
            s.equilibrium = equilibrium
            return s
        }
    }

    func run() throws {
        if distributed { return try runDistributed() }
        try RunFiles.check(
            RunFile.input("--states-in", statesIn) + RunFile.input("--teacher", teacher)
                + RunFile.output("--states-out", statesOut) + RunFile.output("--loss-plot", lossPlot)
                + RunFile.output("--output", output))
        if statesIn != nil && samples != nil {
            throw ValidationError(
                "--samples applies to the states collected from the teacher, not to --states-in; drop one")
        }
        if statesIn == nil && teacher == nil {
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
        if let teacher {
            let loaded = try teacherStates(
                path: teacher, activation: activation, samples: sampleCount, kappa: kappa, seed: seed, test: test,
                out: out)
            states = loaded.states
            teacherAccuracy = loaded.accuracy
            teacherNonzeros = loaded.nonzeros
            if let statesOut {
                try createParentDirectory(of: statesOut)
                try states.save(to: URL(fileURLWithPath: statesOut))
                out.say("saved states to \(FilePathBytes.display(statesOut))")
            }
        } else if let statesIn {
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
        let model = try SIMModel(fit, states: states, tolerance: atol ?? 1e-6, maxIterations: maxIterations)
        let evalStart = monotonicSeconds()
        let scores = try model.predict(test.inputs.converted(to: Double.self))
        let evalSeconds = monotonicSeconds() - evalStart
        let accuracy = try Metrics.accuracy(scores, test.labels)
        for w in fit.report.warnings { out.say("warning: \(w)") }
        out.say(
            "\(method.name): test accuracy \(formatFixed(100 * accuracy, decimals: 2)) %, fit \(formatFixed(fitSeconds, decimals: 2)) s, evaluation of \(test.count) images \(formatFixed(evalSeconds, decimals: 3)) s"
        )
        out.say(model.summary)
        if let lossPlot {
            try createParentDirectory(of: lossPlot)
            try writeObjectivePlot(fit.report, to: URL(fileURLWithPath: lossPlot))
            out.say("wrote the ADMM objective per iteration to \(FilePathBytes.display(lossPlot))")
        }
        let outputURL = URL(fileURLWithPath: output)
        try createParentDirectory(of: output)
        try model.implicitModel.save(to: outputURL)
        out.say("saved \(FilePathBytes.display(outputURL.path))")
        var figures: [String: Any] = [
            "test_accuracy": accuracy, "nonzeros": model.nonzeros, "norm_A_inf": Double(fit.A.infinityNorm),
            "fit_seconds": fitSeconds, "eval_seconds": evalSeconds, "solver": method.name, "model": outputURL.path,
            "well_posed": fit.report.wellPosednessMet && Double(fit.A.infinityNorm) < 1,
        ]
        if let teacherAccuracy { figures["teacher_accuracy"] = teacherAccuracy }
        if let teacherNonzeros { figures["teacher_nonzeros"] = teacherNonzeros }
        try out.emit(figures)
    }
}
