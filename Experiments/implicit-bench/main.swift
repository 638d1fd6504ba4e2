// ImplicitModel on FashionMNIST, the setting torchidl was measured in (results/reference):
// inputs scaled to [−1, 1], n = 100, batch 64, Adam 5e-3, 10 epochs, Float32. For each solver
// (Picard as torchidl, and Anderson) it prints per epoch the training loss, the test accuracy,
// ms per training step and the solver statistics (mean forward/backward iterations, share of
// solves that converged).
//
//     swift run -c release implicit-bench [--epochs 10] [--solver picard|anderson|both]
//                                         [--steps N (stop each epoch after N steps)] [--seed S]
//                                         [--output results (writes solvers/picard-vs-anderson.{md,csv})]
import ExperimentSupport
import Foundation
import IDL

useLineBufferedStandardOutput()

let options = ExperimentOptions.parseOrExit(
    values: ["--epochs", "--output", "--seed", "--solver", "--steps"], flags: [])
let epochs = options.int("--epochs") ?? 10
let stepLimit = options.int("--steps")
let seed = options.uint64("--seed") ?? 0
let solverChoice = options.string("--solver") ?? "both"

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

let t0 = now()
let train = try FashionMNIST.load(.train, scaling: .symmetric, as: Float.self)
let test = try FashionMNIST.load(.test, scaling: .symmetric, as: Float.self)
print(
    "FashionMNIST: \(train.count) training and \(test.count) test images loaded in \(formatFixed(now() - t0, decimals: 2)) s; BLAS kernels \(blasCoreName), \(blasThreads) threads"
)

struct Result {
    var solver: String
    var accuracy: Double
    var msPerStep: Double
    var fwdIt: Double
    var bwdIt: Double
    var converged: Double
}
var results = [Result]()

let solvers: [(String, any FixedPointSolver)] = [("picard", Picard()), ("anderson", Anderson())]
    .filter { solverChoice == "both" || $0.0 == solverChoice }

for (name, solver) in solvers {
    var g = SeededGenerator(seed: seed)
    let model = try ImplicitModel<Float>(inputDim: 784, outputDim: 10, hiddenDim: 100, solver: solver, using: &g)
    let optimizer = try Adam(model.parameters, learningRate: 5e-3)
    print("\n== \(name): \(model.summary)")
    print("epoch  loss     test acc  ms/step  fwd it  bwd it  converged")
    let reports = try trainClassifier(
        model, optimizer: optimizer, train: train, test: test, epochs: epochs, batchSize: 64,
        generator: &g, solveLog: model.log, stepsPerEpoch: stepLimit
    ) { r in
        print(
            "\(String(r.epoch).padding(toLength: 5, withPad: " ", startingAt: 0))  \(formatFixed(r.loss, decimals: 4))   \(formatFixed(100 * r.testAccuracy!, decimals: 2)) %   \(formatFixed(r.msPerStep, decimals: 2))     \(formatFixed(r.forwardIterations!, decimals: 1))    \(formatFixed(r.backwardIterations!, decimals: 1))    \(formatFixed(100 * r.convergedFraction!, decimals: 1)) %"
        )
    }
    let totalSteps = reports.reduce(0) { $0 + $1.steps }
    let totalTime = reports.reduce(0) { $0 + $1.seconds }
    func weighted(_ f: (EpochReport) -> Double) -> Double {
        reports.reduce(0) { $0 + f($1) * Double($1.steps) } / Double(max(1, totalSteps))
    }
    let accuracy = reports.last!.testAccuracy!
    results.append(
        Result(
            solver: name, accuracy: accuracy, msPerStep: 1000 * totalTime / Double(max(1, totalSteps)),
            fwdIt: weighted { $0.forwardIterations! }, bwdIt: weighted { $0.backwardIterations! },
            converged: weighted { $0.convergedFraction! }))
    print("final: \(model.wellPosednessReport)")
}

print("\nsolver    test acc   ms/step (all epochs)   mean fwd it   mean bwd it   converged")
for r in results {
    print(
        "\(r.solver.padding(toLength: 8, withPad: " ", startingAt: 0))  \(formatFixed(100 * r.accuracy, decimals: 2)) %    \(formatFixed(r.msPerStep, decimals: 2))                   \(formatFixed(r.fwdIt, decimals: 1))          \(formatFixed(r.bwdIt, decimals: 1))          \(formatFixed(100 * r.converged, decimals: 1)) %"
    )
}
print(
    "torchidl on an Intel Xeon AVX-512 (2026-11, results/reference): 82.5 % after 10 epochs, ≈1.6 ms/step early, ≈15 ms/step averaged over training"
)

// With --output DIR: experiment 6's table (fixed-point solvers while training).
if let output = options.string("--output") {
    var table = ResultTable(columns: [
        "solver", "test accuracy (%)", "ms/step", "mean forward iterations", "mean backward iterations",
        "converged (%)",
    ])
    table.timingColumns = ["ms/step"]
    for r in results {
        try table.append([
            r.solver, formatFixed(100 * r.accuracy, decimals: 2), formatFixed(r.msPerStep, decimals: 2),
            formatFixed(r.fwdIt, decimals: 1), formatFixed(r.bwdIt, decimals: 1),
            formatFixed(100 * r.converged, decimals: 1),
        ])
    }
    try table.append([
        "torchidl Picard (reference: Intel Xeon AVX-512, 2026-11)", "82.5", "≈15", "300 (cap) late in training", "—",
        "—",
    ])
    let base = URL(fileURLWithPath: output).appendingPathComponent("solvers/picard-vs-anderson")
    try table.write(
        to: base,
        caption:
            "Fixed-point solvers while training ImplicitModel on FashionMNIST ([−1, 1], n = 100, batch 64, Adam 5e-3, \(epochs) epochs, Float32, tolerance 3e-6 or the Float rounding floor, 300 iterations at most)."
    )
    print("wrote \(base.path).{md,csv}")
}
