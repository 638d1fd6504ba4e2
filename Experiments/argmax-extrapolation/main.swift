// Experiment 5, second part: the argmax extrapolation study of the original implicit deep
// learning notebook. Sequences of `length` values drawn uniformly from [−1, 1); the label is the
// position of the largest value. An ImplicitRNN and an LSTM are trained on that range, then tested
// on sequences whose values are drawn from [−factor, factor) for factor = 1, 10, …, 10⁵: the
// question is which model's rule ("pick the largest") survives inputs far outside training.
//
//     swift run -c release argmax-extrapolation [--quick] [--output results] [--formats png,pdf]
//
// Writes results/rnn/argmax-extrapolation.{md,csv} and the figure argmax-extrapolation, as PNG
// and PDF (--formats: a comma-separated list of png, pdf, svg).
import ExperimentSupport
import Foundation
import IDL
import IDLPlot

useLineBufferedStandardOutput()
let options = ExperimentOptions.parseOrExit(values: ["--output", "--formats"], flags: ["--quick"])
let quick = options.flag("--quick")
let formats = options.figureFormats().compactMap(FigureFormat.init(rawValue:))
let outputDirectory = URL(fileURLWithPath: options.string("--output") ?? "results").appendingPathComponent(
    quick ? "quick/rnn" : "rnn")

let length = 10
let trainCount = quick ? 1000 : 8000
let testCount = quick ? 300 : 2000
let epochs = quick ? 3 : 15
let factors: [Double] = [1, 10, 100, 1_000, 10_000, 100_000]
let batchSize = 100

let (train, _) = try ArgmaxSequences.makeSplits(
    trainCount: trainCount, testCount: 1, length: length, seed: 1, as: Float.self)
var tests = [Double: SequenceDataset<Float>]()
for f in factors {
    tests[f] = try ArgmaxSequences.makeSplits(
        trainCount: 1, testCount: testCount, length: length, factor: f, seed: 2, as: Float.self
    ).test
}
print(
    "argmax of \(length) values: \(trainCount) training sequences in [−1, 1), \(testCount) test sequences per factor, \(epochs) epochs, Adam 0.01, batch \(batchSize)\(quick ? " (quick)" : "")"
)

/// Trains a sequence classifier with cross-entropy and returns its test accuracy per factor.
@MainActor func run(_ name: String, _ model: some Layer<Float>, forward: ([Matrix<Float>]) throws -> Tensor<Float>)
    throws -> [Double]
{
    var g = SeededGenerator(seed: 3)
    let optimizer = try Adam(model.parameters, learningRate: 0.01)
    for epoch in 1...epochs {
        var lossSum = 0.0
        var steps = 0
        for batch in try train.batches(size: batchSize, shuffledWith: &g) {
            optimizer.zeroGrad()
            let loss = try crossEntropyLoss(forward(batch.steps), batch.labels)
            loss.backward()
            optimizer.step()
            lossSum += Double(loss.value[0, 0])
            steps += 1
        }
        if epoch == epochs || epoch % 5 == 0 {
            print("\(name) epoch \(epoch): loss \(formatFixed(lossSum / Double(steps), decimals: 4))")
        }
    }
    return try factors.map { f in
        let t = tests[f]!
        return try Metrics.accuracy(forward(t.steps).value, t.labels)
    }
}

var g = SeededGenerator(seed: 4)
let implicit = try ImplicitRNN<Float>(inputDim: 1, outputDim: length, implicitHiddenDim: 20, hiddenDim: 20, using: &g)
let implicitAccuracy = try run("ImplicitRNN", implicit) { try implicit($0) }
let lstm = try LSTMRegressor<Float>(inputDim: 1, hiddenDim: 20, outputDim: length, using: &g)
let lstmAccuracy = try run("LSTM", lstm) { try lstm($0) }

var table = ResultTable(columns: ["test range factor", "ImplicitRNN accuracy (%)", "LSTM accuracy (%)"])
for (k, f) in factors.enumerated() {
    try table.append([
        formatScalar(f), formatFixed(100 * implicitAccuracy[k], decimals: 1),
        formatFixed(100 * lstmAccuracy[k], decimals: 1),
    ])
}
try table.write(
    to: outputDirectory.appendingPathComponent("argmax-extrapolation"),
    caption:
        "Argmax of \(length) values: trained on values in [−1, 1), tested on values in [−factor, factor). ImplicitRNN (hidden 20, implicit hidden 20, κ 0.99) and LSTM (hidden 20), \(epochs) epochs, \(trainCount) training sequences, seed fixed. Chance is \(formatFixed(100.0 / Double(length), decimals: 0)) %."
)
var plot = LinePlot(
    title: "Argmax of \(length) values: accuracy on test values in [−f, f), trained on [−1, 1)",
    xLabel: "test range factor f", yLabel: "test accuracy (%)")
plot.logX = true
plot.yRange = 0...100
let chance = 100.0 / Double(length)
try plot.add(
    x: [factors.first!, factors.last!], y: [chance, chance],
    label: "chance (\(formatFixed(chance, decimals: 0)) %)", color: Color.midGray, markers: false, dashed: true)
try plot.add(
    x: factors, y: implicitAccuracy.map { 100 * $0 }, label: "ImplicitRNN", color: Color.series(0), markers: true)
try plot.add(
    x: factors, y: lstmAccuracy.map { 100 * $0 }, label: "LSTM", color: Color.series(1), markers: true,
    marker: .square)
try plot.write(to: outputDirectory.appendingPathComponent("argmax-extrapolation"), formats: formats)
print(table.markdown())
