// Experiments 3 and 4 of the experiments issue: SIM sparsity and SIM robustness on FashionMNIST.
//
// 3. Sparsity: the exact SIM solver for a sweep of λ_state (λ_output 1, λ₂ 2), with ‖A‖∞ ≤ 0.99
//    and with a strictly upper triangular A, beside least squares, ADMM (300 iterations) and
//    one-shot magnitude pruning of the teacher at 30 … 80 % per layer. Table sweep.{md,csv},
//    the accuracy / sparsity frontier frontier.png (with an inset on the 80–87 % band), and at
//    a low, a middle and a high λ_state the spy plot of A (spy-A-<λ>.png) and a 28×28 map of
//    how many state rows of B read each pixel (pixels-B-<λ>.png).
// 4. Robustness: FGSM and PGD (10 steps of ε/4) accuracy against ε for the teacher and the
//    SIM models of the sweep (exact, ‖A‖∞ ≤ 0.99). Table robustness.{md,csv}, figures
//    robustness.png (PGD accuracy vs ε) and robustness-vs-sparsity.png (accuracy at ε = 0.02
//    vs % nonzeros).
//
// Teacher 784-64-32-16-10 (ReLU, no bias, Adam 0.01, batch 128, 5 epochs, pixels in [0, 1]),
// rescaled so that its hidden layers have ‖W‖∞ ≤ 0.99; SIM fitted to the states of 2 000
// random training images (in Double); accuracy on the 10 000 test images.
//
// Everything is repeated for the seeds 0 … N − 1 (--seeds N, default 3; quick mode 1): seed s
// trains the teacher and draws the state samples (SeededSIMTeacher). Tables give the mean and the
// sample standard deviation over the seeds, figures the mean with ± one standard deviation as
// error bars; the spy plots and pixel maps show seed 0's models.
//
//     swift run -c release sim-sweep [--quick] [--double] [--seeds 3] [--output results] [--models DIR] [--formats png,pdf]
//
// Figures are written as PNG and PDF (--formats: a comma-separated list of png, pdf, svg).
//
// --double trains the teacher and computes everything in Double (the default trains the teacher
// in Float; the SIM fits are in Double either way) and writes under sim-double/ instead of sim/:
// how much of a difference between machines is rounding shows in how far the two runs differ
// on each machine.
//
// --models DIR also saves every fitted SIM model there as model-<i>.safetensors (i: the row of
// sweep.md after the teacher; seed 0, and model-s<seed>-<i> for the other seeds), for comparing
// runs bit for bit.
//
// Quick mode (for the test suite): teacher of 1 epoch on 5 000 images, states of 300 images,
// λ_state ∈ {35, 150}, 2 000 test images, attacks on 200 of them; writes under results/quick/sim/.
import ExperimentSupport
import Foundation
import IDL
import IDLPlot

useLineBufferedStandardOutput()
let options = ExperimentOptions.parseOrExit(
    values: ["--output", "--formats", "--models", "--seeds"], flags: ["--quick", "--double"])
let quick = options.flag("--quick")
let seeds = experimentSeeds(options, quick: quick)
let formats = options.figureFormats().compactMap(FigureFormat.init(rawValue:))
// Quick runs write under results/quick/ (not committed), so they never overwrite the full results.
let outputDirectory = URL(fileURLWithPath: options.string("--output") ?? "results").appendingPathComponent(
    (quick ? "quick/" : "") + (options.flag("--double") ? "sim-double" : "sim"))
let lambdas: [Double] = quick ? [35, 150] : [5, 15, 35, 70, 150]
let sampleCount = quick ? 300 : 2000
let teacherEpochs = quick ? 1 : 5
let attackSamples = quick ? 200 : 1000
let epsilons = [0.0, 0.01, 0.02, 0.05, 0.1]
let pruneFractions = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
let kappa = 0.99
let admmLambda = 35.0

struct Point {
    var method: String
    var lambda: Double?
    var accuracy: Double
    var nonzeros: Int
    var normA: Double?
    var fit: Double?
    var model: SIMModel<Double>?
}

