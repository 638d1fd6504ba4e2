// SIM on FashionMNIST, the benchmark of the SIM issue and DESIGN.md section 2:
//
// teacher 784-64-32-16-10, ReLU, no bias, Adam 0.01, batch 128, 5 epochs (pixels in [0, 1]);
// states of 2 000 random training images; SIM fitted by several solvers and evaluated on the
// 10 000 test images; one-shot magnitude pruning of the teacher as the baseline.
//
//     swift run -c release sim-fashion [--quick] [--seeds 3] [--output results] [--lambda-state 35]
//                                      [--lambda-output 1] [--lambda2 2] [--no-rescale] [--only-exact]
//                                      [--dataset fashion-mnist|cifar100|cifar10 --data-dir DIR]
//                                      [--layers 784,64,32,16,10] [--samples 2000] [--teacher-epochs 5]
//                                      [--unscaled-metric]
//
// Every row is repeated for the seeds 0 … N − 1 (--seeds N, default 3; quick mode 1), each with
// its own teacher and state samples (SeededSIMTeacher); the table gives the mean and the sample
// standard deviation of the accuracy, and the mean of the other columns.
//
// The defaults meet the SIM issue's targets: the elastic-net term λ₂ conditions the Gram matrix,
// which makes FISTA converge ~10× faster at the same sparsity and accuracy.
//
// Prints and writes results/sim/solvers.{md,csv}: solver, test accuracy, nonzeros, ‖A‖∞, fit
// seconds, evaluation seconds. ADMM appears twice: the consensus average torchidl returns (dense)
// and the soft-thresholded iterate W₂ (SIMADMMSolver.returnsSparseIterate); least squares is
// listed with the zero threshold of 1e-6 the library applies and, in its note, without it.
//
// CIFAR-100, the SIM paper's second data set, cannot be downloaded here; with its binary files
// (train.bin, test.bin of cifar-100-python's binary sibling, cifar-100-binary.tar.gz) the same
// experiment runs on it (fine labels, pixels in [0, 1]) and writes results/sim-cifar100/:
//
//     swift run -c release sim-fashion --dataset cifar100 --data-dir ~/data/cifar-100-binary
//
// Its default teacher is 3072-128-64-100; --layers sets another (first width 3072, last 100).
import ExperimentSupport
import Foundation
import IDL

useLineBufferedStandardOutput()
let options = ExperimentOptions.parseOrExit(
    values: [
        "--lambda-output", "--lambda-state", "--lambda2", "--output", "--seeds", "--dataset", "--data-dir", "--layers",
        "--samples", "--teacher-epochs",
    ],
    flags: ["--no-rescale", "--only-exact", "--quick", "--unscaled-metric"])
let quick = options.flag("--quick")
let seeds = experimentSeeds(options, quick: quick)
// Quick runs write under results/quick/ (not committed), so they never overwrite the full results.
let (dataset, dataDirectory) = ExperimentDataset.parseOrExit(options)
let layers = dataset.layersOrExit(
    options, default: dataset == .fashionMNIST ? [784, 64, 32, 16, 10] : [3072, 128, 64, dataset.classCount])
let teacherName = layers.map(String.init).joined(separator: "-")
let outputDirectory = URL(fileURLWithPath: options.string("--output") ?? "results").appendingPathComponent(
    (quick ? "quick/" : "") + "sim" + dataset.folderSuffix)
let lambdaState = options.double("--lambda-state") ?? 35
let lambdaOutput = options.double("--lambda-output") ?? 1
let lambda2 = options.double("--lambda2") ?? 2
let sampleCount = options.int("--samples") ?? (quick ? 500 : 2000)
let teacherEpochs = options.int("--teacher-epochs") ?? (quick ? 1 : 5)
let kappa = 0.99
let rescale = !options.flag("--no-rescale")
let onlyExact = options.flag("--only-exact")
// --unscaled-metric: the exact fits' FISTA steps without the Jacobi scaling by G's diagonal
// (SIMExactSolver.scaleByGramDiagonal = false). On synthetic CIFAR-sized records (3 072 pixels,
// fewer samples than features) the unscaled steps converged in far fewer iterations.
let scaledMetric = !options.flag("--unscaled-metric")

for (name, value) in [("--samples", sampleCount), ("--teacher-epochs", teacherEpochs)] where value < 1 {
    ExperimentOptions.exitWithMessage("\(name) expects at least 1, got \(value)", program: options.program)
}
let (train, test): (Dataset<Float>, Dataset<Float>)
do {
    (train, test) = try dataset.load(from: dataDirectory, scaling: .unit)
} catch {
    ExperimentOptions.exitWithMessage("\(error)", program: options.program)
}
if sampleCount > train.count {
    ExperimentOptions.exitWithMessage(
        "--samples \(sampleCount) is larger than the training set (\(train.count) images); use at most \(train.count)",
        program: options.program)
}
let testInputs = test.inputs.converted(to: Double.self)
var rows = [SeedRow]()
var teacherNonzeros = 0

