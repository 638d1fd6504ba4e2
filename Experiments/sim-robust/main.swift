// SIM fits aimed at robustness on FashionMNIST (El Ghaoui et al. 2021, robustness section; Tsai et
// al. 2022, robust SIM).
//
// The certified ℓ∞ Lipschitz constant of an implicit model with a 1-Lipschitz φ is at most
// ‖C‖∞‖B‖∞/(1 − ‖A‖∞) + ‖D‖∞. A robust SIM fit caps the ℓ1 norm of every row of B (stage 1), of
// C and D (stage 2) and uses a smaller κ (‖A‖∞ ≤ κ): convex row problems for the exact solver
// (SIMExactSolver.caps), certified by their duality gaps.
//
// For each seed (teacher training and sample draw both seeded): the teacher 784-64-32-16-10
// (ReLU, no bias, Adam 0.01, batch 128, 5 epochs, pixels in [0, 1]), rescaled to ‖W‖∞ ≤ κ per
// hidden layer; the sparse SIM model of sim-sweep (λ_state 35, κ 0.99, no caps); and a family of
// robust SIM fits, each on the states of 2 000 random training images collected from the teacher
// rescaled to the fit's κ. Every model: clean test accuracy (10 000 images), and on the first
// 1 000 test images FGSM and PGD-10 (steps of ε/4) accuracy and the certified accuracy (margin
// > 2Lε) for ε ∈ {0, 0.01, 0.02, 0.05, 0.1}. Mean ± standard deviation over 3 seeds.
//
// Writes robust-models.{md,csv} (one row per model), robust.{md,csv} (one row per model and ε),
// and the figures robust-pgd (PGD-10 accuracy against ε, error bars ± one standard deviation)
// and robust-frontier (clean accuracy against PGD-10 accuracy at ε = 0.05), as PNG and PDF.
//
//     swift run -c release sim-robust [--quick] [--output results] [--formats png,pdf] [--seeds N]
//         [--fits "κ,b,c,d[,ε];κ,b,c,d[,ε];…"]
//
// --fits replaces the robust family (each fit: κ, then the caps on B, C and D, "-" for none, and
// optionally the radius ε of PGD samples).
//
// PGD samples: the fit's 2 000 images are joined by PGD-10 examples of the teacher at radius ε
// (steps ε/4), each paired with its clean image's states, pre-activations and teacher outputs.
// The row problems stay convex (twice the samples); the rows learn to map a perturbed image to
// what the teacher computes on the clean one (stage 2 on states regenerated from the perturbed
// inputs by the fitted A, B, as at test time).
//
// Quick mode (for the test suite): 1 seed, the sparse fit and one robust fit, teacher of 1 epoch
// on 5 000 images, states of 300 images, 2 000 test images, attacks on 200 of them; writes under
// results/quick/sim/.
import ExperimentSupport
import Foundation
import IDL
import IDLPlot

useLineBufferedStandardOutput()
let options = ExperimentOptions.parseOrExit(
    values: ["--output", "--formats", "--seeds", "--fits"], flags: ["--quick"])
let quick = options.flag("--quick")
let formats = options.figureFormats().compactMap(FigureFormat.init(rawValue:))
let outputDirectory = URL(fileURLWithPath: options.string("--output") ?? "results").appendingPathComponent(
    (quick ? "quick/" : "") + "sim")
let seedCount = options.int("--seeds") ?? (quick ? 1 : 3)
guard seedCount >= 1 else {
    print("sim-robust: --seeds must be at least 1, got \(seedCount)")
    exit(2)
}
let sampleCount = quick ? 300 : 2000
let teacherEpochs = quick ? 1 : 5
let attackSamples = quick ? 200 : 1000
let epsilons = [0.0, 0.01, 0.02, 0.05, 0.1]
let frontierEpsilon = 0.05

