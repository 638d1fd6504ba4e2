// Fair baselines for SIM's sparsity on FashionMNIST, at the λ_state values of sim-sweep: where
// does a sparse SIM model's accuracy come from?
//
// For each seed (teacher training and state samples; SeededSIMTeacher, as in sim-sweep) and each
// λ_state, beside the SIM fit of the sweep (exact solver, ‖A‖∞ ≤ 0.99, λ_output 1, λ₂ 2):
//
// - SIM with D = 0: the same (A, B), stage 2 fitted again on the states alone (Y ≈ C X).
// - The fitted SIM's D alone: its direct pixel → logit map, Ŷ = D U (C X dropped).
// - SIM fitted with each layer's state block scaled to unit RMS (SIMStates.scalingBlocks): in the
//   original coordinates, an ℓ1 penalty weighted by the scales of the states a weight connects,
//   so that λ acts alike on every layer.
// - Magnitude pruning of the teacher at the SIM fit's nonzero count: one shot, and iterative
//   with fine-tuning (prune part of the way, retrain one epoch with the pruned weights held at
//   zero, repeat; Adam 1e-3, batch 128), going down the SIM frontier's counts in turn.
// - A linear classifier (784 → 10, no bias: a trained D alone), Adam 0.01, the teacher's epochs.
//
// A second table gives each layer's state RMS over the sampled images, the factor by which the
// well-posedness rescaling multiplied that layer's states, and the RMS before rescaling: the
// check of the hypothesis that the rescaling, not the data, makes the layers' scales differ.
//
//     swift run -c release sim-baselines [--quick] [--seeds 3] [--output results] [--formats png,pdf]
//
// Writes results/sim/baselines.{md,csv}, results/sim/state-scales.{md,csv} and the figure
// baselines.png (+ pdf): accuracy against nonzeros, mean ± std over the seeds.
//
// Quick mode (for the test suite): one seed, teacher of 1 epoch on 5 000 images, states of 300
// images, λ_state ∈ {35, 150}, 2 000 test images, one pruning step per count; writes under
// results/quick/sim/.
import ExperimentSupport
import Foundation
import IDL
import IDLPlot

useLineBufferedStandardOutput()
let options = ExperimentOptions.parseOrExit(values: ["--output", "--formats", "--seeds"], flags: ["--quick"])
let quick = options.flag("--quick")
let seeds = experimentSeeds(options, quick: quick)
let formats = options.figureFormats().compactMap(FigureFormat.init(rawValue:))
let outputDirectory = URL(fileURLWithPath: options.string("--output") ?? "results").appendingPathComponent(
    quick ? "quick/sim" : "sim")
let lambdas: [Double] = quick ? [35, 150] : [5, 15, 35, 70, 150]
let sampleCount = quick ? 300 : 2000
let teacherEpochs = quick ? 1 : 5
let pruneSteps = quick ? 1 : 2
let kappa = 0.99
let layerNames = ["layer 3", "layer 2", "layer 1"]  // the state blocks, last layer first

/// Nonzero weights of a network.
func nonzeros(_ network: Sequential<Float>) -> Int {
    network.parameters.reduce(0) { $0 + $1.value.count - $1.value.zeroCount }
}

/// Trains `network` for one epoch with its zero weights held at zero (pruned weights stay pruned).
func fineTune(_ network: Sequential<Float>, _ data: Dataset<Float>, generator: inout SeededGenerator) throws {
    let parameters = network.parameters
    let masks = parameters.map { p in p.value.storage.map { $0 != 0 } }
    let optimizer = try Adam(parameters, learningRate: 1e-3)
    network.setTraining(true)
    for batch in try data.batches(size: 128, shuffledWith: &generator) {
        optimizer.zeroGrad()
        let loss = try crossEntropyLoss(network(Tensor(batch.inputs)), batch.labels)
        guard loss.value[0, 0].isFinite else {
            throw IDLError.nonFinite("fine-tuning a pruned teacher: the loss became \(loss.value[0, 0])")
        }
        loss.backward()
        optimizer.step()
        for (p, mask) in zip(parameters, masks) {
            p.value.storage.withUnsafeMutableBufferPointer { w in
                for i in w.indices where !mask[i] { w[i] = 0 }
            }
        }
    }
    network.setTraining(false)
}

var (train, test) = try FashionMNIST.loadTrainAndTest(scaling: .unit, as: Float.self)
if quick { test = test.prefix(2000) }
try FileManager.default.createDirectory(at: outputDirectory, withIntermediateDirectories: true)
print("FashionMNIST, seeds \(seeds)\(quick ? " (quick mode)" : "")")
let testInputs = test.inputs.converted(to: Double.self)
var rows = [SeedRow]()
var scaleRows = [SeedRow]()
var teacherNonzeros = 0

