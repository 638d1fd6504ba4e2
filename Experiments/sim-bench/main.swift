// sim-bench: times the exact SIM solver (FISTA + duality gap) on data of the size of the
// MNIST experiment: a random 784-64-32-16-10 ReLU network (no bias) run on m = 2000 inputs,
// states stacked last layer first (n = 16 + 32 + 64 = 112), q = 10 outputs.
//
// Usage: swift run -c release sim-bench [λ …] [--solver exact|admm|lstsq] [--admm-iterations N] [--tol T] [--kappa K] [--runs R]
//        [--block B] [--float]
//        swift run -c release sim-bench --states FILE.safetensors [--runs R] [--block B] [--tol T] [--unscaled]
// Prints, per λ, the median of 3 runs of both stages, rows/s, ‖A‖∞, sparsity and gaps.
// With --states: fits states saved by `idl sim --states-out FILE` with the settings of `idl sim`
// and `idl bench` (exact solver, λ 35 for A and B, 1 for C and D, λ₂ 2, tolerance 1e-4, zero
// threshold 1e-8, regenerated states) and times the evaluation of the 10 000 FashionMNIST test
// images — the SIM part of `idl bench` without training the teacher.
import Foundation
import IDL

func relu<T: BLASScalar>(_ m: Matrix<T>) -> Matrix<T> { m.map { Swift.max($0, 0) } }

struct Options {
    var lambdas: [Double] = [0.01, 0.1, 1.0]
    var tolerance = 1e-6
    var kappa = 0.99
    var float = false
    var runs = 3
    var rowsPerBlock: Int? = nil
    var solver = "exact"
    var admmIterations = 1000
    var statesFile: String? = nil
    var sparseDensities = false
    /// Whether --tol was given (the --states fit uses 1e-4 otherwise).
    var toleranceGiven = false
    /// --unscaled: the exact solver's step metric without Jacobi scaling.
    var unscaled = false
}

var options = Options()
var parsedLambdas: [Double] = []
var args = CommandLine.arguments.dropFirst().makeIterator()
while let a = args.next() {
    switch a {
    case "--tol":
        options.tolerance = Double(args.next() ?? "") ?? options.tolerance
        options.toleranceGiven = true
    case "--unscaled": options.unscaled = true
    case "--kappa": options.kappa = Double(args.next() ?? "") ?? options.kappa
    case "--runs": options.runs = Int(args.next() ?? "") ?? options.runs
    case "--float": options.float = true
    case "--block": options.rowsPerBlock = Int(args.next() ?? "")
    case "--solver": options.solver = args.next() ?? options.solver
    case "--admm-iterations": options.admmIterations = Int(args.next() ?? "") ?? options.admmIterations
    case "--states": options.statesFile = args.next()
    case "--sparse-densities": options.sparseDensities = true
    default:
        if let v = Double(a) { parsedLambdas.append(v) } else { print("ignoring argument \(a)") }
    }
}
if !parsedLambdas.isEmpty { options.lambdas = parsedLambdas }

func makeStates<T: BLASScalar>(_: T.Type) throws -> SIMStates<T> {
    let (p, m) = (784, 2000)
    let widths = [64, 32, 16]
    var g = SeededGenerator(seed: 2024)
    let u = Matrix<T>.randomUniform(p, m, 0, 1, using: &g)
    var x = u
    var zs: [Matrix<T>] = []
    var xs: [Matrix<T>] = []
    var fanIn = p
    for w in widths {
        let weight = Matrix<T>.randomNormal(w, fanIn, scale: T((2 / Double(fanIn)).squareRoot()), using: &g)
        let z = matmul(weight, x)
        x = relu(z)
        zs.append(z)
        xs.append(x)
        fanIn = w
    }
    let head = Matrix<T>.randomNormal(10, fanIn, scale: T((1 / Double(fanIn)).squareRoot()), using: &g)
    let y = matmul(head, x)
    return try SIMStates(
        inputs: u, states: Matrix.vcat(xs.reversed()), preActivations: Matrix.vcat(zs.reversed()),
        outputs: y)
}

func median(_ v: [Double]) -> Double { v.sorted()[v.count / 2] }

/// CPU seconds (user + system) used by this process so far: robust to other load on the machine.
func cpuSeconds() -> Double {
    var usage = rusage()
    #if os(Linux)
        getrusage(RUSAGE_SELF.rawValue, &usage)
    #else
        getrusage(RUSAGE_SELF, &usage)
    #endif
    func s(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) * 1e-6 }
    return s(usage.ru_utime) + s(usage.ru_stime)
}

/// The 1-minute load average (other processes competing for the cores).
func loadAverage() -> Double {
    var loads = [Double](repeating: 0, count: 3)
    return getloadavg(&loads, 3) > 0 ? loads[0] : .nan
}

