// How cost grows: ImplicitModel training-step time for n ∈ {50, 100, 200, 400, 800, 1600} ×
// batch ∈ {32, 64, 256} (FashionMNIST, Float, Adam 5e-3, Picard), each beside the GEMM-bound
// time of its own products (ImplicitStepCost), and SIM fit time (exact solver, the `idl bench`
// setting) for 500 … 8 000 samples. Writes, with --output DIR:
//
//     DIR/performance/step-scaling.{md,csv,png}   ms/step against n, one curve per batch (log-log)
//     DIR/performance/sim-scaling.{md,csv,png}    fit seconds against samples (log-log)
//
// The torchidl column holds only figures measured with ../shared/bench/torchidl_bench.py on the
// machine named in the caption; where none was measured it says so.
//
// Run it alone on a quiet machine (every figure is a wall-clock time; the user CPU time is
// printed beside it):
//
//     swift run -c release scaling-bench --output results            # full grid, ~10 min
//     swift run -c release scaling-bench --quick --output /tmp/scale  # small grid, ~1 min
import ExperimentSupport
import Foundation
import IDL
import IDLPlot

useLineBufferedStandardOutput()

let options = ExperimentOptions.parseOrExit(values: ["--output", "--steps"], flags: ["--quick", "--skip-sim"])
let quick = options.flag("--quick")
let hiddenSizes = quick ? [50, 100, 200] : [50, 100, 200, 400, 800, 1600]
let batchSizes = quick ? [32, 64] : [32, 64, 256]
let sampleCounts = quick ? [500, 1000] : [500, 1000, 2000, 4000, 8000]
let steps = options.int("--steps") ?? (quick ? 30 : 100)
let output = options.string("--output").map { URL(fileURLWithPath: $0).appendingPathComponent("performance") }

func userSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
}

print("scaling-bench on \(cpuDescription); OpenBLAS \(blasCoreName) × \(blasThreads) threads; \(steps) steps per point")
let train = try FashionMNIST.load(.train, scaling: .symmetric, as: Float.self)

// MARK: ImplicitModel step

var stepTable = ResultTable(columns: [
    "n", "batch", "ms/step", "user CPU ms/step", "GEMM-bound ms/step", "ratio", "MFLOP/step", "fwd it", "bwd it",
    "torchidl ms/step",
])
stepTable.timingColumns = ["ms/step", "user CPU ms/step", "GEMM-bound ms/step", "ratio"]
var curves = [Int: [(n: Int, ms: Double)]]()
for batch in batchSizes {
    for n in hiddenSizes {
        var g = SeededGenerator(seed: 0)
        let model = try ImplicitModel<Float>(inputDim: 784, outputDim: 10, hiddenDim: n, using: &g)
        let optimizer = try Adam(model.parameters, learningRate: 5e-3)
        // A few untimed steps first (first-touch page faults, BLAS buffers).
        _ = try trainClassifier(
            model, optimizer: optimizer, train: train, epochs: 1, batchSize: batch, generator: &g,
            solveLog: model.log, stepsPerEpoch: 3)
        let cpu0 = userSeconds()
        let report = try trainClassifier(
            model, optimizer: optimizer, train: train, epochs: 1, batchSize: batch, generator: &g,
            solveLog: model.log, stepsPerEpoch: steps)[0]
        let cpuMs = 1000 * (userSeconds() - cpu0) / Double(report.steps)
        let shapes = ImplicitStepCost.gemms(
            inputDim: 784, outputDim: 10, hiddenDim: n, batch: batch,
            forwardIterations: report.forwardIterations ?? 0, backwardIterations: report.backwardIterations ?? 0)
        let bound = 1000 * ImplicitStepCost.gemmBoundSeconds(shapes, as: Float.self, repeats: 3)
        let flops = shapes.reduce(0) { $0 + $1.flops }
        curves[batch, default: []].append((n, report.msPerStep))
        try stepTable.append([
            String(n), String(batch), formatFixed(report.msPerStep, decimals: 3), formatFixed(cpuMs, decimals: 3),
            formatFixed(bound, decimals: 3), formatFixed(report.msPerStep / bound, decimals: 2),
            formatFixed(flops / 1e6, decimals: 1), formatFixed(report.forwardIterations ?? 0, decimals: 1),
            formatFixed(report.backwardIterations ?? 0, decimals: 1), "not measured",
        ])
        print(
            "n \(n), batch \(batch): \(formatFixed(report.msPerStep, decimals: 3)) ms/step (user CPU \(formatFixed(cpuMs, decimals: 3))), GEMM-bound \(formatFixed(bound, decimals: 3)) ms, ratio \(formatFixed(report.msPerStep / bound, decimals: 2)), \(formatFixed(flops / 1e6, decimals: 1)) MFLOP, it \(formatFixed(report.forwardIterations ?? 0, decimals: 1))/\(formatFixed(report.backwardIterations ?? 0, decimals: 1))"
        )
    }
}

