// Writes one example figure of each kind into results/gallery/.
import Foundation
import IDL
import IDLPlot

let out = URL(fileURLWithPath: "results/gallery", isDirectory: true)
try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
var rng = SeededGenerator(seed: 2024)

// 1. Loss curves on a log scale.
do {
    var plot = LinePlot(title: "Training an implicit model on FashionMNIST", xLabel: "epoch", yLabel: "cross-entropy loss", logY: true)
    let epochs = 40
    var train: [Double] = [], test: [Double] = []
    for e in 0..<epochs {
        let base = 2.3 * exp(-Double(e) / 6) + 0.25
        train.append(base * (1 + 0.04 * rng.normal()) - 0.02 * Double(e) / Double(epochs))
        test.append(base * 1.08 + 0.004 * Double(e) + 0.02 * rng.normal())
    }
    plot.add(y: train, label: "train")
    plot.add(y: test, label: "test")
    try plot.write(to: out.appendingPathComponent("line-loss.png"))
}

// 2. Accuracy against sparsity.
do {
    var plot = ScatterPlot(title: "SIM: accuracy vs sparsity", xLabel: "share of zero weights (%)", yLabel: "test accuracy (%)")
    let lambdas = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0]
    var s1: [Double] = [], a1: [Double] = [], s2: [Double] = [], a2: [Double] = []
    for (i, _) in lambdas.enumerated() {
        let t = Double(i) / Double(lambdas.count - 1)
        s1.append(20 + 75 * t); a1.append(84.6 - 12 * pow(t, 3) - 0.3 * rng.normal())
        s2.append(3 + 40 * t); a2.append(80 - 10 * t + 0.5 * rng.normal())
    }
    try plot.add(x: s1, y: a1, label: "FISTA (exact prox)", connect: true, pointLabels: lambdas.map { "λ=\($0)" })
    try plot.add(x: s2, y: a2, label: "ADMM", connect: true)
    try plot.write(to: out.appendingPathComponent("scatter-frontier.png"))
}
print("wrote figures to \(out.path)")
