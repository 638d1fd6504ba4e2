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
//     swift run -c release sim-sweep [--quick] [--double] [--output results] [--models DIR] [--formats png,pdf]
//
// Figures are written as PNG and PDF (--formats: a comma-separated list of png, pdf, svg).
//
// --double trains the teacher and computes everything in Double (the default trains the teacher
// in Float; the SIM fits are in Double either way) and writes under sim-double/ instead of sim/:
// how much of a difference between machines is rounding shows in how far the two runs differ
// on each machine.
//
// --models DIR also saves every fitted SIM model there as model-<i>.safetensors (i: the row of
// sweep.md after the teacher), for comparing runs bit for bit.
//
// Quick mode (for the test suite): teacher of 1 epoch on 5 000 images, states of 300 images,
// λ_state ∈ {35, 150}, 2 000 test images, attacks on 200 of them; writes under results/quick/sim/.
import ExperimentSupport
import Foundation
import IDL
import IDLPlot

useLineBufferedStandardOutput()
let options = ExperimentOptions.parseOrExit(
    values: ["--output", "--formats", "--models"], flags: ["--quick", "--double"])
let quick = options.flag("--quick")
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
    var g = SeededGenerator(seed: 0)
    var (train, test) = try FashionMNIST.loadTrainAndTest(scaling: .unit, as: T.self)
    if quick {
        train = try train.randomSubset(5000, using: &g)
        test = test.prefix(2000)
    }
    print("FashionMNIST \(train.count) train / \(test.count) test\(quick ? " (quick mode)" : "")")

    // The teacher, rescaled for well-posedness (the same function, scaled states).
    let teacher = Sequential<T>.mlp([784, 64, 32, 16, 10], bias: false, using: &g)
    let optimizer = try Adam(teacher.parameters, learningRate: 0.01)
    _ = try trainClassifier(
        teacher, optimizer: optimizer, train: train, test: test, epochs: teacherEpochs, batchSize: 128, generator: &g
    ) { r in
        print(
            "teacher epoch \(r.epoch): loss \(formatFixed(r.loss, decimals: 4)), test accuracy \(formatFixed(100 * r.testAccuracy!, decimals: 2)) %"
        )
    }
    _ = try rescaleForWellPosedness(teacher, kappa: kappa)
    let teacherAccuracy = try evaluateAccuracy(teacher, test)
    let teacherNonzeros = teacher.parameters.reduce(0) { $0 + $1.value.count - $1.value.zeroCount }
    func percentOfTeacher(_ nonzeros: Int) -> Double { 100 * Double(nonzeros) / Double(teacherNonzeros) }

    // States of random training images, in Double for the convex fits.
    let subset = try train.randomSubset(sampleCount, using: &g)
    let states = try StateExtraction.states(of: teacher, inputs: subset.inputs).converted(to: Double.self)
    let blocks = try StateExtraction.stateBlockSizes(of: teacher, inputDim: 784)
    let testInputs = test.inputs.converted(to: Double.self)
    print(
        "teacher \(formatFixed(100 * teacherAccuracy, decimals: 2)) %, \(teacherNonzeros) weights; states of \(sampleCount) images, blocks \(blocks) (last layer first)"
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
            normA: Double(fit.A.infinityNorm),
            fit: seconds, model: model)
        print(
            "\(method)\(lambda.map { ", λ = \(formatScalar($0))" } ?? ""): \(formatFixed(100 * accuracy, decimals: 2)) %, \(p.nonzeros) nonzeros (\(formatFixed(percentOfTeacher(p.nonzeros), decimals: 1)) % of the teacher), ‖A‖∞ = \(formatScalar(p.normA!, digits: 4)), fit \(formatFixed(seconds, decimals: 2)) s\(fit.report.warnings.isEmpty ? "" : "; \(fit.report.warnings.count) warning(s)")"
        )
        points.append(p)
        return p
    }
    func exact(_ lambda: Double, _ rule: SIMWellPosedness) -> SIMExactSolver {
        SIMExactSolver(
            lambdaState: lambda, lambdaOutput: 1, lambda2: 2, wellPosedness: rule, tolerance: 1e-4, zeroThreshold: 1e-8,
            regenerateStates: true)
    }
    let ballMethod = "exact, ‖A‖∞ ≤ 0.99"
    let triangularMethod = "exact, A triangular"
    var ballModels = [Point]()
    for lambda in lambdas {
        ballModels.append(try fitAndEvaluate(ballMethod, lambda: lambda, exact(lambda, .infinityNorm(kappa: kappa))))
    }
    for lambda in lambdas {
        _ = try fitAndEvaluate(triangularMethod, lambda: lambda, exact(lambda, .strictlyUpperTriangular))
    }
    _ = try fitAndEvaluate("least squares", lambda: nil, SIMLeastSquaresSolver(wellPosedness: .unconstrained))
    _ = try fitAndEvaluate(
        "ADMM, 300 iterations", lambda: admmLambda,
        SIMADMMSolver(
            lambdaState: admmLambda, lambdaOutput: 1, wellPosedness: .infinityNorm(kappa: kappa), maxIterations: 300,
            zeroThreshold: 1e-8, regenerateStates: true))
    var pruned = [Point]()
    for fraction in pruneFractions {
        let (network, nonzeros) = try magnitudePruned(teacher, fraction: fraction)
        let p = Point(
            method: "magnitude pruning of the teacher", lambda: nil, accuracy: try evaluateAccuracy(network, test),
            nonzeros: nonzeros, normA: nil, fit: nil, model: nil)
        print(
            "pruning \(formatFixed(100 * fraction, decimals: 0)) %: \(formatFixed(100 * p.accuracy, decimals: 2)) %, \(nonzeros) nonzeros"
        )
        pruned.append(p)
    }

    var sweep = ResultTable(columns: [
        "method", "λ_state", "test accuracy (%)", "nonzeros", "% of teacher's nonzeros", "‖A‖∞", "fit (s)",
    ])
    sweep.timingColumns = ["fit (s)"]
    sweep.footnote =
        "Every cell except fit (s) is bitwise the same for any number of threads on the same CPU and BLAS kernels (see MANIFEST.json); on another CPU, rounding moves accuracies and nonzero counts slightly (results/README.md, Verifying)."
    try sweep.append([
        "teacher 784-64-32-16-10", "—", formatFixed(100 * teacherAccuracy, decimals: 2), String(teacherNonzeros),
        "100.0",
        "—", "—",
    ])
    for p in points {
        try sweep.append([
            p.method, p.lambda.map { formatScalar($0) } ?? "—", formatFixed(100 * p.accuracy, decimals: 2),
            String(p.nonzeros),
            formatFixed(percentOfTeacher(p.nonzeros), decimals: 1), p.normA.map { formatScalar($0, digits: 4) } ?? "—",
            p.fit.map { formatFixed($0, decimals: 2) } ?? "—",
        ])
    }
    for (fraction, p) in zip(pruneFractions, pruned) {
        try sweep.append([
            "\(p.method), \(formatFixed(100 * fraction, decimals: 0)) % per layer", "—",
            formatFixed(100 * p.accuracy, decimals: 2),
            String(p.nonzeros), formatFixed(percentOfTeacher(p.nonzeros), decimals: 1), "—", "—",
        ])
    }
    if let folder = options.string("--models") {
        let directory = URL(fileURLWithPath: folder)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for (i, p) in points.enumerated() {
            try p.model?.implicitModel.save(to: directory.appendingPathComponent("model-\(i + 1).safetensors"))
        }
    }
    try sweep.write(
        to: outputDirectory.appendingPathComponent("sweep"),
        caption:
            "SIM sparsity on FashionMNIST: teacher 784-64-32-16-10 (ReLU, no bias, \(teacherEpochs) epoch(s), trained in \(T.typeName)), SIM fitted to the states of \(sampleCount) training images (λ_output 1, λ₂ 2; ADMM with λ_state \(formatScalar(admmLambda)) and λ_output 1), test accuracy on \(test.count) test images. % of teacher's nonzeros counts all of A, B, C, D against the teacher's \(teacherNonzeros) weights."
    )
    print(sweep.markdown())

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

    var frontier = ScatterPlot(
        title: "SIM on FashionMNIST: test accuracy against nonzero weights",
        xLabel: "nonzeros (% of the teacher's weights)", yLabel: "test accuracy (%)")
    try frontier.add(
        x: pruned.map { percentOfTeacher($0.nonzeros) }, y: pruned.map { 100 * $0.accuracy },
        label: "teacher, magnitude-pruned", color: Color.series(4), connect: true, marker: .square)
    for (method, label) in [
        ("least squares", "SIM least squares"), ("ADMM, 300 iterations", "SIM ADMM (300 iterations)"),
    ] {
        let ps = points.filter { $0.method == method }
        try frontier.add(
            x: ps.map { percentOfTeacher($0.nonzeros) }, y: ps.map { 100 * $0.accuracy }, label: label,
            color: Color.series(method == "least squares" ? 2 : 3), marker: .diamond)
    }
    try frontier.add(
        x: [100.0], y: [100 * teacherAccuracy], label: "teacher, dense", color: Color.series(5), marker: .square)
    // The triangular series dashed with triangles, the ‖A‖∞ series drawn last (on top) with discs and
    // its λ_state labels, so neither hides the other where they run together.
    for method in [triangularMethod, ballMethod] {
        let ps = points.filter { $0.method == method }.sorted { $0.nonzeros < $1.nonzeros }
        let ball = method == ballMethod
        try frontier.add(
            x: ps.map { percentOfTeacher($0.nonzeros) }, y: ps.map { 100 * $0.accuracy },
            label: ball ? "SIM exact, ‖A‖∞ ≤ 0.99 (labels: λ_state)" : "SIM exact, A strictly upper triangular",
            color: Color.series(ball ? 0 : 1), connect: true,
            pointLabels: ball ? ps.map { "λ = \(formatScalar($0.lambda!))" } : [], marker: ball ? .circle : .triangle,
            dashed: !ball)
    }
    // The SIM models lie in a narrow band near the teacher's accuracy: magnify it.
    let band = points.filter { $0.method == ballMethod || $0.method == triangularMethod }
    let bandX = band.map { percentOfTeacher($0.nonzeros) }
    let bandY = band.map { 100 * $0.accuracy } + [100 * teacherAccuracy]
    if let x0 = bandX.min(), let x1 = bandX.max(), let y0 = bandY.min(), let y1 = bandY.max() {
        let dx = max(1, 0.08 * (x1 - x0))
        let dy = max(0.3, 0.12 * (y1 - y0))
        frontier.inset = ZoomInset(x: (x0 - dx)...(x1 + dx), y: (y0 - dy)...(y1 + dy), size: 0.52)
    }
    try frontier.write(to: outputDirectory.appendingPathComponent("frontier"), formats: formats)

    // Spy plots of A, and maps of the pixels B reads, at a low, a middle and a high λ_state (quick
    // mode: both λ).
    let blockLabels = ["layer 3", "layer 2", "layer 1"]
    let spyIndices = Array(Set([0, ballModels.count / 2, ballModels.count - 1])).sorted()
    for i in spyIndices {
        let p = ballModels[i]
        let fit = p.model!.fit
        let tag = formatScalar(p.lambda!)
        let spyA = try SpyPlot(
            matrix: fit.A, rowBlocks: blocks, colBlocks: blocks, rowBlockLabels: blockLabels,
            colBlockLabels: blockLabels,
            title: "A (states × states), λ_state = \(tag)")
        try spyA.write(
            to: outputDirectory.appendingPathComponent("spy-A-\(tag)"), formats: formats, width: 640, height: 640)
        try pixelUsageMap(fit.B, title: "Pixels B reads: state rows using each pixel, λ_state = \(tag)").write(
            to: outputDirectory.appendingPathComponent("pixels-B-\(tag)"), formats: formats, width: 640, height: 600)
    }

    // Experiment 4: robustness of the teacher and of the ‖A‖∞ ≤ 0.99 SIM models.
    let attackSet = test.prefix(attackSamples)
    let attackInputs = attackSet.inputs.converted(to: Double.self)
    let labels = attackSet.labels
    var robustness = ResultTable(columns: ["model", "% of teacher's nonzeros", "ε", "FGSM (%)", "PGD-10 (%)"])
    var curves = LinePlot(
        title: "Accuracy under PGD-10 attacks (FashionMNIST, pixels in [0, 1])", xLabel: "ε (ℓ∞ radius)",
        yLabel: "accuracy (%)")
    var atSmallEpsilon: [(share: Double, fgsm: Double, pgd: Double)] = []
    func attackCurves(
        _ name: String, share: Double, fgsm: (Double) throws -> Double, pgd: (Double) throws -> Double
    ) throws {
        var fgsmCurve = [Double]()
        var pgdCurve = [Double]()
        for eps in epsilons {
            let f = try fgsm(eps)
            let p = eps == 0 ? f : try pgd(eps)
            fgsmCurve.append(100 * f)
            pgdCurve.append(100 * p)
            try robustness.append([
                name, formatFixed(share, decimals: 1), formatScalar(eps), formatFixed(100 * f, decimals: 1),
                formatFixed(100 * p, decimals: 1),
            ])
        }
        try curves.add(
            x: epsilons, y: pgdCurve, label: "\(name) (\(formatFixed(share, decimals: 0)) % nonzeros)",
            marker: [MarkerShape.circle, .square, .triangle, .diamond][curves.seriesCount % 4])
        let k = epsilons.firstIndex(of: 0.02)!
        atSmallEpsilon.append((share, fgsmCurve[k], pgdCurve[k]))
        print(
            "\(name): FGSM \(fgsmCurve.map { formatFixed($0, decimals: 1) }), PGD \(pgdCurve.map { formatFixed($0, decimals: 1) })"
        )
    }
    try attackCurves(
        "teacher", share: 100,
        fgsm: { eps in
            try Metrics.accuracy(
                teacher.predict(
                    eps == 0
                        ? attackSet.inputs
                        : Attack.fgsm(teacher, inputs: attackSet.inputs, labels: labels, epsilon: eps, range: 0...1)),
                labels)
        },
        pgd: { eps in
            try Metrics.accuracy(
                teacher.predict(
                    Attack.pgd(
                        teacher, inputs: attackSet.inputs, labels: labels, epsilon: eps, stepSize: eps / 4, steps: 10,
                        range: 0...1)), labels)
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
                                model.implicitModel, inputs: attackInputs, labels: labels, epsilon: eps, range: 0...1)),
                    labels)
            },
            pgd: { eps in
                try Metrics.accuracy(
                    model.predict(
                        Attack.pgd(
                            model.implicitModel, inputs: attackInputs, labels: labels, epsilon: eps, stepSize: eps / 4,
                            steps: 10, range: 0...1)), labels)
            })
    }
    robustness.footnote =
        "The SIM models are those of sweep.md (exact solver, ‖A‖∞ ≤ 0.99). Every cell is bitwise the same for any number of threads on the same CPU and BLAS kernels; on another CPU, rounding moves them slightly (results/README.md, Verifying)."
    try robustness.write(
        to: outputDirectory.appendingPathComponent("robustness"),
        caption:
            "Accuracy on the first \(attackSamples) test images under ℓ∞ attacks of radius ε (pixels in [0, 1], clipped): FGSM, and PGD with 10 steps of ε/4. SIM models fitted to the states of \(sampleCount) images with λ_output 1, λ₂ 2."
    )
    try curves.write(to: outputDirectory.appendingPathComponent("robustness"), formats: formats)
    // The SIM models as connected series (labelled with λ_state), the teacher as separate points.
    let teacherPoint = atSmallEpsilon[0]
    let simAtSmall = Array(zip(atSmallEpsilon.dropFirst(), ballModels))
    var vsSparsity = ScatterPlot(
        title: "Accuracy under attack at ε = 0.02 vs sparsity", xLabel: "nonzeros (% of the teacher's weights)",
        yLabel: "accuracy at ε = 0.02 (%)")
    try vsSparsity.add(
        x: simAtSmall.map(\.0.share), y: simAtSmall.map(\.0.fgsm), label: "SIM exact, FGSM", color: Color.series(0),
        connect: true)
    try vsSparsity.add(
        x: simAtSmall.map(\.0.share), y: simAtSmall.map(\.0.pgd), label: "SIM exact, PGD-10", color: Color.series(1),
        connect: true, pointLabels: simAtSmall.map { "λ = \(formatScalar($0.1.lambda!))" }, marker: .triangle,
        dashed: true)
    try vsSparsity.add(
        x: [teacherPoint.share], y: [teacherPoint.fgsm], label: "teacher, FGSM", color: Color.series(0), marker: .square
    )
    try vsSparsity.add(
        x: [teacherPoint.share], y: [teacherPoint.pgd], label: "teacher, PGD-10", color: Color.series(1),
        marker: .diamond)
    try vsSparsity.write(to: outputDirectory.appendingPathComponent("robustness-vs-sparsity"), formats: formats)
    print(robustness.markdown())
    print(
        "wrote \(outputDirectory.path)/{sweep,robustness}.{md,csv} and the figures frontier, robustness, robustness-vs-sparsity, spy-A-<λ>, pixels-B-<λ> (\(formats.map(\.rawValue).joined(separator: ", ")))"
    )
}

try options.flag("--double") ? runSweep(Double.self) : runSweep(Float.self)