func bench<T: BLASScalar>(_ type: T.Type, options: Options) throws {
    let states = try makeStates(T.self)
    print(
        "sim-bench (\(T.typeName)): n = \(states.stateCount), p = \(states.inputCount), m = \(states.sampleCount), q = \(states.outputCount); BLAS threads \(blasThreads), cores \(ProcessInfo.processInfo.activeProcessorCount)"
    )
    let lambdas = options.solver == "lstsq" ? [0.0] : options.lambdas
    for lambda in lambdas {
        let solver: any SIMSolver
        switch options.solver {
        case "admm":
            solver = SIMADMMSolver(
                lambdaState: lambda, lambdaOutput: lambda, wellPosedness: .infinityNorm(kappa: options.kappa),
                tolerance: options.tolerance, maxIterations: options.admmIterations)
        case "lstsq":
            solver = SIMLeastSquaresSolver(wellPosedness: .infinityNorm(kappa: options.kappa), zeroThreshold: 1e-6)
        default:
            solver = SIMExactSolver(
                lambdaState: lambda, lambdaOutput: lambda,
                wellPosedness: .infinityNorm(kappa: options.kappa),
                tolerance: options.tolerance, maxIterations: 50_000, zeroThreshold: 0,
                rowsPerBlock: options.rowsPerBlock, scaleByGramDiagonal: !options.unscaled)
        }
        print(
            "\(solver.name): tolerance \(options.tolerance), ‖A‖∞ ≤ \(options.kappa) requested; median of \(options.runs) runs"
        )
        var totals: [Double] = []
        var s1: [Double] = []
        var s2: [Double] = []
        var cpu: [Double] = []
        var loads: [Double] = []
        var last: SIMFit<T>?
        for _ in 0..<options.runs {
            let start = Date()
            let cpuStart = cpuSeconds()
            let fit = try solver.fit(states, progress: nil)
            totals.append(Date().timeIntervalSince(start))
            cpu.append(cpuSeconds() - cpuStart)
            loads.append(loadAverage())
            s1.append(fit.report.stage1Seconds)
            s2.append(fit.report.stage2Seconds)
            last = fit
        }
        guard let fit = last else { continue }
        let r = fit.report
        let rows = r.rowsSolved.stage1 + r.rowsSolved.stage2
        let iters = (r.stage1Rows + r.stage2Rows).map(\.iterations)
        let t = median(totals)
        print(
            """
            λ = \(lambda): wall \(formatFixed(t, decimals: 3)) s (stage 1 \(formatFixed(median(s1), decimals: 3)) s, stage 2 \(formatFixed(median(s2), decimals: 3)) s), \(formatFixed(Double(rows) / t, decimals: 1)) rows/s; CPU \(formatFixed(median(cpu), decimals: 2)) s (wall on 2 idle cores ≈ CPU/2), load average \(formatFixed(median(loads), decimals: 1))
              row-iterations \(iters.reduce(0, +)) (\(rows) rows)
              ‖A‖∞ = \(formatScalar(r.infinityNormA)) (met: \(r.wellPosednessMet)), max gap \(formatScalar(r.maxGap)), unconverged rows \(r.unconvergedRows), iterations median \(iters.sorted()[iters.count / 2]) max \(iters.max() ?? 0)
              warnings: \(r.warnings.isEmpty ? "none" : r.warnings.joined(separator: "; "))
              zeros: A \(r.zeros.a)/\(fit.A.count), B \(r.zeros.b)/\(fit.B.count), C \(r.zeros.c)/\(fit.C.count), D \(r.zeros.d)/\(fit.D.count); sparsity \(formatFixed(100 * r.sparsity, decimals: 1)) %
            """)
    }
}

