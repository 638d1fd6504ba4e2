// How cost grows: ImplicitModel training-step time for n ∈ {50, 100, 200, 400, 800, 1600} ×
// batch ∈ {32, 64, 256} (FashionMNIST, Float, Adam 5e-3, Picard), each beside the GEMM-bound
// time of its own products (ImplicitStepCost), and SIM fit time (exact solver, the `idl bench`
// setting) for 500 … 8 000 samples. Writes, with --output DIR:
//
//     DIR/performance/step-scaling.{md,csv,png}   ms/step against n, one curve per batch (log-log)
//     DIR/performance/sim-scaling.{md,csv,png}    fit seconds against samples (log-log)
//
// The torchidl columns come from the reference table (--reference FILE, default
// results/reference/reference.csv): the rows `results/reference/measure.py scaling` wrote on
// this CPU (their machine begins with this CPU's name), of the latest date that has any. No
// Python is run from here: the reference is measured once, alone on the machine (torch would
// share the cores with us otherwise), and the table keeps its machine and date beside it. Where
// no row of this CPU exists the columns say "not measured on this CPU".
//
// Run it alone on a quiet machine (every figure is a wall-clock time; the user CPU time is
// printed beside it):
//
//     python3 results/reference/measure.py scaling                  # torchidl's grid, first
//     swift run -c release scaling-bench --output results            # full grid
//     swift run -c release scaling-bench --quick --output /tmp/scale  # small grid, ~1 min
import ExperimentSupport
import Foundation
import IDL
import IDLPlot

useLineBufferedStandardOutput()

let options = ExperimentOptions.parseOrExit(
    values: ["--output", "--steps", "--reference"], flags: ["--quick", "--skip-sim"])
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

/// Prints `message` on standard error and exits with status 2.
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("scaling-bench: \(message)\n".utf8))
    exit(2)
}

/// torchidl's figures of this CPU from the reference table: workload → value, of the latest
/// date with any row of this CPU; nil (and a note) when there are none.
struct TorchidlReference {
    var values: [String: Double] = [:]
    var date = ""
    var machine = ""

    init?(path: String?) {
        let file = path ?? "results/reference/reference.csv"
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            if path != nil {
                fail("cannot read \(file): give the path of a reference.csv written by results/reference/measure.py")
            }
            print("no reference table at \(file) (run from the repository): the torchidl columns stay empty")
            return nil
        }
        let rows: [[String]]
        do { rows = try parseCSV(text) } catch { fail("\(file): \(error)") }
        guard let header = rows.first, let w = header.firstIndex(of: "workload"),
            let r = header.firstIndex(of: "reference"), let f = header.firstIndex(of: "figure"),
            let m = header.firstIndex(of: "machine"), let d = header.firstIndex(of: "date")
        else {
            fail(
                "\(file) lacks the columns workload, reference, figure, machine and date of results/reference/reference.csv"
            )
        }
        let mine = rows.dropFirst().filter {
            $0.count == header.count && $0[r] == "torchidl" && $0[m].hasPrefix(cpuDescription)
                && ($0[w].hasPrefix("ImplicitModel n=") || $0[w].hasPrefix("SIM fit, "))
        }
        guard let latest = mine.map({ $0[d] }).max() else {
            print("\(file) has no torchidl scaling rows of \(cpuDescription): the torchidl columns stay empty")
            return nil
        }
        for row in mine where row[d] == latest {
            if let v = Double(row[f]) { values[row[w]] = v }
            machine = row[m]
        }
        date = latest
    }
}

let reference = TorchidlReference(path: options.string("--reference"))
func torchidl(_ workload: String) -> Double? { reference?.values[workload] }
let notMeasured = "not measured on this CPU"
func cell(_ value: Double?, decimals: Int) -> String {
    value.map { formatFixed($0, decimals: decimals) } ?? notMeasured
}
/// The sample count as the reference table writes it ("2 000").
func samplesLabel(_ m: Int) -> String { m >= 1000 ? "\(m / 1000) \(String(format: "%03d", m % 1000))" : "\(m)" }

print("scaling-bench on \(cpuDescription); OpenBLAS \(blasCoreName) × \(blasThreads) threads; \(steps) steps per point")
if let reference { print("torchidl: \(reference.values.count) figures of \(reference.machine), \(reference.date)") }
let train = try FashionMNIST.load(.train, scaling: .symmetric, as: Float.self)

// MARK: ImplicitModel step

