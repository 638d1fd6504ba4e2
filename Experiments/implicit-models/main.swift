// Experiments 1 and 2 of the implicit deep learning paper, on FashionMNIST (pixels in [−1, 1]):
//
// 1. Implicit models of several sizes and well-posedness rules, beside an explicit MLP with a
//    similar parameter count: test accuracy, parameters, ms/step, mean forward iterations.
//    Figure: accuracy vs parameters.
// 2. Robustness: the certified ℓ∞ Lipschitz constant of each model, certified-robust accuracy,
//    and empirical accuracy under FGSM and PGD attacks vs ε, implicit vs explicit.
//
//     swift run -c release implicit-models [--quick] [--output results] [--seeds 3] [--formats png,pdf]
//
// Every model is trained for the seeds 0 … N − 1 (--seeds N, default 3; quick mode 1; seed s
// draws the initial weights and the batch order): accuracies are the mean and the sample
// standard deviation over the seeds, the other columns the mean (the certified Lipschitz
// constant, which spans orders of magnitude between seeds, the median); figures show ± one
// standard deviation as error bars.
//
// Writes results/implicit-models/{models,robustness}.{md,csv} and the figures, as PNG and PDF
// (--formats: a comma-separated list of png, pdf, svg).
import ExperimentSupport
import Foundation
import IDL
import IDLPlot

useLineBufferedStandardOutput()
let options = ExperimentOptions.parseOrExit(values: ["--output", "--seeds", "--formats"], flags: ["--quick"])
let quick = options.flag("--quick")
let seeds = experimentSeeds(options, quick: quick)
let formats = options.figureFormats().compactMap(FigureFormat.init(rawValue:))
// Quick runs write under results/quick/ (not committed), so they never overwrite the full results.
let outputDirectory = URL(fileURLWithPath: options.string("--output") ?? "results")
    .appendingPathComponent(quick ? "quick/implicit-models" : "implicit-models")

// Settings: full mode trains every model for 2 epochs on all 60 000 images; quick mode uses a
// subset, fewer sizes and 1 epoch (for the test suite).
let epochs = quick ? 1 : 2
let hiddenSizes = quick ? [50, 100] : [50, 100, 200, 300]
let rules: [WellPosedness] =
    quick ? [.infinityNorm, .strictlyUpperTriangular] : [.infinityNorm, .rowL1Projection, .strictlyUpperTriangular]
let lowRanks = quick ? [2] : [2, 10]
let lowRankHidden = quick ? 100 : 300
let attackSamples = quick ? 200 : 1000
let epsilons = [0.0, 0.01, 0.02, 0.05, 0.1]

var (train, test) = try FashionMNIST.loadTrainAndTest(scaling: .symmetric, as: Float.self)
var g = SeededGenerator(seed: 0)
if quick {
    train = try train.randomSubset(6000, using: &g)
    test = try test.randomSubset(2000, using: &g)
}
let attackSet = test.prefix(attackSamples)
print(
    "FashionMNIST \(train.count) train / \(test.count) test, \(epochs) epoch(s) per model, batch 64, Adam 5e-3\(quick ? " (quick mode)" : "")"
)

struct Trained {
    var seed: UInt64
    var name: String
    var family: String
    var parameters: Int
    var accuracy: Double
    var msPerStep: Double
    var forwardIterations: Double?
    var lipschitz: Double
    var model: any Layer<Float>
}
var trained = [Trained]()

@MainActor func train(
    _ name: String, family: String, seed: UInt64, _ model: some Layer<Float>, log: SolveLog?,
    lipschitz: () -> Double
) throws {
    var rng = SeededGenerator(seed: seed &+ 1)
    let optimizer = try Adam(model.parameters, learningRate: 5e-3)
    let reports = try trainClassifier(
        model, optimizer: optimizer, train: train, test: test, epochs: epochs,
        batchSize: 64, generator: &rng, solveLog: log)
    let steps = reports.reduce(0) { $0 + $1.steps }
    let seconds = reports.reduce(0) { $0 + $1.seconds }
    let fwd = log == nil ? nil : reports.reduce(0.0) { $0 + $1.forwardIterations! * Double($1.steps) } / Double(steps)
    let t = Trained(
        seed: seed, name: name, family: family, parameters: model.parameterCount, accuracy: reports.last!.testAccuracy!,
        msPerStep: 1000 * seconds / Double(steps), forwardIterations: fwd, lipschitz: lipschitz(), model: model)
    print(
        "seed \(seed), \(name): \(t.parameters) parameters, test accuracy \(formatFixed(100 * t.accuracy, decimals: 2)) %, \(formatFixed(t.msPerStep, decimals: 2)) ms/step\(fwd.map { ", \(formatFixed($0, decimals: 1)) forward it" } ?? ""), certified L = \(formatScalar(t.lipschitz, digits: 4))"
    )
    trained.append(t)
}