/// One SIM fit of the family: κ and the row caps (nil: none), λ_state, and the radius of the
/// PGD examples added to its samples (nil: none).
struct FitSpec {
    var kappa: Double
    var caps: SIMRowCaps
    var lambdaState: Double
    var adversarialEpsilon: Double? = nil

    var name: String {
        if caps == SIMRowCaps() && kappa == 0.99 { return "SIM sparse (λ_state \(formatScalar(lambdaState)))" }
        func cap(_ letter: String, _ v: Double?) -> String? { v.map { "\(letter) \(formatScalar($0))" } }
        let parts =
            [
                cap("b", caps.b), cap("c", caps.c), cap("d", caps.d),
                adversarialEpsilon.map { "PGD samples ε \(formatScalar($0))" },
            ]
            .compactMap { $0 }
        return "SIM robust (κ \(formatScalar(kappa))\(parts.isEmpty ? "" : ", " + parts.joined(separator: ", ")))"
    }
}

let sparse = FitSpec(kappa: 0.99, caps: SIMRowCaps(), lambdaState: 35)
// The robust family: D capped (‖D‖∞ ≤ 1: the sparse fit's pixel→logit map D has ‖D‖∞ in the
// hundreds) with κ from 0.5 down to 0.05, one fit that also caps B, and two fits whose samples
// also hold PGD examples (ε 0.05) of the teacher paired with the clean images' states. Quick
// mode: the κ 0.1 fit, without and with the PGD samples.
let defaultFamily: [FitSpec] =
    quick
    ? [
        FitSpec(kappa: 0.1, caps: SIMRowCaps(d: 1), lambdaState: 35),
        FitSpec(kappa: 0.1, caps: SIMRowCaps(d: 1), lambdaState: 35, adversarialEpsilon: 0.05),
    ]
    : [
        FitSpec(kappa: 0.5, caps: SIMRowCaps(d: 1), lambdaState: 35),
        FitSpec(kappa: 0.25, caps: SIMRowCaps(d: 1), lambdaState: 35),
        FitSpec(kappa: 0.1, caps: SIMRowCaps(d: 1), lambdaState: 35),
        FitSpec(kappa: 0.05, caps: SIMRowCaps(d: 1), lambdaState: 35),
        FitSpec(kappa: 0.1, caps: SIMRowCaps(b: 100, d: 1), lambdaState: 35),
        FitSpec(kappa: 0.25, caps: SIMRowCaps(d: 1), lambdaState: 35, adversarialEpsilon: 0.05),
        FitSpec(kappa: 0.1, caps: SIMRowCaps(d: 1), lambdaState: 35, adversarialEpsilon: 0.05),
    ]

/// `--fits "κ,b,c,d;…"`.
func parseFamily(_ text: String) -> [FitSpec] {
    text.split(separator: ";").map { item in
        let fields = item.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard fields.count == 4 || fields.count == 5, let kappa = Double(fields[0]), kappa > 0, kappa < 1 else {
            print(
                "sim-robust: --fits wants items \"κ,b,c,d\" or \"κ,b,c,d,ε\" with κ in (0, 1), \"-\" for no cap and ε the radius of PGD samples, got \"\(item)\""
            )
            exit(2)
        }
        func cap(_ s: String) -> Double? {
            if s == "-" { return nil }
            guard let v = Double(s), v > 0, v.isFinite else {
                print("sim-robust: --fits: a cap must be a positive number or \"-\", got \"\(s)\"")
                exit(2)
            }
            return v
        }
        return FitSpec(
            kappa: kappa, caps: SIMRowCaps(b: cap(fields[1]), c: cap(fields[2]), d: cap(fields[3])), lambdaState: 35,
            adversarialEpsilon: fields.count == 5 ? cap(fields[4]) : nil)
    }
}
let family = options.string("--fits").map(parseFamily) ?? defaultFamily

/// What one model gives on one seed.
struct Measurement {
    var clean: Double
    var fgsm: [Double]
    var pgd: [Double]
    var certified: [Double]
    var lipschitz: Double
    var nonzeros: Int
    var norms: (a: Double, b: Double, c: Double, d: Double)?
}

