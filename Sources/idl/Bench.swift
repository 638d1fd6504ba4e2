import ArgumentParser
import Foundation
import IDL

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure the speed figures: GEMM throughput, implicit-model and MLP training steps.",
        discussion: """
            Each figure is the median of several runs (release build advised: swift run -c release idl bench). \
            For the full benchmarks with side-by-side references, run the executables under Experiments/ \
            (gemm-bench, implicit-bench, mlp-bench, sim-bench).

            With --json the last line is a JSON object with the keys sgemm_gflops_2048, \
            dgemm_gflops_2048, implicit_ms_per_step, mlp_seconds_per_epoch, sim_fit_seconds, \
            sim_eval_seconds, blas_kernels, blas_threads.
            """
    )

    @Option(help: "Repetitions per figure (the median is reported).") var repeats = 3
    @Option(help: "Training steps timed for the implicit model (FashionMNIST, n = 100, batch 64).") var steps = 300
    @Flag(help: "Skip the SIM figures (they train a teacher first, ~20 s).") var skipSim = false
    @Option(help: "Also write the table DIR/performance.{md,csv} (experiment 7).") var output: String?
    @OptionGroup var out: OutputOptions

    func median(_ xs: [Double]) -> Double {
        let s = xs.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    func gemmGFlops<T: BLASScalar>(_: T.Type, n: Int) -> Double {
        var g = SeededGenerator(seed: 1)
        let a = Matrix<T>.randomNormal(n, n, using: &g)
        let b = Matrix<T>.randomNormal(n, n, using: &g)
        var c = Matrix<T>(rows: n, cols: n)
        gemm(a, b, into: &c)
        let times = (0..<max(1, repeats)).map { _ -> Double in
            let t0 = monotonicSeconds()
            gemm(a, b, into: &c)
            return monotonicSeconds() - t0
        }
        return 2 * pow(Double(n), 3) / median(times) / 1e9
    }

    func validate() throws {
        try NumberRule.check("--repeats", repeats, atLeast: 1)
        try NumberRule.check("--steps", steps, atLeast: 1)
    }

    func run() throws {
        try RunFiles.check(RunFile.directory("--output", output, files: ["performance.md", "performance.csv"]))
        let s = gemmGFlops(Float.self, n: 2048)
        let d = gemmGFlops(Double.self, n: 2048)
        out.say(
            "GEMM 2048: \(formatFixed(s, decimals: 1)) GFLOP/s (Float), \(formatFixed(d, decimals: 1)) GFLOP/s (Double); OpenBLAS \(blasCoreName) × \(blasThreads) threads"
        )

        let (train, _) = try FashionMNIST.loadTrainAndTest(scaling: .symmetric, as: Float.self)
        var implicitTimes = [Double]()
        for r in 0..<repeats {
            var g = SeededGenerator(seed: UInt64(r))
            let model = try ImplicitModel<Float>(inputDim: 784, outputDim: 10, hiddenDim: 100, using: &g)
            let opt = try Adam(model.parameters, learningRate: 5e-3)
            let reports = try trainClassifier(
                model, optimizer: opt, train: train, epochs: 1, batchSize: 64,
                generator: &g, solveLog: model.log, stepsPerEpoch: steps)
            implicitTimes.append(reports[0].msPerStep)
        }
        let implicitMs = median(implicitTimes)
        out.say("ImplicitModel n=100, batch 64, first \(steps) steps: \(formatFixed(implicitMs, decimals: 2)) ms/step")

        let unit = try FashionMNIST.load(.train, scaling: .unit, as: Float.self)
        var mlpTimes = [Double]()
        for r in 0..<repeats {
            var g = SeededGenerator(seed: UInt64(r))
            let mlp = Sequential<Float>.mlp([784, 64, 32, 16, 10], bias: false, using: &g)
            let opt = try Adam(mlp.parameters, learningRate: 0.01)
            let reports = try trainClassifier(
                mlp, optimizer: opt, train: unit, epochs: 1, batchSize: 128, generator: &g)
            mlpTimes.append(reports[0].seconds)
        }
        let mlpSeconds = median(mlpTimes)
        out.say("MLP 784-64-32-16-10, batch 128: \(formatFixed(mlpSeconds, decimals: 2)) s/epoch")
        var figures: [String: Any] = [
            "sgemm_gflops_2048": s, "dgemm_gflops_2048": d, "implicit_ms_per_step": implicitMs,
            "mlp_seconds_per_epoch": mlpSeconds, "blas_kernels": blasCoreName, "blas_threads": blasThreads,
        ]
        if !skipSim {
            // The SIM benchmark's setting (see `idl sim --help`): teacher, states of 2 000 images, exact solver.
            var g = SeededGenerator(seed: 0)
            let teacher = Sequential<Float>.mlp([784, 64, 32, 16, 10], bias: false, using: &g)
            let opt = try Adam(teacher.parameters, learningRate: 0.01)
            _ = try trainClassifier(teacher, optimizer: opt, train: unit, epochs: 5, batchSize: 128, generator: &g)
            try rescaleForWellPosedness(teacher, kappa: 0.99)
            let states = try StateExtraction.states(of: teacher, inputs: try unit.randomSubset(2000, using: &g).inputs)
                .converted(to: Double.self)
            let solver = SIMExactSolver(
                lambdaState: 35, lambdaOutput: 1, lambda2: 2, tolerance: 1e-4, zeroThreshold: 1e-8,
                regenerateStates: true)
            let start = monotonicSeconds()
            let model = try SIMModel(try solver.fit(states))
            let fitSeconds = monotonicSeconds() - start
            let test = try FashionMNIST.load(.test, scaling: .unit, as: Double.self)
            let evalStart = monotonicSeconds()
            _ = try model.predict(test.inputs)
            let evalSeconds = monotonicSeconds() - evalStart
            out.say(
                "SIM exact solver, 2 000 samples: fit \(formatFixed(fitSeconds, decimals: 2)) s, evaluation of 10 000 images \(formatFixed(evalSeconds, decimals: 3)) s"
            )
            figures["sim_fit_seconds"] = fitSeconds
            figures["sim_eval_seconds"] = evalSeconds
        }
        if let output {
            try AtomicFile.createDirectories(URL(fileURLWithPath: output))
            try writeTable(figures, to: URL(fileURLWithPath: output))
        }
        try out.emit(figures)
    }

    /// Experiment 7: the speed figures beside the reference implementation's on this machine.
    func writeTable(_ figures: [String: Any], to directory: URL) throws {
        #if DEBUG
            let mode = "debug"
        #else
            let mode = "release"
        #endif
        var table = ResultTable(columns: ["workload", "this package", "reference (same machine)"])
        table.timingColumns = ["this package"]
        func value(_ key: String, _ digits: Int) -> String {
            (figures[key] as? Double).map { formatFixed($0, decimals: digits) } ?? "—"
        }
        try table.append(["sgemm 2048 (GFLOP/s)", value("sgemm_gflops_2048", 1), "numpy ≈310 (gemm-bench runs both)"])
        try table.append(["dgemm 2048 (GFLOP/s)", value("dgemm_gflops_2048", 1), "numpy ≈147"])
        try table.append([
            "ImplicitModel n=100, batch 64, first \(steps) steps (ms/step)", value("implicit_ms_per_step", 2),
            "torchidl ≈1.6 early, ≈15 averaged over 10 epochs",
        ])
        try table.append([
            "MLP 784-64-32-16-10, batch 128 (s/epoch)", value("mlp_seconds_per_epoch", 2), "PyTorch ≈4.7",
        ])
        if !skipSim {
            try table.append([
                "SIM fit, 2 000 samples, both stages (s)", value("sim_fit_seconds", 2), "torchidl ADMM 31",
            ])
            try table.append(["SIM evaluation of 10 000 images (s)", value("sim_eval_seconds", 3), "torchidl 59"])
        }
        try table.write(
            to: directory.appendingPathComponent("performance"),
            caption:
                "Speed figures (median of \(repeats) runs) on \(ProcessInfo.processInfo.activeProcessorCount) cores, \(mode) build, OpenBLAS \(blasCoreName) kernels × \(blasThreads) threads. Reference figures: DESIGN.md section 2, measured on the same machine. Full benchmarks: gemm-bench, implicit-bench, mlp-bench, rnn-bench, sim-fashion."
        )
    }
}