for seed in seeds {
    let run = try SeededSIMTeacher<Float>(
        seed: seed, layers: [784, 64, 32, 16, 10], train: train, test: test, trainSubset: quick ? 5000 : nil,
        epochs: teacherEpochs, sampleCount: sampleCount, kappa: kappa)
    teacherNonzeros = run.nonzeros
    let states = run.states
    func share(_ count: Int) -> Double { 100 * Double(count) / Double(teacherNonzeros) }
    var row = 0
    func add(_ method: String, _ lambda: String, accuracy: Double, nonzeros count: Int) {
        record(
            &rows, row, labels: [method, lambda],
            [("accuracy", accuracy), ("nonzeros", Double(count)), ("share", share(count))])
        row += 1
        print(
            "seed \(seed), \(method)\(lambda == "—" ? "" : ", λ = \(lambda)"): \(formatFixed(100 * accuracy, decimals: 2)) %, \(count) nonzeros (\(formatFixed(share(count), decimals: 1)) %)"
        )
    }
    add("teacher 784-64-32-16-10", "—", accuracy: run.accuracy, nonzeros: teacherNonzeros)

    // The per-layer scales of the states, and the rescaling's share in them.
    let rms = try states.blockRootMeanSquares(blocks: run.blocks)
    // Layer k's states are multiplied by the product of the factors of hidden layers 2 … k.
    let hidden = run.rescaleFactors.dropLast()
    let stateFactors = (1...hidden.count).map { k in hidden.prefix(k).reduce(1, *) }.reversed().map { $0 }
    for (k, name) in layerNames.enumerated() {
        record(
            &scaleRows, k, labels: [name, String(run.blocks[k])],
            [("factor", stateFactors[k]), ("rms", rms[k]), ("raw", rms[k] / stateFactors[k])])
    }
    print(
        "seed \(seed): state RMS per block \(rms.map { formatScalar($0, digits: 3) }), rescaling factors of the states \(stateFactors.map { formatScalar($0, digits: 3) })"
    )
    let scaledStates = try states.scalingBlocks(by: rms.map { 1 / $0 }, blocks: run.blocks)

    // A linear classifier: a trained D alone.
    do {
        var g = SeededGenerator(seed: 1000 &+ seed)
        let linear = Sequential<Float>.mlp([784, 10], bias: false, using: &g)
        let optimizer = try Adam(linear.parameters, learningRate: 0.01)
        _ = try trainClassifier(
            linear, optimizer: optimizer, train: run.train, epochs: teacherEpochs, batchSize: 128, generator: &g)
        add(
            "linear classifier 784-10 (D alone, trained)", "—", accuracy: try evaluateAccuracy(linear, test),
            nonzeros: nonzeros(linear))
    }

    var frontierCounts = [(lambda: Double, count: Int)]()
    for lambda in lambdas {
        let tag = formatScalar(lambda)
        let solver = SIMExactSolver(
            lambdaState: lambda, lambdaOutput: 1, lambda2: 2, wellPosedness: .infinityNorm(kappa: kappa),
            tolerance: 1e-4, zeroThreshold: 1e-8, regenerateStates: true)
        let fit = try solver.fit(states)
        let model = try SIMModel(fit)
        add(
            "SIM", tag, accuracy: try Metrics.accuracy(model.predict(testInputs), test.labels), nonzeros: model.nonzeros
        )
        frontierCounts.append((lambda, model.nonzeros))
        add(
            "SIM's D alone (Ŷ = D U)", tag, accuracy: try Metrics.accuracy(matmul(fit.D, testInputs), test.labels),
            nonzeros: fit.D.count - fit.D.zeroCount)
        let noD = try SIMModel(try solver.fitWithoutD(replacingOutputOf: fit, states: states))
        add(
            "SIM with D = 0", tag, accuracy: try Metrics.accuracy(noD.predict(testInputs), test.labels),
            nonzeros: noD.nonzeros)
        let scaled = try SIMModel(try solver.fit(scaledStates))
        add(
            "SIM, states scaled per layer", tag,
            accuracy: try Metrics.accuracy(scaled.predict(testInputs), test.labels),
            nonzeros: scaled.nonzeros)
    }

    // Magnitude pruning at the SIM frontier's counts: one shot, and iterative with fine-tuning,
    // starting from the teacher before rescaling (the same function; Adam sees the trained scales).
    let unscaled = try magnitudePruned(run.network, fraction: 0).network
    for (p, f) in zip(unscaled.parameters, run.rescaleFactors) { p.value = p.value * Float(1 / f) }
    var tuned = unscaled
    var done = 0.0
    var g = SeededGenerator(seed: 2000 &+ seed)
    for (lambda, count) in frontierCounts.sorted(by: { $0.count > $1.count }) {
        let tag = formatScalar(lambda)
        let fraction = Swift.max(0, 1 - Double(count) / Double(teacherNonzeros))
        let (oneShot, oneShotCount) = try magnitudePruned(run.network, fraction: fraction)
        add("magnitude pruning, one shot", tag, accuracy: try evaluateAccuracy(oneShot, test), nonzeros: oneShotCount)
        for step in 1...pruneSteps {
            let f = done + (fraction - done) * Double(step) / Double(pruneSteps)
            tuned = try magnitudePruned(tuned, fraction: Swift.max(done, f)).network
            try fineTune(tuned, run.train, generator: &g)
        }
        done = Swift.max(done, fraction)
        add(
            "magnitude pruning + fine-tuning (\(pruneSteps) × (prune, 1 epoch))", tag,
            accuracy: try evaluateAccuracy(tuned, test), nonzeros: nonzeros(tuned))
    }
}