/// Mean and (sample) standard deviation; std 0 for one value.
func meanStd(_ values: [Double]) -> (mean: Double, std: Double) {
    let mean = values.reduce(0, +) / Double(values.count)
    guard values.count > 1 else { return (mean, 0) }
    let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count - 1)
    return (mean, variance.squareRoot())
}

let (fullTrain, fullTest) = try FashionMNIST.loadTrainAndTest(scaling: .unit, as: Float.self)
let test = quick ? fullTest.prefix(2000) : fullTest
let attackSet = test.prefix(attackSamples)
let labels = attackSet.labels
let models = [("teacher 784-64-32-16-10", nil as FitSpec?), (sparse.name, sparse)] + family.map { ($0.name, $0) }
var results = [[Measurement]](repeating: [], count: models.count)
var teacherWeights = 0

print(
    "FashionMNIST \(quick ? 5000 : fullTrain.count) train / \(test.count) test, \(seedCount) seed(s)\(quick ? " (quick mode)" : "")"
)
for seed in 0..<seedCount {
    var g = SeededGenerator(seed: UInt64(seed))
    let train = quick ? try fullTrain.randomSubset(5000, using: &g) : fullTrain
    let teacher = Sequential<Float>.mlp([784, 64, 32, 16, 10], bias: false, using: &g)
    let optimizer = try Adam(teacher.parameters, learningRate: 0.01)
    _ = try trainClassifier(
        teacher, optimizer: optimizer, train: train, test: nil, epochs: teacherEpochs, batchSize: 128, generator: &g)
    try rescaleForWellPosedness(teacher, kappa: 0.99)
    teacherWeights = teacher.parameters.reduce(0) { $0 + $1.value.count - $1.value.zeroCount }
    let subset = try train.randomSubset(sampleCount, using: &g)

    // The teacher.
    let teacherLipschitz = try lipschitzBound(teacher)
    let teacherScores = try teacher.predict(attackSet.inputs)
    var m = Measurement(
        clean: try evaluateAccuracy(teacher, test), fgsm: [], pgd: [], certified: [], lipschitz: teacherLipschitz,
        nonzeros: teacherWeights, norms: nil)
    for eps in epsilons {
        let fgsm =
            eps == 0
            ? attackSet.inputs
            : try Attack.fgsm(teacher, inputs: attackSet.inputs, labels: labels, epsilon: eps, range: 0...1)
        let pgd =
            eps == 0
            ? attackSet.inputs
            : try Attack.pgd(
                teacher, inputs: attackSet.inputs, labels: labels, epsilon: eps, stepSize: eps / 4, steps: 10,
                range: 0...1)
        m.fgsm.append(try Metrics.accuracy(teacher.predict(fgsm), labels))
        m.pgd.append(try Metrics.accuracy(teacher.predict(pgd), labels))
        m.certified.append(
            try certifiedRobustAccuracy(
                scores: teacherScores, labels: labels, epsilon: eps, lipschitz: teacherLipschitz))
    }
    results[0].append(m)
    print(
        "seed \(seed): teacher \(formatFixed(100 * m.clean, decimals: 2)) %, L = \(formatScalar(teacherLipschitz, digits: 4)), PGD \(m.pgd.map { formatFixed(100 * $0, decimals: 1) })"
    )

    // The SIM fits, by decreasing κ: the teacher is rescaled to each κ before its states are
    // collected (the same function, so the teacher's own numbers above do not change).
    let testInputs = test.inputs.converted(to: Double.self)
    let attackInputs = attackSet.inputs.converted(to: Double.self)
    var statesKappa = 0.0
    var states: SIMStates<Double>? = nil
    for (index, entry) in models.enumerated().dropFirst().sorted(by: { $0.element.1!.kappa > $1.element.1!.kappa }) {
        let spec = entry.1!
        if states == nil || statesKappa != spec.kappa {
            try rescaleForWellPosedness(teacher, kappa: spec.kappa)
            states = try StateExtraction.states(of: teacher, inputs: subset.inputs).converted(to: Double.self)
            statesKappa = spec.kappa
        }
        var fitStates = states!
        if let eps = spec.adversarialEpsilon {
            // PGD examples of the teacher's own samples, paired with the clean samples' states,
            // pre-activations and outputs: rows are fitted to map a perturbed image to the
            // clean image's targets (the rescaling does not change the teacher's function).
            let perturbed = try Attack.pgd(
                teacher, inputs: subset.inputs, labels: subset.labels, epsilon: eps, stepSize: eps / 4, steps: 10,
                range: 0...1
            ).converted(to: Double.self)
            let clean = states!
            func twice(_ a: Matrix<Double>) -> Matrix<Double> { .hcat([a, a]) }
            fitStates = try SIMStates(
                inputs: .hcat([clean.inputs, perturbed]), states: twice(clean.states),
                preActivations: twice(clean.preActivations), outputs: twice(clean.outputs),
                activation: clean.activation, constantInputRow: clean.constantInputRow)
        }
        var solver = SIMExactSolver(
            lambdaState: spec.lambdaState, lambdaOutput: 1, lambda2: 2, wellPosedness: .infinityNorm(kappa: spec.kappa),
            tolerance: 1e-4, zeroThreshold: 1e-8, regenerateStates: true)
        solver.caps = spec.caps
        let start = monotonicSeconds()
        let fit = try solver.fit(fitStates, progress: nil)
        let fitSeconds = monotonicSeconds() - start
        let model = try SIMModel(fit)
        let certificate = LipschitzCertificate(model.implicitModel)
        let scores = try model.predict(attackInputs)
        var r = Measurement(
            clean: try Metrics.accuracy(try model.predict(testInputs), test.labels), fgsm: [], pgd: [], certified: [],
            lipschitz: certificate.outputConstant, nonzeros: model.nonzeros,
            norms: (certificate.normA, certificate.normB, certificate.normC, certificate.normD))
        for eps in epsilons {
            let fgsm =
                eps == 0
                ? attackInputs
                : try Attack.fgsm(model.implicitModel, inputs: attackInputs, labels: labels, epsilon: eps, range: 0...1)
            let pgd =
                eps == 0
                ? attackInputs
                : try Attack.pgd(
                    model.implicitModel, inputs: attackInputs, labels: labels, epsilon: eps, stepSize: eps / 4,
                    steps: 10,
                    range: 0...1)
            r.fgsm.append(try Metrics.accuracy(model.predict(fgsm), labels))
            r.pgd.append(try Metrics.accuracy(model.predict(pgd), labels))
            r.certified.append(try certificate.certifiedAccuracy(scores: scores, labels: labels, epsilon: eps))
        }
        results[index].append(r)
        print(
            "seed \(seed): \(entry.0): \(formatFixed(100 * r.clean, decimals: 2)) %, \(r.nonzeros) nonzeros, ‖A‖∞ \(formatScalar(certificate.normA, digits: 4)), ‖B‖∞ \(formatScalar(certificate.normB, digits: 4)), ‖C‖∞ \(formatScalar(certificate.normC, digits: 4)), ‖D‖∞ \(formatScalar(certificate.normD, digits: 4)), L = \(formatScalar(r.lipschitz, digits: 4)), PGD \(r.pgd.map { formatFixed(100 * $0, decimals: 1) }), certified \(r.certified.map { formatFixed(100 * $0, decimals: 1) }), fit \(formatFixed(fitSeconds, decimals: 1)) s\(fit.report.warnings.isEmpty ? "" : "; " + fit.report.warnings.joined(separator: "; "))"
        )
    }
}