/// The whole experiment with the teacher (and attacks on it) in precision T.
@MainActor func runSweep<T: BLASScalar>(_: T.Type) throws {
    var (train, test) = try FashionMNIST.loadTrainAndTest(scaling: .unit, as: T.self)
    if quick { test = test.prefix(2000) }
    try FileManager.default.createDirectory(at: outputDirectory, withIntermediateDirectories: true)
    print(
        "FashionMNIST \(quick ? 5000 : train.count) train / \(test.count) test, seeds \(seeds)\(quick ? " (quick mode)" : "")"
    )
    let testInputs = test.inputs.converted(to: Double.self)
    let attackSet = test.prefix(attackSamples)
    let attackInputs = attackSet.inputs.converted(to: Double.self)
    let labels = attackSet.labels
    let ballMethod = "exact, ‖A‖∞ ≤ 0.99"
    let triangularMethod = "exact, A triangular"
    var sweepRows = [SeedRow]()
    var robustRows = [SeedRow]()
    var blocks = [Int]()
    var teacherNonzeros = 0

    for seed in seeds {
        let teacherRun = try SeededSIMTeacher<T>(
            seed: seed, layers: [784, 64, 32, 16, 10], train: train, test: test, trainSubset: quick ? 5000 : nil,
            epochs: teacherEpochs, sampleCount: sampleCount, kappa: kappa)
        let teacher = teacherRun.network
        let states = teacherRun.states
        blocks = teacherRun.blocks
        teacherNonzeros = teacherRun.nonzeros
        func percentOfTeacher(_ nonzeros: Int) -> Double { 100 * Double(nonzeros) / Double(teacherNonzeros) }
        print(
            "seed \(seed): teacher \(formatFixed(100 * teacherRun.accuracy, decimals: 2)) %, \(teacherNonzeros) weights; states of \(sampleCount) images, blocks \(blocks) (last layer first)"
        )

        // Experiment 3: the sweep.
        var points = [Point]()
        func fitAndEvaluate(_ method: String, lambda: Double?, _ solver: some SIMSolver) throws -> Point {
            let start = monotonicSeconds()
            let fit = try solver.fit(states, progress: nil)
            let seconds = monotonicSeconds() - start
            let model = try SIMModel(fit)
            let accuracy = try Metrics.accuracy(try model.predict(testInputs), test.labels)
            let p = Point(
                method: method, lambda: lambda, accuracy: accuracy, nonzeros: model.nonzeros,
                normA: Double(fit.A.infinityNorm), fit: seconds, model: model)
            print(
                "seed \(seed), \(method)\(lambda.map { ", λ = \(formatScalar($0))" } ?? ""): \(formatFixed(100 * accuracy, decimals: 2)) %, \(p.nonzeros) nonzeros (\(formatFixed(percentOfTeacher(p.nonzeros), decimals: 1)) % of the teacher), ‖A‖∞ = \(formatScalar(p.normA!, digits: 4)), fit \(formatFixed(seconds, decimals: 2)) s\(fit.report.warnings.isEmpty ? "" : "; \(fit.report.warnings.count) warning(s)")"
            )
            points.append(p)
            return p
        }
        func exact(_ lambda: Double, _ rule: SIMWellPosedness) -> SIMExactSolver {
            SIMExactSolver(
                lambdaState: lambda, lambdaOutput: 1, lambda2: 2, wellPosedness: rule, tolerance: 1e-4,
                zeroThreshold: 1e-8, regenerateStates: true)
        }
        var ballModels = [Point]()
        for lambda in lambdas {
            ballModels.append(
                try fitAndEvaluate(ballMethod, lambda: lambda, exact(lambda, .infinityNorm(kappa: kappa))))
        }
        for lambda in lambdas {
            _ = try fitAndEvaluate(triangularMethod, lambda: lambda, exact(lambda, .strictlyUpperTriangular))
        }
        _ = try fitAndEvaluate("least squares", lambda: nil, SIMLeastSquaresSolver(wellPosedness: .unconstrained))
        _ = try fitAndEvaluate(
            "ADMM, 300 iterations", lambda: admmLambda,
            SIMADMMSolver(
                lambdaState: admmLambda, lambdaOutput: 1, wellPosedness: .infinityNorm(kappa: kappa),
                maxIterations: 300, zeroThreshold: 1e-8, regenerateStates: true))

        var row = 0
        func sweepRow(_ method: String, _ lambda: String, _ values: [(String, Double)]) {
            record(&sweepRows, row, labels: [method, lambda], values)
            row += 1
        }
        sweepRow(
            "teacher 784-64-32-16-10", "—",
            [("accuracy", teacherRun.accuracy), ("nonzeros", Double(teacherNonzeros)), ("share", 100)])
        for p in points {
            sweepRow(
                p.method, p.lambda.map { formatScalar($0) } ?? "—",
                [
                    ("accuracy", p.accuracy), ("nonzeros", Double(p.nonzeros)),
                    ("share", percentOfTeacher(p.nonzeros)), ("normA", p.normA!), ("fit", p.fit!),
                ])
        }
        for fraction in pruneFractions {
            let (network, nonzeros) = try magnitudePruned(teacher, fraction: fraction)
            let accuracy = try evaluateAccuracy(network, test)
            print(
                "seed \(seed), pruning \(formatFixed(100 * fraction, decimals: 0)) %: \(formatFixed(100 * accuracy, decimals: 2)) %, \(nonzeros) nonzeros"
            )
            sweepRow(
                "magnitude pruning of the teacher, \(formatFixed(100 * fraction, decimals: 0)) % per layer", "—",
                [("accuracy", accuracy), ("nonzeros", Double(nonzeros)), ("share", percentOfTeacher(nonzeros))])
        }
        if let folder = options.string("--models") {
            let directory = URL(fileURLWithPath: folder)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            for (i, p) in points.enumerated() {
                try p.model?.implicitModel.save(
                    to: directory.appendingPathComponent("model-\(seed == 0 ? "" : "s\(seed)-")\(i + 1).safetensors"))
            }
        }

        // Spy plots of A, and maps of the pixels B reads, at a low, a middle and a high λ_state
        // (quick mode: both λ), for seed 0.
        if seed == seeds[0] {
            let blockLabels = ["layer 3", "layer 2", "layer 1"]
            for i in Array(Set([0, ballModels.count / 2, ballModels.count - 1])).sorted() {
                let p = ballModels[i]
                let fit = p.model!.fit
                let tag = formatScalar(p.lambda!)
                let spyA = try SpyPlot(
                    matrix: fit.A, rowBlocks: blocks, colBlocks: blocks, rowBlockLabels: blockLabels,
                    colBlockLabels: blockLabels, title: "A (states × states), λ_state = \(tag), seed \(seed)")
                try spyA.write(
                    to: outputDirectory.appendingPathComponent("spy-A-\(tag)"), formats: formats, width: 640,
                    height: 640)
                try pixelUsageMap(fit.B, title: "Pixels B reads: state rows using each pixel, λ_state = \(tag)").write(
                    to: outputDirectory.appendingPathComponent("pixels-B-\(tag)"), formats: formats, width: 640,
                    height: 600)
            }
        }

        // Experiment 4: robustness of the teacher and of the ‖A‖∞ ≤ 0.99 SIM models.
        var robustRow = 0
        func attackCurves(
            _ name: String, share: Double, fgsm: (Double) throws -> Double, pgd: (Double) throws -> Double
        ) throws {
            var curve = [String]()
            for eps in epsilons {
                let f = try fgsm(eps)
                let p = eps == 0 ? f : try pgd(eps)
                record(
                    &robustRows, robustRow, labels: [name, formatScalar(eps)],
                    [("share", share), ("fgsm", f), ("pgd", p)])
                robustRow += 1
                curve.append("\(formatFixed(100 * f, decimals: 1))/\(formatFixed(100 * p, decimals: 1))")
            }
            print("seed \(seed), \(name): FGSM/PGD \(curve.joined(separator: ", "))")
        }
        try attackCurves(
            "teacher", share: 100,
            fgsm: { eps in
                try Metrics.accuracy(
                    teacher.predict(
                        eps == 0
                            ? attackSet.inputs
                            : Attack.fgsm(
                                teacher, inputs: attackSet.inputs, labels: labels, epsilon: eps, range: 0...1)),
                    labels)
            },
            pgd: { eps in
                try Metrics.accuracy(
                    teacher.predict(
                        Attack.pgd(
                            teacher, inputs: attackSet.inputs, labels: labels, epsilon: eps, stepSize: eps / 4,
                            steps: 10, range: 0...1)), labels)
            })
        for p in ballModels {
            let model = p.model!
            try attackCurves(
                "SIM, λ_state = \(formatScalar(p.lambda!))", share: percentOfTeacher(p.nonzeros),
                fgsm: { eps in
                    try Metrics.accuracy(
                        model.predict(
                            eps == 0
                                ? attackInputs
                                : Attack.fgsm(
                                    model.implicitModel, inputs: attackInputs, labels: labels, epsilon: eps,
                                    range: 0...1)),
                        labels)
                },
                pgd: { eps in
                    try Metrics.accuracy(
                        model.predict(
                            Attack.pgd(
                                model.implicitModel, inputs: attackInputs, labels: labels, epsilon: eps,
                                stepSize: eps / 4, steps: 10, range: 0...1)), labels)
                })
        }
    }

    // The tables: mean and standard deviation over the seeds.
    let seedNote = ExperimentSupport.seedNote(
        seeds, draws: "each trains its own teacher and draws its own state samples")
    var sweep = ResultTable(columns: [
        "method", "λ_state", "test accuracy (%)", "test accuracy std", "nonzeros", "% of teacher's nonzeros", "‖A‖∞",
        "fit (s)",
    ])
    sweep.timingColumns = ["fit (s)"]
    sweep.footnote =
        "\(seedNote) Every cell except fit (s) is bitwise the same for any number of threads on the same CPU and BLAS kernels (see MANIFEST.json); on another CPU, rounding moves accuracies and nonzero counts slightly (results/README.md, Verifying)."
    for r in sweepRows {
        let v = r.values
        try sweep.append(
            r.labels + [
                v.spread("accuracy").meanCell(scale: 100, decimals: 2),
                v.spread("accuracy").standardDeviationCell(scale: 100, decimals: 2),
                v.spread("nonzeros").meanCell(decimals: 0), v.spread("share").meanCell(decimals: 1),
                v.contains("normA") ? formatScalar(v.spread("normA").mean, digits: 4) : "—",
                v.contains("fit") ? v.spread("fit").meanCell(decimals: 2) : "—",
            ])
    }
    try sweep.write(
        to: outputDirectory.appendingPathComponent("sweep"),
        caption:
            "SIM sparsity on FashionMNIST: teacher 784-64-32-16-10 (ReLU, no bias, \(teacherEpochs) epoch(s), trained in \(T.typeName)), SIM fitted to the states of \(sampleCount) training images (λ_output 1, λ₂ 2; ADMM with λ_state \(formatScalar(admmLambda)) and λ_output 1), test accuracy on \(test.count) test images, \(seeds.count) seed(s). % of teacher's nonzeros counts all of A, B, C, D against the teacher's \(teacherNonzeros) weights. ADMM returns the consensus average of its split iterates, which is dense (solvers.md lists the soft-thresholded iterate's count); least squares has no sparsity term."
    )
    print(sweep.markdown())

    func rows(_ method: String) -> [SeedRow] { sweepRows.filter { $0.labels[0] == method } }
    func xs(_ rs: [SeedRow]) -> [Double] { rs.map { $0.values.spread("share").mean } }
    func ys(_ rs: [SeedRow]) -> [Double] { rs.map { 100 * $0.values.spread("accuracy").mean } }
    func es(_ rs: [SeedRow]) -> [Double] { rs.map { $0.values.spread("accuracy").errorBar(scale: 100) } }
    var frontier = ScatterPlot(
        title:
            "SIM on FashionMNIST: test accuracy against nonzero weights\(seeds.count > 1 ? " (mean ± std, \(seeds.count) seeds)" : "")",
        xLabel: "nonzeros (% of the teacher's weights)", yLabel: "test accuracy (%)")
    let pruned = sweepRows.filter { $0.labels[0].hasPrefix("magnitude pruning") }
    try frontier.add(
        x: xs(pruned), y: ys(pruned), label: "teacher, magnitude-pruned", color: Color.series(4), connect: true,
        marker: .square, yErrors: es(pruned))
    for (method, label) in [
        ("least squares", "SIM least squares"), ("ADMM, 300 iterations", "SIM ADMM (300 iterations)"),
    ] {
        let rs = rows(method)
        try frontier.add(
            x: xs(rs), y: ys(rs), label: label, color: Color.series(method == "least squares" ? 2 : 3),
            marker: .diamond, yErrors: es(rs))
    }
    let teacherRows = rows("teacher 784-64-32-16-10")
    try frontier.add(
        x: xs(teacherRows), y: ys(teacherRows), label: "teacher, dense", color: Color.series(5), marker: .square,
        yErrors: es(teacherRows))
    // The triangular series dashed with triangles, the ‖A‖∞ series drawn last (on top) with discs and
    // its λ_state labels, so neither hides the other where they run together.
    for method in [triangularMethod, ballMethod] {
        let rs = rows(method).sorted { $0.values.spread("share").mean < $1.values.spread("share").mean }
        let ball = method == ballMethod
        try frontier.add(
            x: xs(rs), y: ys(rs),
            label: ball ? "SIM exact, ‖A‖∞ ≤ 0.99 (labels: λ_state)" : "SIM exact, A strictly upper triangular",
            color: Color.series(ball ? 0 : 1), connect: true,
            pointLabels: ball ? rs.map { "λ = \($0.labels[1])" } : [], marker: ball ? .circle : .triangle,
            dashed: !ball, yErrors: es(rs))
    }
    // The SIM models lie in a narrow band near the teacher's accuracy: magnify it.
    let band = rows(ballMethod) + rows(triangularMethod)
    let bandX = xs(band)
    let bandY = zip(ys(band), es(band)).flatMap { [$0 - $1, $0 + $1] } + ys(teacherRows)
    if let x0 = bandX.min(), let x1 = bandX.max(), let y0 = bandY.min(), let y1 = bandY.max() {
        let dx = max(1, 0.08 * (x1 - x0))
        let dy = max(0.3, 0.12 * (y1 - y0))
        frontier.inset = ZoomInset(x: (x0 - dx)...(x1 + dx), y: (y0 - dy)...(y1 + dy), size: 0.52)
    }
    try frontier.write(to: outputDirectory.appendingPathComponent("frontier"), formats: formats)

    var robustness = ResultTable(columns: [
        "model", "% of teacher's nonzeros", "ε", "FGSM (%)", "FGSM std", "PGD-10 (%)", "PGD-10 std",
    ])
    for r in robustRows {
        let v = r.values
        try robustness.append([
            r.labels[0], v.spread("share").meanCell(decimals: 1), r.labels[1],
            v.spread("fgsm").meanCell(scale: 100, decimals: 1),
            v.spread("fgsm").standardDeviationCell(scale: 100, decimals: 1),
            v.spread("pgd").meanCell(scale: 100, decimals: 1),
            v.spread("pgd").standardDeviationCell(scale: 100, decimals: 1),
        ])
    }
    robustness.footnote =
        "\(seedNote) The SIM models are those of sweep.md (exact solver, ‖A‖∞ ≤ 0.99). Every cell is bitwise the same for any number of threads on the same CPU and BLAS kernels; on another CPU, rounding moves them slightly (results/README.md, Verifying)."
    try robustness.write(
        to: outputDirectory.appendingPathComponent("robustness"),
        caption:
            "Accuracy on the first \(attackSamples) test images under ℓ∞ attacks of radius ε (pixels in [0, 1], clipped): FGSM, and PGD with 10 steps of ε/4. SIM models fitted to the states of \(sampleCount) images with λ_output 1, λ₂ 2; \(seeds.count) seed(s)."
    )
    var curves = LinePlot(
        title: "Accuracy under PGD-10 attacks (FashionMNIST, pixels in [0, 1])", xLabel: "ε (ℓ∞ radius)",
        yLabel: "accuracy (%)\(seeds.count > 1 ? ", mean ± std over \(seeds.count) seeds" : "")")
    let models = robustRows.map { $0.labels[0] }.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
    var atSmallEpsilon:
        [(name: String, share: Double, fgsm: Double, fgsmError: Double, pgd: Double, pgdError: Double)] =
            []
    for name in models {
        let rs = robustRows.filter { $0.labels[0] == name }
        let share = rs[0].values.spread("share").mean
        try curves.add(
            x: epsilons, y: rs.map { 100 * $0.values.spread("pgd").mean },
            label: "\(name) (\(formatFixed(share, decimals: 0)) % nonzeros)",
            marker: [MarkerShape.circle, .square, .triangle, .diamond][curves.seriesCount % 4],
            yErrors: rs.map { $0.values.spread("pgd").errorBar(scale: 100) })
        let k = epsilons.firstIndex(of: 0.02)!
        let f = rs[k].values.spread("fgsm")
        let p = rs[k].values.spread("pgd")
        atSmallEpsilon.append((name, share, 100 * f.mean, f.errorBar(scale: 100), 100 * p.mean, p.errorBar(scale: 100)))
    }
    try curves.write(to: outputDirectory.appendingPathComponent("robustness"), formats: formats)
    // The SIM models as connected series (labelled with λ_state), the teacher as separate points.
    let teacherPoint = atSmallEpsilon[0]
    let simAtSmall = atSmallEpsilon.dropFirst().sorted { $0.share < $1.share }
    var vsSparsity = ScatterPlot(
        title: "Accuracy under attack at ε = 0.02 vs sparsity", xLabel: "nonzeros (% of the teacher's weights)",
        yLabel: "accuracy at ε = 0.02 (%)")
    try vsSparsity.add(
        x: simAtSmall.map(\.share), y: simAtSmall.map(\.fgsm), label: "SIM exact, FGSM", color: Color.series(0),
        connect: true, yErrors: simAtSmall.map(\.fgsmError))
    try vsSparsity.add(
        x: simAtSmall.map(\.share), y: simAtSmall.map(\.pgd), label: "SIM exact, PGD-10", color: Color.series(1),
        connect: true,
        pointLabels: simAtSmall.map {
            "λ = " + ($0.name.split(separator: "=").last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "")
        },
        marker: .triangle, dashed: true, yErrors: simAtSmall.map(\.pgdError))
    try vsSparsity.add(
        x: [teacherPoint.share], y: [teacherPoint.fgsm], label: "teacher, FGSM", color: Color.series(0),
        marker: .square, yErrors: [teacherPoint.fgsmError])
    try vsSparsity.add(
        x: [teacherPoint.share], y: [teacherPoint.pgd], label: "teacher, PGD-10", color: Color.series(1),
        marker: .diamond, yErrors: [teacherPoint.pgdError])
    try vsSparsity.write(to: outputDirectory.appendingPathComponent("robustness-vs-sparsity"), formats: formats)
    print(robustness.markdown())
    print(
        "wrote \(outputDirectory.path)/{sweep,robustness}.{md,csv} and the figures frontier, robustness, robustness-vs-sparsity, spy-A-<λ>, pixels-B-<λ> (\(formats.map(\.rawValue).joined(separator: ", ")))"
    )
}

/// A 28×28 heat map of how many state rows of B (states × 784 pixels) have a nonzero weight on
/// each pixel: 0 (dark) where no state reads the pixel, up to the most-read pixel's count.
func pixelUsageMap(_ B: Matrix<Double>, title: String) throws -> Heatmap<Double> {
    precondition(B.cols == 784, "B has \(B.cols) columns, 784 (28×28 pixels) expected")
    let usage = Matrix<Double>(rows: 28, cols: 28) { r, c in
        Double((0..<B.rows).filter { B[$0, r * 28 + c] != 0 }.count)
    }
    var map = Heatmap(matrix: usage, title: title)
    map.colormap = .viridis
    map.range = 0...max(1, usage.storage.max() ?? 1)
    map.xLabel = "pixel column"
    map.yLabel = "pixel row"
    return map
}

try options.flag("--double") ? runSweep(Double.self) : runSweep(Float.self)