for seed in seeds {
    // 1. The teacher, and 2. the states of random training images (Double for the convex fits).
    let run = try SeededSIMTeacher<Float>(
        seed: seed, layers: layers, train: train, test: test, epochs: teacherEpochs,
        sampleCount: sampleCount, kappa: rescale ? kappa : nil)
    let states = run.states
    teacherNonzeros = run.nonzeros
    print(
        "seed \(seed), teacher: \(formatFixed(100 * run.accuracy, decimals: 2)) % test accuracy, \(teacherNonzeros) nonzero weights; hidden layers rescaled by \(run.rescaleFactors.map { formatScalar($0, digits: 3) }) so that each ‖W‖∞ ≤ \(kappa); states of \(sampleCount) images: n = \(states.stateCount), p = \(states.inputCount), q = \(states.outputCount)"
    )
    var index = 0
    func add(_ name: String, note: String, _ values: [(String, Double)]) {
        record(&rows, index, labels: [name, note], values)
        index += 1
    }
    add(
        "teacher \(teacherName)", note: "\(teacherEpochs) epochs, Adam 0.01",
        [("accuracy", run.accuracy), ("nonzeros", Double(teacherNonzeros))])

    // 3. The solvers.
    @discardableResult
    func evaluate(_ name: String, _ solver: some SIMSolver, note: String = "") throws -> Int {
        let start = monotonicSeconds()
        let fit = try solver.fit(states, progress: nil)
        let fitSeconds = monotonicSeconds() - start
        let model = try SIMModel(fit)
        let evalStart = monotonicSeconds()
        let scores = try model.predict(testInputs)
        let evalSeconds = monotonicSeconds() - evalStart
        let accuracy = try Metrics.accuracy(scores, test.labels)
        let sparseStart = monotonicSeconds()
        let (sparseScores, _) = try model.predictSparse(testInputs)
        let sparseSeconds = monotonicSeconds() - sparseStart
        let sparseAccuracy = try Metrics.accuracy(sparseScores, test.labels)
        let warnings = fit.report.warnings.isEmpty ? "" : " (warnings: \(fit.report.warnings.count))"
        add(
            name, note: note + warnings,
            [
                ("accuracy", accuracy), ("nonzeros", Double(model.nonzeros)), ("normA", Double(fit.A.infinityNorm)),
                ("fit", fitSeconds), ("eval", evalSeconds), ("sparse", sparseSeconds),
            ])
        let rep = fit.report
        let iterations = (rep.stage1Rows + rep.stage2Rows).map(\.iterations).sorted()
        print(
            "  stages: \(formatFixed(rep.stage1Seconds, decimals: 2)) s (A, B) + \(formatFixed(rep.regenerationSeconds, decimals: 2)) s (states) + \(formatFixed(rep.stage2Seconds, decimals: 2)) s (C, D); row iterations median \(iterations.isEmpty ? 0 : iterations[iterations.count / 2]), max \(iterations.last ?? 0); max gap \(formatScalar(rep.maxGap, digits: 3)); \(rep.warnings.joined(separator: "; "))"
        )
        print(
            "seed \(seed), \(name): \(formatFixed(100 * accuracy, decimals: 2)) %, \(model.nonzeros) nonzeros, ‖A‖∞ = \(formatScalar(Double(fit.A.infinityNorm), digits: 4)), fit \(formatFixed(fitSeconds, decimals: 2)) s, eval \(formatFixed(evalSeconds, decimals: 3)) s (sparse \(formatFixed(sparseSeconds, decimals: 3)) s, \(formatFixed(100 * sparseAccuracy, decimals: 2)) %)"
        )
        return model.nonzeros
    }

    let target = try evaluate(
        "exact, ‖A‖∞ ≤ 0.99, λ = \(formatScalar(lambdaState)) / \(formatScalar(lambdaOutput))\(lambda2 > 0 ? ", λ₂ = \(formatScalar(lambda2))" : "")",
        SIMExactSolver(
            lambdaState: lambdaState, lambdaOutput: lambdaOutput, lambda2: lambda2,
            wellPosedness: .infinityNorm(kappa: kappa),
            tolerance: 1e-4, zeroThreshold: 1e-8, regenerateStates: true, scaleByGramDiagonal: scaledMetric))
    if !onlyExact {
        try evaluate(
            "exact, A triangular, λ = \(formatScalar(lambdaState)) / \(formatScalar(lambdaOutput))\(lambda2 > 0 ? ", λ₂ = \(formatScalar(lambda2))" : "")",
            SIMExactSolver(
                lambdaState: lambdaState, lambdaOutput: lambdaOutput, lambda2: lambda2,
                wellPosedness: .strictlyUpperTriangular,
                tolerance: 1e-4, zeroThreshold: 1e-8, regenerateStates: true, scaleByGramDiagonal: scaledMetric))
        // Least squares has no sparsity term: its zeros are the entries below the 1e-6 threshold
        // (and the min-norm zeros of features that are 0 in every sample, if any). The share of
        // nonzeros without the threshold goes into the note.
        let unthresholded = try SIMModel(
            try SIMLeastSquaresSolver(wellPosedness: .unconstrained, zeroThreshold: 0).fit(states)
        ).nonzeros
        let entries =
            states.stateCount * (states.stateCount + states.inputCount)
            + states.outputCount * (states.stateCount + states.inputCount)
        try evaluate(
            "least squares (torchidl's)", SIMLeastSquaresSolver(wellPosedness: .unconstrained),
            note:
                "ignores well-posedness; no ℓ1 term: zeros are entries below 1e-6 (without that threshold \(formatFixed(100 * Double(unthresholded) / Double(entries), decimals: 1)) % of the \(entries) entries are nonzero)"
        )
    }
    if !quick && !onlyExact {
        var admm = SIMADMMSolver(
            lambdaState: lambdaState, lambdaOutput: lambdaOutput,
            wellPosedness: .infinityNorm(kappa: kappa), maxIterations: 300,
            zeroThreshold: 1e-8, regenerateStates: true)
        try evaluate(
            "ADMM (consensus, 300 iterations)", admm,
            note: "torchidl's output: the average of the dense least-squares block and the sparse ones")
        admm.returnsSparseIterate = true
        try evaluate(
            "ADMM (soft-thresholded iterate, 300 iterations)", admm,
            note: "the ℓ1 block W₂ of the same iterations, a-blocks projected")
    }

    // 4. Magnitude pruning of the teacher at the exact solver's number of nonzeros, and at 50 % / 70 %.
    for (fraction, label) in [
        (0.5, "50 % per layer"), (0.7, "70 % per layer"),
        // A fit with more nonzeros than the teacher (possible with 3 072 pixels feeding a dense D)
        // leaves nothing to prune: the row is then the teacher itself.
        (max(0, 1 - Double(target) / Double(teacherNonzeros)), "to the exact fit's count"),
    ] {
        let (pruned, nonzeros) = try magnitudePruned(run.network, fraction: fraction)
        let accuracy = try evaluateAccuracy(pruned, test)
        add(
            "magnitude pruning of the teacher, \(label)", note: "baseline, one shot",
            [("accuracy", accuracy), ("nonzeros", Double(nonzeros))])
        print(
            "seed \(seed), pruning \(formatFixed(100 * fraction, decimals: 1)) %: \(formatFixed(100 * accuracy, decimals: 2)) %, \(nonzeros) nonzeros"
        )
    }
}

