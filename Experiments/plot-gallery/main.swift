// plot-gallery: writes one example figure of each kind of IDLPlot chart into results/gallery/
// (or --output DIR), as PNG and PDF (or --formats, a comma-separated list of png, pdf, svg).
//
// Run from the repository root:  swift run -c release plot-gallery
//
// All data here are SYNTHETIC (a seeded generator and made-up numbers); the figures show what
// the charts look like, not measurements, and their titles say so.
// The output is deterministic: re-running gives byte-identical PNG, PDF and SVG files.
import ExperimentSupport
import Foundation
import IDL
import IDLPlot

let options = ExperimentOptions.parseOrExit(values: ["--output", "--formats"], flags: [])
let out = URL(fileURLWithPath: options.string("--output") ?? "results/gallery", isDirectory: true)
let formats = options.figureFormats().compactMap(FigureFormat.init(rawValue:))
try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
var rng = SeededGenerator(seed: 2024)

// 1. Loss curves on a log scale.
do {
    var plot = LinePlot(
        title: "Loss curves (synthetic example)", xLabel: "epoch", yLabel: "cross-entropy loss", logY: true)
    let epochs = 40
    var train: [Double] = []
    var test: [Double] = []
    for e in 0..<epochs {
        let base = 2.3 * exp(-Double(e) / 6) + 0.25
        train.append(base * (1 + 0.04 * rng.normal()) - 0.02 * Double(e) / Double(epochs))
        test.append(base * 1.08 + 0.004 * Double(e) + 0.02 * rng.normal())
    }
    plot.add(y: train, label: "train")
    plot.add(y: test, label: "test")
    try plot.write(to: out.appendingPathComponent("line-loss"), formats: formats)
}

// 2. Accuracy against sparsity.
do {
    var plot = ScatterPlot(
        title: "Accuracy vs sparsity (synthetic example)", xLabel: "share of zero weights (%)",
        yLabel: "test accuracy (%)")
    let lambdas = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0]
    var s1: [Double] = []
    var a1: [Double] = []
    var s2: [Double] = []
    var a2: [Double] = []
    for (i, _) in lambdas.enumerated() {
        let t = Double(i) / Double(lambdas.count - 1)
        s1.append(20 + 75 * t)
        a1.append(84.6 - 12 * pow(t, 3) - 0.3 * rng.normal())
        s2.append(3 + 40 * t)
        a2.append(80 - 10 * t + 0.5 * rng.normal())
    }
    try plot.add(x: s1, y: a1, label: "FISTA (exact prox)", connect: true, pointLabels: lambdas.map { "λ=\($0)" })
    try plot.add(x: s2, y: a2, label: "ADMM", connect: true)
    try plot.write(to: out.appendingPathComponent("scatter-frontier"), formats: formats)
}

// 3. Bar chart: accuracy of the models side by side.
do {
    // Made-up values for five unnamed models: a gallery figure, not a result.
    var chart = BarChart(
        title: "Accuracy by model (made-up example values)", yLabel: "accuracy (%)",
        categories: ["model 1", "model 2", "model 3", "model 4", "model 5"])
    try chart.add(values: [88.0, 81.5, 76.0, 69.5, 90.5], label: "clean")
    try chart.add(values: [52.0, 60.5, 31.0, 45.5, 70.0], label: "perturbed, ‖δ‖∞ ≤ ε")
    chart.showsValues = true
    chart.yRange = 0...100
    try chart.write(to: out.appendingPathComponent("bar-accuracy"), formats: formats)
}

// 4. Heatmap of a weight matrix (diverging colours around zero).
do {
    let n = 48
    let u = Matrix<Float>.randomNormal(n, 3, using: &rng)
    let v = Matrix<Float>.randomNormal(n, 3, using: &rng)
    let noise = Matrix<Float>.randomNormal(n, n, scale: 0.15, using: &rng)
    let a = Matrix<Float>(rows: n, cols: n) { i, j in
        var s: Float = 0
        for r in 0..<3 { s += u[i, r] * v[j, r] }
        return 0.25 * s * Float(exp(-Double(abs(i - j)) / 12)) + noise[i, j]
    }
    let map = Heatmap(matrix: a, title: "Weights A (random example, n = 48)")
    try map.write(to: out.appendingPathComponent("heatmap-weights"), formats: formats, width: 640, height: 560)
}