// MARK: SIM fit

var simTable = ResultTable(columns: ["samples", "fit (s)", "user CPU (s)", "nonzeros", "torchidl fit (s)"])
simTable.timingColumns = ["fit (s)", "user CPU (s)"]
var simCurve = [(m: Int, s: Double)]()
if !options.flag("--skip-sim") {
    let unit = try FashionMNIST.load(.train, scaling: .unit, as: Float.self)
    var g = SeededGenerator(seed: 0)
    let teacher = Sequential<Float>.mlp([784, 64, 32, 16, 10], bias: false, using: &g)
    let opt = try Adam(teacher.parameters, learningRate: 0.01)
    _ = try trainClassifier(
        teacher, optimizer: opt, train: unit, epochs: quick ? 1 : 5, batchSize: 128, generator: &g)
    try rescaleForWellPosedness(teacher, kappa: 0.99)
    for samples in sampleCounts {
        var pick = SeededGenerator(seed: UInt64(samples))
        let states = try StateExtraction.states(
            of: teacher, inputs: try unit.randomSubset(samples, using: &pick).inputs
        ).converted(to: Double.self)
        let solver = SIMExactSolver(
            lambdaState: 35, lambdaOutput: 1, lambda2: 2, tolerance: 1e-4, zeroThreshold: 1e-8,
            regenerateStates: true)
        let cpu0 = userSeconds()
        let start = monotonicSeconds()
        let model = try SIMModel(try solver.fit(states))
        let seconds = monotonicSeconds() - start
        let cpu = userSeconds() - cpu0
        simCurve.append((samples, seconds))
        try simTable.append([
            String(samples), formatFixed(seconds, decimals: 2), formatFixed(cpu, decimals: 2), String(model.nonzeros),
            "not measured",
        ])
        print(
            "SIM fit, \(samples) samples: \(formatFixed(seconds, decimals: 2)) s (user CPU \(formatFixed(cpu, decimals: 2)) s), \(model.nonzeros) nonzeros"
        )
    }
}

// MARK: Output

if let output {
    let machine =
        "\(cpuDescription), \(ProcessInfo.processInfo.activeProcessorCount) cores, OpenBLAS \(blasCoreName) × \(blasThreads) threads"
    stepTable.footnote =
        "GEMM-bound: the step's matrix products (from n, the batch and the mean fixed-point iterations) timed alone, back to back (ImplicitStepCost); ratio = ms/step ÷ GEMM-bound. torchidl: not measured on this machine (run ../shared/bench/torchidl_bench.py where PyTorch is installed)."
    try stepTable.write(
        to: output.appendingPathComponent("step-scaling"),
        caption:
            "ImplicitModel training step (FashionMNIST, p = 784, q = 10, Float, Adam 5e-3, Picard), \(steps) steps per point, on \(machine)."
    )
    var plot = LinePlot(title: "ImplicitModel step time", xLabel: "hidden size n", yLabel: "ms per step", logY: true)
    plot.logX = true
    for batch in batchSizes {
        let c = curves[batch] ?? []
        try plot.add(x: c.map { Double($0.n) }, y: c.map { $0.ms }, label: "batch \(batch)")
    }
    try plot.write(to: output.appendingPathComponent("step-scaling.png"))
    if !simCurve.isEmpty {
        simTable.footnote =
            "Exact solver (λ_state 35, λ_output 1, λ₂ 2, tolerance 1e-4), states of a 784-64-32-16-10 teacher in Double. torchidl: not measured on this machine."
        try simTable.write(
            to: output.appendingPathComponent("sim-scaling"), caption: "SIM fit time against samples, on \(machine).")
        var sim = LinePlot(title: "SIM fit time", xLabel: "samples", yLabel: "seconds", logY: true)
        sim.logX = true
        try sim.add(x: simCurve.map { Double($0.m) }, y: simCurve.map { $0.s }, label: "exact solver")
        try sim.write(to: output.appendingPathComponent("sim-scaling.png"))
    }
    print("wrote \(output.path)/step-scaling.{md,csv,png} and sim-scaling.{md,csv,png}")
}