func ruleName(_ w: WellPosedness) -> String {
    switch w {
    case .infinityNorm: return "inf-norm scaling"
    case .rowL1Projection: return "row l1 projection"
    case .strictlyUpperTriangular: return "triangular"
    case .none: return "none"
    }
}

for seed in seeds {
    for n in hiddenSizes {
        for rule in rules {
            var rng = SeededGenerator(seed: seed)
            let model = try ImplicitModel<Float>(
                inputDim: 784, outputDim: 10, hiddenDim: n, wellPosedness: rule, using: &rng)
            try train("implicit n=\(n), \(ruleName(rule))", family: ruleName(rule), seed: seed, model, log: model.log) {
                LipschitzCertificate(model).outputConstant
            }
        }
    }
    for r in lowRanks {
        var rng = SeededGenerator(seed: seed)
        let model = try ImplicitModel<Float>(
            inputDim: 784, outputDim: 10, hiddenDim: lowRankHidden, rank: r, using: &rng)
        try train("implicit n=\(lowRankHidden), rank \(r)", family: "low rank", seed: seed, model, log: model.log) {
            LipschitzCertificate(model).outputConstant
        }
    }
    // An explicit MLP with about the parameters of the n = 100 implicit model (97 240).
    do {
        var rng = SeededGenerator(seed: seed)
        let mlp = Sequential<Float>.mlp([784, 122, 10], using: &rng)
        try train("explicit MLP 784-122-10", family: "explicit MLP", seed: seed, mlp, log: nil) {
            (try? lipschitzBound(mlp)) ?? .infinity
        }
    }
}
/// The models of the first seed, in training order; `runs(name)` gives one model's runs over the seeds.
let firstSeed = trained.filter { $0.seed == seeds[0] }
@MainActor func runs(_ name: String) -> [Trained] { trained.filter { $0.name == name } }
/// The median of a few values (the middle one, or the mean of the two middle ones).
func median(_ values: [Double]) -> Double {
    let v = values.sorted()
    return v.count % 2 == 1 ? v[v.count / 2] : (v[v.count / 2 - 1] + v[v.count / 2]) / 2
}
let seedNote = ExperimentSupport.seedNote(seeds, sentence: false)

// Table 1 and its figure.
var table = ResultTable(columns: [
    "model", "parameters", "test accuracy (%)", "test accuracy std", "ms/step", "mean forward iterations",
    "certified L∞ Lipschitz",
])
table.timingColumns = ["ms/step"]
for first in firstSeed {
    let rs = runs(first.name)
    let accuracy = SeedSpread(rs.map(\.accuracy))
    let forward = rs.compactMap(\.forwardIterations)
    try table.append([
        first.name, String(first.parameters), accuracy.meanCell(scale: 100, decimals: 2),
        accuracy.standardDeviationCell(scale: 100, decimals: 2),
        SeedSpread(rs.map(\.msPerStep)).meanCell(decimals: 2),
        forward.isEmpty ? "—" : SeedSpread(forward).meanCell(decimals: 1),
        formatScalar(median(rs.map(\.lipschitz)), digits: 4),
    ])
}
try table.write(
    to: outputDirectory.appendingPathComponent("models"),
    caption:
        "Implicit models on FashionMNIST (pixels in [−1, 1]), \(epochs) epoch(s), batch 64, Adam 5e-3\(quick ? ", quick mode (subset)" : ""); \(seedNote); ms/step and forward iterations: mean; certified L∞ Lipschitz: median over the seeds."
)
/// The figure's name of a family of models, in the notation of the papers.
func figureName(_ family: String) -> String {
    switch family {
    case "inf-norm scaling": return "implicit, ‖A‖∞ ≤ κ by scaling"
    case "row l1 projection": return "implicit, rows of A projected on the ℓ1 ball"
    case "triangular": return "implicit, A strictly upper triangular"
    case "low rank": return "implicit, low-rank A (n = \(lowRankHidden))"
    default: return family
    }
}
var scatter = ScatterPlot(
    title:
        "FashionMNIST, \(epochs) epoch\(epochs == 1 ? "" : "s") each: test accuracy against parameters\(seeds.count > 1 ? " (mean ± std, \(seeds.count) seeds)" : "")",
    xLabel: "parameters", yLabel: "test accuracy (%)")
let shapes: [MarkerShape] = [.circle, .square, .triangle, .diamond]
for (k, family) in Array(Set(firstSeed.map(\.family))).sorted().enumerated() {
    let members = firstSeed.filter { $0.family == family }.sorted { $0.parameters < $1.parameters }
    // Each point says which model it is: the hidden size n, the rank, or the MLP's layers.
    let labels = members.map { t -> String in
        if family == "explicit MLP" { return "784-122-10" }
        if family == "low rank" { return "rank " + (t.name.split(separator: " ").last.map(String.init) ?? "") }
        return t.name.split(separator: ",").first.map { $0.replacingOccurrences(of: "implicit n=", with: "n = ") } ?? ""
    }
    let spreads = members.map { SeedSpread(runs($0.name).map(\.accuracy)) }
    try scatter.add(
        x: members.map { Double($0.parameters) }, y: spreads.map { 100 * $0.mean }, label: figureName(family),
        connect: members.count > 1, pointLabels: labels, marker: shapes[k % shapes.count],
        yErrors: spreads.map { $0.errorBar(scale: 100) })
}
try scatter.write(to: outputDirectory.appendingPathComponent("accuracy-vs-parameters"), formats: formats)