// 5. Sparsity of the feedforward network 784-64-32-16-10 written as an implicit model:
//    states stacked (x3; x2; x1), A strictly block upper triangular, B feeding x1.
do {
    let sizes = [16, 32, 64]  // x3, x2, x1
    let n = sizes.reduce(0, +)
    let p = 784
    var ab = Matrix<Float>(rows: n, cols: n + p)
    func block(_ row0: Int, _ rows: Int, _ col0: Int, _ cols: Int, density: Double) {
        for j in 0..<cols {
            for i in 0..<rows where rng.uniform() < density { ab[row0 + i, col0 + j] = Float(rng.normal()) }
        }
    }
    block(0, 16, 16, 32, density: 0.45)  // W2: x3 ← x2
    block(16, 32, 48, 64, density: 0.35)  // W1: x2 ← x1
    // W0: x1 ← u (border pixels unused)
    for j in 0..<p where (j % 28) > 3 && (j % 28) < 24 && j / 28 > 2 && j / 28 < 26 {
        for i in 0..<64 where rng.uniform() < 0.3 { ab[48 + i, n + j] = Float(rng.normal()) }
    }
    let a = Matrix<Float>(rows: n, cols: n) { i, j in ab[i, j] }
    let spyA = try SpyPlot(
        matrix: a, rowBlocks: sizes, colBlocks: sizes, rowBlockLabels: ["x3", "x2", "x1"],
        colBlockLabels: ["x3", "x2", "x1"], title: "A of a 784-64-32-16-10 MLP (random)")
    try spyA.write(to: out.appendingPathComponent("spy-A"), formats: formats, width: 560, height: 560)
    var spyAB = try SpyPlot(
        matrix: ab, rowBlocks: sizes, colBlocks: sizes + [p], rowBlockLabels: ["x3", "x2", "x1"],
        colBlockLabels: ["x3", "x2", "x1", "u (784 pixels)"], title: "[A B]: states and inputs")
    spyAB.aspect = .fill
    try spyAB.write(to: out.appendingPathComponent("spy-AB"), formats: formats, width: 900, height: 360)
}

// 6. An image grid with labels and predictions (synthetic 28×28 silhouettes).
do {
    let names = [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ]
    let count = 15
    var images = Matrix<Float>(rows: 784, cols: count)
    var labels: [Int] = []
    var predictions: [Int] = []
    for j in 0..<count {
        let label = j % 10
        labels.append(label)
        predictions.append(j == 4 || j == 11 ? (label + 2) % 10 : label)
        for r in 0..<28 {
            for c in 0..<28 {
                let x = Double(c) - 13.5
                let y = Double(r) - 13.5
                var inside: Bool
                switch label {
                case 0, 2, 4, 6:
                    inside = abs(x) < (r < 9 ? 12 : 7) && r > 3 && r < 25 && !(label == 0 && r > 9 && abs(x) > 6)
                case 1: inside = r > 2 && r < 26 && abs(x) < 6 && !(abs(x) < 1.5 && r > 9)
                case 3: inside = r > 2 && r < 26 && abs(x) < 3 + Double(r) / 3
                case 5, 7, 9: inside = r > (label == 9 ? 6 : 14) && r < 23 && x > -11 && x < 12 && (r > 17 || x < 2)
                default: inside = (r > 9 && r < 25 && abs(x) < 11) || (r > 3 && r <= 9 && abs(abs(x) - 5) < 1.5)
                }
                if label == 5 && inside && (c % 4 == 0) { inside = false }
                let shade =
                    inside
                    ? 0.55 + 0.35 * sin(Double(r * 3 + c) * 0.3) * 0.5 + 0.1 * rng.uniform() : 0.03 * rng.uniform()
                images[r * 28 + c, j] = Float(min(1, max(0, shade + 0.05 * (y / 14))))
            }
        }
    }
    var grid = try ImageGrid(
        images: images, imageWidth: 28, labels: labels, predictions: predictions,
        classNames: names, title: "Synthetic 28×28 images: label and prediction")
    grid.columns = 5
    grid.valueRange = 0...1
    try grid.write(to: out.appendingPathComponent("image-grid"), formats: formats, width: 800, height: 620)
}
print("wrote figures to \(out.path)")