// Tables.
let seedNote = ExperimentSupport.seedNote(
    seeds, draws: "each trains its own teacher and draws its own state samples", columns: "column")
var table = ResultTable(columns: [
    "method", "λ_state", "test accuracy (%)", "test accuracy std", "nonzeros", "% of teacher's nonzeros",
])
// Grouped by λ_state: the teacher and the linear classifier first, then each λ's rows.
let order =
    rows.filter { $0.labels[1] == "—" }
    + lambdas.flatMap { l in rows.filter { $0.labels[1] == formatScalar(l) } }
for r in order {
    let v = r.values
    try table.append(
        r.labels + [
            v.spread("accuracy").meanCell(scale: 100, decimals: 2),
            v.spread("accuracy").standardDeviationCell(scale: 100, decimals: 2),
            v.spread("nonzeros").meanCell(decimals: 0), v.spread("share").meanCell(decimals: 1),
        ])
}
table.footnote =
    "\(seedNote) Pruning rows are matched to the SIM row of the same λ_state (its nonzero count, per seed). Every cell is bitwise the same for any number of threads on the same CPU and BLAS kernels (see MANIFEST.json); on another CPU, rounding moves accuracies and nonzero counts slightly (results/README.md, Verifying)."
try table.write(
    to: outputDirectory.appendingPathComponent("baselines"),
    caption:
        "Baselines for SIM's sparsity on FashionMNIST: teacher 784-64-32-16-10 (ReLU, no bias, \(teacherEpochs) epoch(s)), SIM (exact, ‖A‖∞ ≤ 0.99, λ_output 1, λ₂ 2) fitted to the states of \(sampleCount) training images, test accuracy on \(test.count) test images, \(seeds.count) seed(s). Nonzeros count all of A, B, C, D for SIM models, all weights for networks, against the teacher's \(teacherNonzeros)."
)
print(table.markdown())

var scales = ResultTable(columns: [
    "layer", "states", "rescaling factor of the states", "state RMS", "state RMS before rescaling",
])
for r in scaleRows {
    let v = r.values
    try scales.append(
        r.labels + [
            formatScalar(v.spread("factor").mean, digits: 3), formatScalar(v.spread("rms").mean, digits: 3),
            formatScalar(v.spread("raw").mean, digits: 3),
        ])
}
scales.footnote =
    "Means over \(seeds.count) seed(s). RMS over the \(sampleCount) sampled training images of the teacher's post-activation states, after the well-posedness rescaling (the states SIM is fitted to) and before it (divided by the factor, the product of the hidden layers' rescaling factors up to that layer)."
try scales.write(
    to: outputDirectory.appendingPathComponent("state-scales"),
    caption: "Scale of the teacher's states per layer, with and without the rescaling to ‖W‖∞ ≤ \(kappa).")
print(scales.markdown())

var figure = ScatterPlot(
    title: "SIM and its baselines on FashionMNIST\(seeds.count > 1 ? " (mean ± std, \(seeds.count) seeds)" : "")",
    xLabel: "nonzeros (% of the teacher's weights)", yLabel: "test accuracy (%)")
// Each series by its method: the SIM variants by their exact names, the others by prefix.
let series: [(matches: (String) -> Bool, label: String, marker: MarkerShape, connect: Bool)] = [
    ({ $0 == "SIM" }, "SIM (exact, ‖A‖∞ ≤ 0.99)", .circle, true),
    ({ $0 == "SIM with D = 0" }, "SIM with D = 0", .triangle, true),
    ({ $0 == "SIM, states scaled per layer" }, "SIM, states scaled per layer", .diamond, true),
    ({ $0 == "SIM's D alone (Ŷ = D U)" }, "the SIM's D alone", .square, false),
    ({ $0.hasPrefix("magnitude pruning + fine-tuning") }, "teacher pruned + fine-tuned", .square, true),
    ({ $0 == "magnitude pruning, one shot" }, "teacher pruned, one shot", .triangle, true),
    ({ $0.hasPrefix("linear classifier") }, "linear classifier (trained)", .diamond, false),
    ({ $0.hasPrefix("teacher") }, "teacher, dense", .square, false),
]
for (k, s) in series.enumerated() {
    let rs = order.filter { s.matches($0.labels[0]) }
        .sorted { $0.values.spread("share").mean < $1.values.spread("share").mean }
    try figure.add(
        x: rs.map { $0.values.spread("share").mean }, y: rs.map { 100 * $0.values.spread("accuracy").mean },
        label: s.label, color: Color.series(k), connect: s.connect, marker: s.marker, dashed: k >= 4,
        yErrors: rs.map { $0.values.spread("accuracy").errorBar(scale: 100) })
}
try figure.write(to: outputDirectory.appendingPathComponent("baselines"), formats: formats)
print(
    "wrote \(outputDirectory.path)/{baselines,state-scales}.{md,csv} and the figure baselines (\(formats.map(\.rawValue).joined(separator: ", ")))"
)