var stepTable = ResultTable(columns: [
    "n", "batch", "ms/step", "user CPU ms/step", "GEMM-bound ms/step", "ratio", "MFLOP/step", "fwd it", "bwd it",
    "torchidl ms/step", "torchidl ÷ ours",
])
stepTable.timingColumns = ["ms/step", "user CPU ms/step", "GEMM-bound ms/step", "ratio"]
var curves = [Int: [(n: Int, ms: Double)]]()
var torchidlCurves = [Int: [(n: Int, ms: Double)]]()
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
        // The step solves its batch in fixed blocks of columns side by side over the workers; its
        // GEMM-bound time is that of the (largest) block's products, the blocks run side by side.
        let blocks = ThreadPolicy.batchBlocks(columns: batch)
        func shapes(_ columns: Int) -> [GEMMShape] {
            ImplicitStepCost.gemms(
                inputDim: 784, outputDim: 10, hiddenDim: n, batch: columns,
                forwardIterations: report.forwardIterations ?? 0, backwardIterations: report.backwardIterations ?? 0)
        }
        let bound =
            1000
            * ImplicitStepCost.gemmBoundSeconds(
                shapes((batch + blocks - 1) / blocks), as: Float.self, repeats: 3, blocks: blocks)
        let flops = shapes(batch).reduce(0) { $0 + $1.flops }
        curves[batch, default: []].append((n, report.msPerStep))
        let theirs = torchidl("ImplicitModel n=\(n), batch \(batch) (ms/step)")
        if let theirs { torchidlCurves[batch, default: []].append((n, theirs)) }
        try stepTable.append([
            String(n), String(batch), formatFixed(report.msPerStep, decimals: 3), formatFixed(cpuMs, decimals: 3),
            formatFixed(bound, decimals: 3), formatFixed(report.msPerStep / bound, decimals: 2),
            formatFixed(flops / 1e6, decimals: 1), formatFixed(report.forwardIterations ?? 0, decimals: 1),
            formatFixed(report.backwardIterations ?? 0, decimals: 1), cell(theirs, decimals: 3),
            cell(theirs.map { $0 / report.msPerStep }, decimals: 1),
        ])
        print(
            "n \(n), batch \(batch): \(formatFixed(report.msPerStep, decimals: 3)) ms/step (user CPU \(formatFixed(cpuMs, decimals: 3))), GEMM-bound \(formatFixed(bound, decimals: 3)) ms, ratio \(formatFixed(report.msPerStep / bound, decimals: 2)), \(formatFixed(flops / 1e6, decimals: 1)) MFLOP, it \(formatFixed(report.forwardIterations ?? 0, decimals: 1))/\(formatFixed(report.backwardIterations ?? 0, decimals: 1))"
        )
    }
}

// MARK: SIM fit

var simTable = ResultTable(columns: [
    "samples", "fit (s)", "user CPU (s)", "stage 1 (s)", "stage 2 (s)", "row-iterations", "nonzeros",
    "torchidl ADMM fit (s)", "torchidl least squares fit (s)",
])
simTable.timingColumns = ["fit (s)", "user CPU (s)", "stage 1 (s)", "stage 2 (s)"]
var simCurve = [(m: Int, s: Double)]()
var admmCurve = [(m: Int, s: Double)]()
var lstsqCurve = [(m: Int, s: Double)]()
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
        let fit = try solver.fit(states)
        let seconds = monotonicSeconds() - start
        let cpu = userSeconds() - cpu0
        let model = try SIMModel(fit)
        let r = fit.report
        let rowIterations = (r.stage1Rows + r.stage2Rows).map(\.iterations).reduce(0, +)
        simCurve.append((samples, seconds))
        let admm = torchidl("SIM fit, \(samplesLabel(samples)) samples (admm)")
        let lstsq = torchidl("SIM fit, \(samplesLabel(samples)) samples (lstsq)")
        if let admm { admmCurve.append((samples, admm)) }
        if let lstsq { lstsqCurve.append((samples, lstsq)) }
        try simTable.append([
            String(samples), formatFixed(seconds, decimals: 2), formatFixed(cpu, decimals: 2),
            formatFixed(r.stage1Seconds, decimals: 2), formatFixed(r.stage2Seconds, decimals: 2), String(rowIterations),
            String(model.nonzeros), cell(admm, decimals: 2), cell(lstsq, decimals: 2),
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
    let torchidlSource =
        reference.map {
            "torchidl: results/reference/reference.csv, measured by results/reference/measure.py scaling on \($0.machine), \($0.date)"
        } ?? "torchidl: \(notMeasured) (run results/reference/measure.py scaling where torchidl is installed)"
    stepTable.footnote =
        "GEMM-bound: the step's matrix products (from n, the batch and the mean fixed-point iterations) timed alone, back to back (ImplicitStepCost); ratio = ms/step ÷ GEMM-bound. \(torchidlSource); its step time is the mean of 50 steps after 3 untimed ones."
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
    for batch in batchSizes {
        guard let c = torchidlCurves[batch], !c.isEmpty else { continue }
        try plot.add(
            x: c.map { Double($0.n) }, y: c.map { $0.ms }, label: "torchidl, batch \(batch)", marker: .square,
            dashed: true)
    }
    try plot.write(to: output.appendingPathComponent("step-scaling.png"))
    if !simCurve.isEmpty {
        simTable.footnote =
            "Ours: exact solver (λ_state 35, λ_output 1, λ₂ 2, tolerance 1e-4, ‖A‖∞ ≤ 0.99), states of a 784-64-32-16-10 teacher in Double; row-iterations: FISTA iterations summed over the rows of both stages. \(torchidlSource); its ADMM runs 150 + 60 epochs (λ 1, ρ 1), its least squares has no sparsity and no ‖A‖∞ bound."
        try simTable.write(
            to: output.appendingPathComponent("sim-scaling"), caption: "SIM fit time against samples, on \(machine).")
        var sim = LinePlot(title: "SIM fit time", xLabel: "samples", yLabel: "seconds", logY: true)
        sim.logX = true
        try sim.add(x: simCurve.map { Double($0.m) }, y: simCurve.map { $0.s }, label: "exact solver (ours)")
        if !admmCurve.isEmpty {
            try sim.add(
                x: admmCurve.map { Double($0.m) }, y: admmCurve.map { $0.s }, label: "torchidl ADMM", marker: .square,
                dashed: true)
        }
        if !lstsqCurve.isEmpty {
            try sim.add(
                x: lstsqCurve.map { Double($0.m) }, y: lstsqCurve.map { $0.s }, label: "torchidl least squares",
                marker: .triangle, dashed: true)
        }
        try sim.write(to: output.appendingPathComponent("sim-scaling.png"))
    }
    print("wrote \(output.path)/step-scaling.{md,csv,png} and sim-scaling.{md,csv,png}")
}