// Tables.
func percent(_ values: [Double]) -> (mean: Double, std: Double) { meanStd(values.map { 100 * $0 }) }
let seedNote =
    "Mean and standard deviation over \(seedCount) seed(s) (teacher initialisation and training order, and the \(sampleCount) training images whose states are fitted, all drawn from the seed)."
var summary = ResultTable(columns: [
    "model", "κ", "B cap", "C cap", "D cap", "test accuracy (%)", "test accuracy std", "% of teacher's nonzeros",
    "‖B‖∞", "‖C‖∞", "‖D‖∞", "certified L∞ Lipschitz", "PGD-10 (%) at ε = 0.05", "PGD-10 std at ε = 0.05",
])
let k05 = epsilons.firstIndex(of: frontierEpsilon)!
for (i, (name, spec)) in models.enumerated() {
    let rs = results[i]
    let clean = percent(rs.map(\.clean))
    let pgd = percent(rs.map { $0.pgd[k05] })
    func norm(_ key: KeyPath<Measurement, Double?>) -> String {
        rs[0].norms == nil ? "—" : formatScalar(meanStd(rs.map { $0[keyPath: key]! }).mean, digits: 4)
    }
    try summary.append([
        name, spec.map { formatScalar($0.kappa) } ?? "—", spec?.caps.b.map { formatScalar($0) } ?? "—",
        spec?.caps.c.map { formatScalar($0) } ?? "—", spec?.caps.d.map { formatScalar($0) } ?? "—",
        formatFixed(clean.mean, decimals: 2), formatFixed(clean.std, decimals: 2),
        formatFixed(100 * meanStd(rs.map { Double($0.nonzeros) }).mean / Double(teacherWeights), decimals: 1),
        norm(\.normB), norm(\.normC), norm(\.normD),
        formatScalar(meanStd(rs.map(\.lipschitz)).mean, digits: 4),
        formatFixed(pgd.mean, decimals: 1), formatFixed(pgd.std, decimals: 1),
    ])
}
extension Measurement {
    var normB: Double? { norms?.b }
    var normC: Double? { norms?.c }
    var normD: Double? { norms?.d }
}
/// Writes `table` as <name>.md and .csv with the seeds' note, `note` and the verification line.
func write(_ table: ResultTable, _ name: String, note: String, caption: String) throws {
    var table = table
    table.footnote =
        "\(seedNote) \(note) Every cell is bitwise the same for any number of threads on the same CPU and BLAS kernels; on another CPU, rounding moves them slightly (results/README.md, Verifying)."
    try table.write(to: outputDirectory.appendingPathComponent(name), caption: caption)
    print(table.markdown())
}
try write(
    summary, "robust-models",
    note:
        "The norms and the certified constant L (the smaller of ‖C‖∞‖B‖∞/(1 − ‖A‖∞) + ‖D‖∞ and the entrywise bound; for the teacher ‖ |W₄||W₃||W₂||W₁| ‖∞) are means over the seeds.",
    caption:
        "Robust SIM on FashionMNIST: teacher 784-64-32-16-10 (ReLU, no bias, \(teacherEpochs) epoch(s)), SIM fitted to the states of \(sampleCount) training images with the exact solver (λ_state 35, λ_output 1, λ₂ 2, ‖A‖∞ ≤ κ, and caps on every row's ℓ1 norm of B, C, D where given), test accuracy on \(test.count) test images, PGD-10 (10 steps of ε/4) on the first \(attackSamples)."
)