/// The SIM part of `idl bench` on saved states: fit and evaluation, CPU and wall seconds.
func benchSaved(_ path: String, options: Options) throws {
    let states = try SIMStates<Double>(contentsOf: URL(fileURLWithPath: path))
    let test = try FashionMNIST.load(.test, scaling: .unit, as: Double.self)
    let solver = SIMExactSolver(
        lambdaState: 35, lambdaOutput: 1, lambda2: 2, tolerance: options.toleranceGiven ? options.tolerance : 1e-4,
        maxIterations: options.toleranceGiven ? 200_000 : 20_000, zeroThreshold: 1e-8, regenerateStates: true,
        rowsPerBlock: options.rowsPerBlock,
        scaleByGramDiagonal: !options.unscaled)
    print(
        "sim-bench --states: n = \(states.stateCount), p = \(states.inputCount), m = \(states.sampleCount); \(ThreadPolicy.description)"
    )
    var fitCPU: [Double] = []
    var fitWall: [Double] = []
    var evalCPU: [Double] = []
    var evalWall: [Double] = []
    for _ in 0..<options.runs {
        var (w0, c0) = (monotonicSeconds(), cpuSeconds())
        let fit = try solver.fit(states)
        fitWall.append(monotonicSeconds() - w0)
        fitCPU.append(cpuSeconds() - c0)
        let model = try SIMModel(fit)
        (w0, c0) = (monotonicSeconds(), cpuSeconds())
        let scores = try model.predict(test.inputs)
        evalWall.append(monotonicSeconds() - w0)
        evalCPU.append(cpuSeconds() - c0)
        (w0, c0) = (monotonicSeconds(), cpuSeconds())
        let dense = try model.implicitModel.predict(test.inputs)
        let denseCPU = cpuSeconds() - c0
        (w0, c0) = (monotonicSeconds(), cpuSeconds())
        let (sparse, sparseStats) = try model.predictSparse(test.inputs)
        let sparseCPU = cpuSeconds() - c0
        print(
            "  evaluation paths: dense \(formatFixed(denseCPU, decimals: 3)) s CPU, sparse \(formatFixed(sparseCPU, decimals: 3)) s CPU (\(sparseStats.iterations) Picard iterations, density \(formatFixed(100 * model.density, decimals: 1)) %); largest difference \(formatScalar((dense - sparse).maxAbs))"
        )
        let r = fit.report
        let iters = (r.stage1Rows + r.stage2Rows).map(\.iterations)
        // FNV-1a over the bits of A, B, C, D: equal digests, bitwise equal weights.
        var digest: UInt64 = 0xcbf2_9ce4_8422_2325
        for m in [fit.A, fit.B, fit.C, fit.D] {
            for v in m.storage {
                digest = (digest ^ v.bitPattern) &* 0x100_0000_01b3
            }
        }
        print("weights digest \(String(digest, radix: 16)) (\(ThreadPolicy.workers) workers)")
        print(
            "fit \(formatFixed(fitWall.last!, decimals: 2)) s wall, \(formatFixed(fitCPU.last!, decimals: 2)) s CPU (stage 1 \(formatFixed(r.stage1Seconds, decimals: 2)) s, regeneration \(formatFixed(r.regenerationSeconds, decimals: 2)) s, stage 2 \(formatFixed(r.stage2Seconds, decimals: 2)) s); row-iterations \(iters.reduce(0, +)) (stage 1 \(r.stage1Rows.map(\.iterations).reduce(0, +)), max \(r.stage1Rows.map(\.iterations).max() ?? 0); stage 2 \(r.stage2Rows.map(\.iterations)); regeneration \(r.regenerationIterations) Picard iterations), max gap \(formatScalar(r.maxGap)), unconverged \(r.unconvergedRows); nonzeros \(model.nonzeros); test accuracy \(formatFixed(100 * (try Metrics.accuracy(scores, test.labels)), decimals: 2)) %; evaluation \(formatFixed(evalWall.last!, decimals: 3)) s wall, \(formatFixed(evalCPU.last!, decimals: 3)) s CPU"
        )
    }
    print(
        "median: fit \(formatFixed(median(fitWall), decimals: 2)) s wall, \(formatFixed(median(fitCPU), decimals: 2)) s CPU; evaluation \(formatFixed(median(evalWall), decimals: 3)) s wall, \(formatFixed(median(evalCPU), decimals: 3)) s CPU"
    )
}

/// Dense and sparse SIM inference (CPU seconds, median of `runs`) of a random SIM-shaped model
/// (n = 112, p = 784, q = 10) on 10 000 samples, at several shares of nonzero weights.
func benchSparseDensities(options: Options) throws {
    print("sim-bench --sparse-densities: sparse kernel \(sparseKernelInstructionSet); \(ThreadPolicy.description)")
    print("density   dense CPU s   sparse CPU s   dense / sparse")
    for density in [0.05, 0.1, 0.2, 0.25, 0.3, 0.4, 0.5, 0.7, 1.0] {
        var g = SeededGenerator(seed: 3)
        func sparse(_ rows: Int, _ cols: Int, scale: Double) -> Matrix<Double> {
            var m = Matrix<Double>.randomNormal(rows, cols, scale: scale, using: &g)
            for k in 0..<m.count where g.uniform() >= density { m.storage[k] = 0 }
            return m
        }
        let fit = SIMFit(
            A: sparse(112, 112, scale: 1).scaledIntoInfinityBall(radius: 0.9), B: sparse(112, 784, scale: 0.05),
            C: sparse(10, 112, scale: 0.1), D: sparse(10, 784, scale: 0.05), report: SIMReport())
        let model = try SIMModel(fit)
        let u = Matrix<Double>.randomUniform(784, 10_000, 0, 1, using: &g)
        var dense: [Double] = []
        var sparseTimes: [Double] = []
        for _ in 0..<options.runs {
            var c0 = cpuSeconds()
            _ = try model.implicitModel.predict(u)
            dense.append(cpuSeconds() - c0)
            c0 = cpuSeconds()
            _ = try model.predictSparse(u)
            sparseTimes.append(cpuSeconds() - c0)
        }
        print(
            "\(formatFixed(density, decimals: 2))      \(formatFixed(median(dense), decimals: 3))         \(formatFixed(median(sparseTimes), decimals: 3))          \(formatFixed(median(dense) / median(sparseTimes), decimals: 2))"
        )
    }
}

do {
    if options.sparseDensities {
        try benchSparseDensities(options: options)
        exit(0)
    }
    if let path = options.statesFile {
        try benchSaved(path, options: options)
        exit(0)
    }
    if options.float { try bench(Float.self, options: options) } else { try bench(Double.self, options: options) }
} catch {
    print("sim-bench failed: \(error)")
    exit(1)
}