// Experiment 2: robustness of the n = 100 (∞-norm) implicit model and the explicit MLP, each seed's.
let attackedNames = firstSeed.filter { $0.name == "implicit n=100, inf-norm scaling" || $0.family == "explicit MLP" }
    .map(\.name)
var robustness = ResultTable(columns: [
    "model", "ε", "FGSM (%)", "FGSM std", "PGD-10 (%)", "PGD-10 std", "certified (%)", "certified std",
])
var curves = LinePlot(
    title: "Accuracy under ℓ∞ attacks (FashionMNIST, inputs in [−1, 1])", xLabel: "ε (ℓ∞ radius)",
    yLabel: "accuracy (%)\(seeds.count > 1 ? ", mean ± std over \(seeds.count) seeds" : "")")
for name in attackedNames {
    // Per ε: the FGSM, PGD and certified accuracy of each seed's model.
    var fgsmRuns = [[Double]](repeating: [], count: epsilons.count)
    var pgdRuns = fgsmRuns
    var certifiedRuns = fgsmRuns
    let labels = attackSet.labels
    for t in runs(name) {
        for (e, eps) in epsilons.enumerated() {
            func accuracy(_ x: Matrix<Float>) throws -> Double {
                try Metrics.accuracy(t.model.predict(x), labels)
            }
            let fgsm =
                eps == 0
                ? try accuracy(attackSet.inputs)
                : try accuracy(
                    Attack.fgsm(t.model, inputs: attackSet.inputs, labels: labels, epsilon: eps, range: -1...1))
            let pgd =
                eps == 0
                ? fgsm
                : try accuracy(
                    Attack.pgd(
                        t.model, inputs: attackSet.inputs, labels: labels, epsilon: eps, stepSize: eps / 4, steps: 10,
                        range: -1...1))
            let scores = try t.model.predict(attackSet.inputs)
            let certified = try certifiedRobustAccuracy(
                scores: scores, labels: labels, epsilon: eps, lipschitz: t.lipschitz)
            fgsmRuns[e].append(fgsm)
            pgdRuns[e].append(pgd)
            certifiedRuns[e].append(certified)
        }
        print(
            "seed \(t.seed), \(name): FGSM \(fgsmRuns.map { formatFixed(100 * $0.last!, decimals: 1) }), PGD \(pgdRuns.map { formatFixed(100 * $0.last!, decimals: 1) })"
        )
    }
    let fgsm = fgsmRuns.map(SeedSpread.init)
    let pgd = pgdRuns.map(SeedSpread.init)
    let certified = certifiedRuns.map(SeedSpread.init)
    for (e, eps) in epsilons.enumerated() {
        try robustness.append([
            name, formatScalar(eps), fgsm[e].meanCell(scale: 100, decimals: 1),
            fgsm[e].standardDeviationCell(scale: 100, decimals: 1), pgd[e].meanCell(scale: 100, decimals: 1),
            pgd[e].standardDeviationCell(scale: 100, decimals: 1), certified[e].meanCell(scale: 100, decimals: 1),
            certified[e].standardDeviationCell(scale: 100, decimals: 1),
        ])
    }
    // One colour per model; FGSM solid with discs, PGD dashed with triangles, so where the two
    // attacks give the same accuracy both lines stay visible.
    let mlp = name.hasPrefix("explicit MLP")
    let short = mlp ? "explicit MLP" : "implicit, n = 100"
    let color = Color.series(mlp ? 1 : 0)
    try curves.add(
        x: epsilons, y: fgsm.map { 100 * $0.mean }, label: "\(short): FGSM", color: color,
        yErrors: fgsm.map { $0.errorBar(scale: 100) })
    try curves.add(
        x: epsilons, y: pgd.map { 100 * $0.mean }, label: "\(short): PGD-10", color: color, marker: .triangle,
        dashed: true, yErrors: pgd.map { $0.errorBar(scale: 100) })
}
try robustness.write(
    to: outputDirectory.appendingPathComponent("robustness"),
    caption:
        "Accuracy on the first \(attackSamples) test images under ℓ∞ attacks of radius ε (FGSM; PGD with 10 steps of ε/4), and the share certified robust by the Lipschitz bound (margin > 2Lε); \(seedNote)."
)
try curves.write(to: outputDirectory.appendingPathComponent("robustness"), formats: formats)
print(
    "wrote \(outputDirectory.path)/{models,robustness}.{md,csv} and the figures accuracy-vs-parameters, robustness (\(formats.map(\.rawValue).joined(separator: ", ")))"
)