var attacks = ResultTable(columns: [
    "model", "ε", "FGSM (%)", "FGSM std", "PGD-10 (%)", "PGD-10 std", "certified (%)", "certified std",
])
for (i, (name, _)) in models.enumerated() {
    let rs = results[i]
    for (k, eps) in epsilons.enumerated() {
        let f = percent(rs.map { $0.fgsm[k] })
        let p = percent(rs.map { $0.pgd[k] })
        let c = percent(rs.map { $0.certified[k] })
        try attacks.append([
            name, formatScalar(eps), formatFixed(f.mean, decimals: 1), formatFixed(f.std, decimals: 1),
            formatFixed(p.mean, decimals: 1), formatFixed(p.std, decimals: 1), formatFixed(c.mean, decimals: 1),
            formatFixed(c.std, decimals: 1),
        ])
    }
}
try write(
    attacks, "robust",
    note:
        "Certified: correctly classified with a margin above 2Lε, L the model's certified ℓ∞ Lipschitz constant (robust-models.md).",
    caption:
        "Accuracy of the teacher, the sparse SIM model and the robust SIM fits on the first \(attackSamples) test images under ℓ∞ attacks of radius ε (pixels in [0, 1], clipped): FGSM, PGD with 10 steps of ε/4, and the share certified robust. Models as in robust-models.md."
)

