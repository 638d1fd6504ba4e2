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

            With --json the last line is a JSON object with the keys cpu, sgemm_gflops_2048, \
            dgemm_gflops_2048, implicit_ms_per_step, step_ms, step_roofline_ms, step_flops, \
            mlp_seconds_per_epoch, sim_fit_seconds, sim_eval_seconds, sparse_speedup_at_20pct, \
            blas_kernels, blas_threads, blas_threads_policy, sparse_kernels (the instruction set of the \
            sparse products: AVX-512, AVX2+FMA or baseline, chosen from the CPU's feature flags).

            step_roofline_ms is the GEMM-bound time of one ImplicitModel step: the step's matrix \
            products (from the dimensions and the mean fixed-point iterations) timed alone, back to \
            back, in the step's fixed blocks of batch columns run side by side over the workers as \
            the step runs them; step_ms / step_roofline_ms says how far the step is from it.
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
        out.say(
            "CPU: \(cpuDescription); BLAS kernels: \(blasCoreName); sparse kernels: \(sparseKernelInstructionSet); thread policy: \(threadPolicy)"
        )
        let s = gemmGFlops(Float.self, n: 2048)
        let d = gemmGFlops(Double.self, n: 2048)
        out.say(
            "GEMM 2048: \(formatFixed(s, decimals: 1)) GFLOP/s (Float), \(formatFixed(d, decimals: 1)) GFLOP/s (Double)"
        )

        let (train, _) = try FashionMNIST.loadTrainAndTest(scaling: .symmetric, as: Float.self)
        var implicitTimes = [Double]()
        var iterations = (forward: [Double](), backward: [Double]())
        for r in 0..<repeats {
            var g = SeededGenerator(seed: UInt64(r))
            let model = try ImplicitModel<Float>(inputDim: 784, outputDim: 10, hiddenDim: 100, using: &g)
            let opt = try Adam(model.parameters, learningRate: 5e-3)
            let reports = try trainClassifier(
                model, optimizer: opt, train: train, epochs: 1, batchSize: 64,
                generator: &g, solveLog: model.log, stepsPerEpoch: steps)
            implicitTimes.append(reports[0].msPerStep)
            iterations.forward.append(reports[0].forwardIterations ?? 0)
            iterations.backward.append(reports[0].backwardIterations ?? 0)
        }
        let implicitMs = median(implicitTimes)
        // The step runs its batch in fixed blocks over the workers: its GEMM-bound time is that of
        // one block's products, the blocks side by side.
        let blocks = ThreadPolicy.batchBlocks(columns: 64)
        let shapes = ImplicitStepCost.gemms(
            inputDim: 784, outputDim: 10, hiddenDim: 100, batch: 64 / blocks,
            forwardIterations: median(iterations.forward), backwardIterations: median(iterations.backward))
        let rooflineMs =
            1000 * ImplicitStepCost.gemmBoundSeconds(shapes, as: Float.self, repeats: max(3, repeats), blocks: blocks)
        let stepFlops = Double(blocks) * shapes.reduce(0) { $0 + $1.flops }
        out.say(
            "ImplicitModel n=100, batch 64, first \(steps) steps: \(formatFixed(implicitMs, decimals: 2)) ms/step; its GEMMs alone (\(formatFixed(stepFlops / 1e6, decimals: 1)) MFLOP in \(blocks) block\(blocks == 1 ? "" : "s") of columns over \(ThreadPolicy.workers) worker\(ThreadPolicy.workers == 1 ? "" : "s"), \(formatFixed(stepFlops / rooflineMs / 1e6, decimals: 1)) GFLOP/s): \(formatFixed(rooflineMs, decimals: 3)) ms; step / GEMM-bound = \(formatFixed(implicitMs / rooflineMs, decimals: 2))"
        )

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
        let sparseSpeedup = try sparseSpeedup(density: 0.2)
        out.say(
            "SIM-shaped model (n = 112, p = 785, 20 % nonzeros), 2 000 samples: sparse inference \(formatFixed(sparseSpeedup, decimals: 2))× the speed of dense"
        )
        var figures: [String: Any] = [
            "cpu": cpuDescription, "sgemm_gflops_2048": s, "dgemm_gflops_2048": d,
            "implicit_ms_per_step": implicitMs, "step_ms": implicitMs, "step_roofline_ms": rooflineMs,
            "step_flops": stepFlops, "mlp_seconds_per_epoch": mlpSeconds, "sparse_speedup_at_20pct": sparseSpeedup,
            "blas_kernels": blasCoreName, "blas_threads": blasThreads, "blas_threads_policy": threadPolicy,
            "sparse_kernels": sparseKernelInstructionSet,
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

    /// The thread policy in force (``ThreadPolicy``): OpenBLAS on one thread, large products split
    /// into fixed tiles over our own workers.
    var threadPolicy: String { ThreadPolicy.description }

    /// Dense time / sparse time of inference with a random SIM-shaped model (n = 112 states,
    /// p = 785 inputs with the constant row, q = 10) whose A, B, C, D have `density` nonzeros,
    /// on 2 000 Double samples; the median of `repeats` runs of each.
    func sparseSpeedup(density: Double) throws -> Double {
        var g = SeededGenerator(seed: 3)
        func sparse(_ rows: Int, _ cols: Int, scale: Double) -> Matrix<Double> {
            var m = Matrix<Double>.randomNormal(rows, cols, scale: scale, using: &g)
            for k in 0..<m.count where g.uniform() >= density { m.storage[k] = 0 }
            return m
        }
        let a = sparse(112, 112, scale: 1).scaledIntoInfinityBall(radius: 0.5)
        let fit = SIMFit(
            A: a, B: sparse(112, 784, scale: 0.05), C: sparse(10, 112, scale: 0.1), D: sparse(10, 784, scale: 0.05),
            report: SIMReport())
        let model = try SIMModel(fit)
        let u = Matrix<Double>.randomNormal(784, 2000, using: &g)
        var dense = [Double]()
        var sparseTimes = [Double]()
        for _ in 0..<max(1, repeats) {
            var t0 = monotonicSeconds()
            _ = try model.implicitModel.predict(u)
            dense.append(monotonicSeconds() - t0)
            t0 = monotonicSeconds()
            _ = try model.predictSparse(u)
            sparseTimes.append(monotonicSeconds() - t0)
        }
        return median(dense) / median(sparseTimes)
    }

    /// Experiment 7: the speed figures beside the reference implementation's on this machine.
    func writeTable(_ figures: [String: Any], to directory: URL) throws {
        #if DEBUG
            let mode = "debug"
        #else
            let mode = "release"
        #endif
        var table = ResultTable(columns: ["workload", "this package", "reference (machine, date)"])
        table.timingColumns = ["this package"]
        func value(_ key: String, _ digits: Int) -> String {
            (figures[key] as? Double).map { formatFixed($0, decimals: digits) } ?? "—"
        }
        try table.append([
            "sgemm 2048 (GFLOP/s)", value("sgemm_gflops_2048", 1),
            "numpy 310 (Intel Xeon AVX-512, 2026-11; gemm-bench measures both side by side)",
        ])
        try table.append([
            "dgemm 2048 (GFLOP/s)", value("dgemm_gflops_2048", 1), "numpy 147 (Intel Xeon AVX-512, 2026-11)",
        ])
        try table.append([
            "ImplicitModel n=100, batch 64, first \(steps) steps (ms/step)", value("implicit_ms_per_step", 2),
            "torchidl ≈1.6 early, ≈15 averaged over 10 epochs (Intel Xeon AVX-512, 2026-11); 5.75 in epoch 1, 10.68 over 10 epochs (AMD EPYC Zen 3, 2026-12-02)",
        ])
        try table.append([
            "same, GEMM-bound time of its products alone (ms/step)", value("step_roofline_ms", 3), "—",
        ])
        let ratio = (figures["step_ms"] as? Double).flatMap { step in
            (figures["step_roofline_ms"] as? Double).map { step / $0 }
        }
        try table.append([
            "same, step time / GEMM-bound time", ratio.map { formatFixed($0, decimals: 2) } ?? "—", "—",
        ])
        try table.append([
            "MLP 784-64-32-16-10, batch 128 (s/epoch)", value("mlp_seconds_per_epoch", 2),
            "PyTorch 4.7 (Intel Xeon AVX-512, 2026-11); 1.35 (AMD EPYC Zen 3, 2026-12-02)",
        ])
        try table.append([
            "sparse inference speed-up at 20 % nonzeros (dense time / sparse time)",
            value("sparse_speedup_at_20pct", 2), "—",
        ])
        if !skipSim {
            try table.append([
                "SIM fit, 2 000 samples, both stages (s)", value("sim_fit_seconds", 2),
                "torchidl ADMM 31 (Intel Xeon AVX-512, 2026-11)",
            ])
            try table.append([
                "SIM evaluation of 10 000 images (s)", value("sim_eval_seconds", 3),
                "torchidl 59 (Intel Xeon AVX-512, 2026-11)",
            ])
        }
        try table.write(
            to: directory.appendingPathComponent("performance"),
            caption:
                "Speed figures (median of \(repeats) runs) on \(ProcessInfo.processInfo.activeProcessorCount) cores, \(mode) build, \(RunManifest.current().cpuModel), thread policy: \(ThreadPolicy.description). Reference figures: results/reference/reference.csv, measured on the machine and date given beside each — compare them with ours only on the same machine. Full benchmarks: gemm-bench, implicit-bench, mlp-bench, rnn-bench, sim-fashion."
        )
    }
}