var table = ResultTable(columns: [
    "model", "test accuracy (%)", "test accuracy std", "nonzeros", "‖A‖∞", "fit (s)", "eval 10k (s)",
    "eval 10k sparse (s)", "note",
])
table.timingColumns = ["fit (s)", "eval 10k (s)", "eval 10k sparse (s)"]
table.footnote =
    seedNote(seeds, draws: "each trains its own teacher and draws its own state samples", columns: "column")
    + " Every cell but the timings is bitwise the same for any number of threads on the same CPU and BLAS kernels (see MANIFEST.json); on another CPU, rounding moves accuracies and nonzero counts slightly (results/README.md, Verifying)."
for r in rows {
    let v = r.values
    func mean(_ name: String, _ decimals: Int) -> String {
        v.contains(name) ? v.spread(name).meanCell(decimals: decimals) : "—"
    }
    try table.append([
        r.labels[0], v.spread("accuracy").meanCell(scale: 100, decimals: 2),
        v.spread("accuracy").standardDeviationCell(scale: 100, decimals: 2), v.spread("nonzeros").meanCell(decimals: 0),
        v.contains("normA") ? formatScalar(v.spread("normA").mean, digits: 4) : "—", mean("fit", 2), mean("eval", 3),
        mean("sparse", 3), r.labels[1],
    ])
}
try table.write(
    to: outputDirectory.appendingPathComponent("solvers"),
    caption:
        "SIM on \(dataset.title): teacher \(teacherName) (ReLU, no bias), states of \(sampleCount) training images, evaluated on the \(formatGrouped(test.count)) test images, \(seeds.count) seed(s)."
        + (dataset == .fashionMNIST
            ? " torchidl on this machine: least squares 84.6 % with ‖A‖∞ = 16.8; ADMM 73.6 %, ‖A‖∞ = 8.5, 3 % zeros, 31 s to fit, 59 s to evaluate."
            : "")
)
print(table.markdown())