// Figures: error bars are drawn as unlabelled vertical (and, on the frontier, horizontal)
// segments of ± one standard deviation in the series' colour.
let markers: [MarkerShape] = [.square, .circle, .triangle, .diamond]
var curves = LinePlot(
    title:
        "Accuracy under PGD-10 (FashionMNIST, pixels in [0, 1]; ± 1 std over \(seedCount) seed\(seedCount == 1 ? "" : "s"))",
    xLabel: "ε (ℓ∞ radius)", yLabel: "accuracy (%)")
for (i, (name, _)) in models.enumerated() {
    let stats = epsilons.indices.map { k in percent(results[i].map { $0.pgd[k] }) }
    let color = Color.series(i)
    try curves.add(x: epsilons, y: stats.map(\.mean), label: name, color: color, marker: markers[i % markers.count])
    for (eps, s) in zip(epsilons, stats) where s.std > 0 {
        try curves.add(x: [eps, eps], y: [s.mean - s.std, s.mean + s.std], color: color, markers: false)
    }
}
try curves.write(to: outputDirectory.appendingPathComponent("robust-pgd"), formats: formats)

var frontier = LinePlot(
    title: "Clean accuracy against accuracy under PGD-10 at ε = \(formatScalar(frontierEpsilon)) (± 1 std)",
    xLabel: "PGD-10 accuracy at ε = \(formatScalar(frontierEpsilon)) (%)", yLabel: "clean test accuracy (%)")
for (i, (name, _)) in models.enumerated() {
    let clean = percent(results[i].map(\.clean))
    let pgd = percent(results[i].map { $0.pgd[k05] })
    let color = Color.series(i)
    try frontier.add(
        x: [pgd.mean], y: [clean.mean], label: name, color: color, markers: true, marker: markers[i % markers.count])
    if clean.std > 0 {
        try frontier.add(
            x: [pgd.mean, pgd.mean], y: [clean.mean - clean.std, clean.mean + clean.std], color: color, markers: false)
    }
    if pgd.std > 0 {
        try frontier.add(
            x: [pgd.mean - pgd.std, pgd.mean + pgd.std], y: [clean.mean, clean.mean], color: color, markers: false)
    }
}
// Room around the points (the defaults put the extreme ones on the frame).
let frontierPoints = models.indices.map { i in
    (pgd: percent(results[i].map { $0.pgd[k05] }), clean: percent(results[i].map(\.clean)))
}
let xs = frontierPoints.flatMap { [$0.pgd.mean - $0.pgd.std, $0.pgd.mean + $0.pgd.std] }
let ys = frontierPoints.flatMap { [$0.clean.mean - $0.clean.std, $0.clean.mean + $0.clean.std] }
if let x0 = xs.min(), let x1 = xs.max(), let y0 = ys.min(), let y1 = ys.max() {
    let dx = max(1, 0.1 * (x1 - x0))
    let dy = max(0.3, 0.1 * (y1 - y0))
    frontier.xRange = (x0 - dx)...(x1 + dx)
    frontier.yRange = (y0 - dy)...(y1 + dy)
}
try frontier.write(to: outputDirectory.appendingPathComponent("robust-frontier"), formats: formats)
print(
    "wrote \(outputDirectory.path)/{robust,robust-models}.{md,csv} and the figures robust-pgd, robust-frontier (\(formats.map(\.rawValue).joined(separator: ", ")))"
)
