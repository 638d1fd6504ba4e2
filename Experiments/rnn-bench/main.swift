// ImplicitRNN on torchidl's spiky time series (examples/idl_rnn/idl_rnn.sh): look-back 60,
// hidden 22, implicit hidden 20, low rank 2, Picard 300 iterations at tolerance 3e-6 forward and
// backward, Adam 5e-4, full-batch training for 100 epochs, Float32, MSE loss. Then the LSTM
// baseline (one layer, hidden 22, Linear head) with the same data, optimizer and epochs.
// Prints the training loss every 10 epochs, the median time per epoch, and test R² and MAPE.
//
//     swift run -c release rnn-bench [--epochs 100] [--model implicit|lstm|both] [--kappa 0.99] [--output results]
//                                    [--warm-start] [--threads N (OpenBLAS)] [--seed 0]
//     swift run -c release rnn-bench --gemm-probe   (GFLOP/s of the product shapes the models use)
import ExperimentSupport
import Foundation
import IDL

let options = ExperimentOptions.parseOrExit(
    values: ["--epochs", "--kappa", "--model", "--output", "--seed", "--threads"],
    flags: ["--gemm-probe", "--warm-start"])
let epochs = options.int("--epochs") ?? 100
let seed = options.uint64("--seed") ?? 0
let kappa = options.double("--kappa") ?? 0.99
let which = options.string("--model") ?? "both"
let warmStart = options.flag("--warm-start")
if let threads = options.int("--threads") { ThreadPolicy.workers = threads }

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
/// CPU time of the whole process (all threads), user + system, in seconds.
func cpuTime() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(
        usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}
/// Prints and flushes at once, so progress shows when the output is a pipe or a file.
func say(_ line: String) {
    print(line)
    fflush(nil)
}
func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.isEmpty ? .nan : (s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2)
}

if options.flag("--gemm-probe") {
    var g = SeededGenerator(seed: 1)
    let m = 5964
    let steps = 59
    let k = m * steps
    func time(_ label: String, flops: Double, repeats: Int = 5, _ body: () -> Void) {
        body()
        let t0 = now()
        for _ in 0..<repeats { body() }
        let dt = (now() - t0) / Double(repeats)
        say(
            "\(label): \(formatFixed(dt * 1000, decimals: 2)) ms, \(formatFixed(flops / dt / 1e9, decimals: 1)) GFLOP/s"
        )
    }
    let vg = Matrix<Float>.randomNormal(42, k, using: &g)
    let xu = Matrix<Float>.randomNormal(43, k, using: &g)
    time("NT 42×K · (43×K)ᵀ", flops: 2 * 42 * 43 * Double(k)) { _ = matmul(vg, xu, transposeB: true) }
    let xuT = xu.transposed
    time("NN 42×K · K×43", flops: 2 * 42 * 43 * Double(k)) { _ = matmul(vg, xuT) }
    time("TN (K×42)ᵀ · K×43", flops: 2 * 42 * 43 * Double(k)) { _ = matmul(vg.transposed, xuT, transposeA: true) }
    let a = Matrix<Float>.randomNormal(20, 20, using: &g)
    let x = Matrix<Float>.randomNormal(20, m, using: &g)
    var out = Matrix<Float>(rows: 20, cols: m)
    time("NN 20×20 · 20×m", flops: 2 * 400 * Double(m), repeats: 200) { gemm(a, x, into: &out) }
    time("TN (20×20)ᵀ · 20×m", flops: 2 * 400 * Double(m), repeats: 200) { gemm(a, x, into: &out, transposeA: true) }
    let b = Matrix<Float>.randomNormal(42, 43, using: &g)
    let u = Matrix<Float>.randomNormal(43, m, using: &g)
    var out2 = Matrix<Float>(rows: 42, cols: m)
    time("NN 42×43 · 43×m", flops: 2 * 42 * 43 * Double(m), repeats: 200) { gemm(b, u, into: &out2) }
    exit(0)
}

let data = try SpikyTimeSeries.make(seed: seed, as: Float.self)
let train = data.train
let test = data.test
say(
    "spiky series: \(train.count) training and \(test.count) test windows of \(train.sequenceLength) steps; BLAS kernels \(blasCoreName), \(blasThreads) threads"
)

struct Outcome {
    var name: String
    var secondsPerEpoch: (wall: Double, cpu: Double)
    var r2: Double
    var mape: Double
    var parameters: Int
}
var outcomes = [Outcome]()

/// Full-batch training with MSE and Adam; returns the median wall-clock and CPU seconds per epoch
/// (CPU time counts every thread; on a busy machine it is the fairer measure of the work done).
func fit(
    _ name: String, parameters: [Tensor<Float>], forward: ([Matrix<Float>]) throws -> Tensor<Float>,
    report: (() -> String)? = nil
) throws -> (wall: Double, cpu: Double) {
    let optimizer = try Adam(parameters, learningRate: 5e-4)
    var times = [Double]()
    var cpuTimes = [Double]()
    var forwardTimes = [Double]()
    for epoch in 1...epochs {
        let start = now()
        let cpuStart = cpuTime()
        optimizer.zeroGrad()
        let loss = try mseLoss(forward(train.steps), train.targets)
        let forwardTime = now() - start
        loss.backward()
        optimizer.step()
        times.append(now() - start)
        forwardTimes.append(forwardTime)
        cpuTimes.append(cpuTime() - cpuStart)
        if epoch % 10 == 0 || epoch == 1 || epoch == epochs {
            say(
                "  epoch \(String(epoch).padding(toLength: 4, withPad: " ", startingAt: 0)) MSE \(formatFixed(Double(loss.value[0, 0]), decimals: 4))   \(formatFixed(times.last!, decimals: 3)) s (CPU \(formatFixed(cpuTimes.last!, decimals: 3)) s, forward \(formatFixed(forwardTimes.last!, decimals: 3)) s)\(report.map { "   " + $0() } ?? "")"
            )
        }
    }
    return (median(times), median(cpuTimes))
}

if which == "implicit" || which == "both" {
    var g = SeededGenerator(seed: seed)
    let model = try ImplicitRNN<Float>(
        inputDim: 1, outputDim: 1, implicitHiddenDim: 20, hiddenDim: 22, rank: 2, kappa: kappa,
        maxIterations: 300, tolerance: 3e-6, gradMaxIterations: 300, gradTolerance: 3e-6, using: &g)
    model.recurrent.warmStart = warmStart
    say(
        "\n== ImplicitRNN(p=1, h=22, q=1) around \(model.implicitLayer.summary)\(warmStart ? ", warm-started solves" : "")"
    )
    let log = model.implicitLayer.log
    let perEpoch = try fit(
        "ImplicitRNN", parameters: model.parameters, forward: { try model($0) },
        report: {
            defer { log.reset() }
            return
                "mean fwd it \(formatFixed(log.meanForwardIterations, decimals: 1)), bwd it \(formatFixed(log.meanBackwardIterations, decimals: 1)), converged \(log.forwardConverged + log.backwardConverged)/\(log.forwardSolves + log.backwardSolves)"
        })
    let prediction = try model.predict(test.steps)
    outcomes.append(
        Outcome(
            name: "ImplicitRNN", secondsPerEpoch: perEpoch, r2: try Metrics.r2(prediction, test.targets),
            mape: try Metrics.mape(prediction, test.targets), parameters: model.parameterCount))
}

if which == "lstm" || which == "both" {
    var g = SeededGenerator(seed: seed)
    let model = try LSTMRegressor<Float>(inputDim: 1, hiddenDim: 22, outputDim: 1, using: &g)
    say("\n== LSTM(1 → 22) + Linear(22 → 1) — \(model.parameterCount) parameters")
    let perEpoch = try fit("LSTM", parameters: model.parameters, forward: { try model($0) })
    let prediction = try model.predict(test.steps)
    outcomes.append(
        Outcome(
            name: "LSTM", secondsPerEpoch: perEpoch, r2: try Metrics.r2(prediction, test.targets),
            mape: try Metrics.mape(prediction, test.targets), parameters: model.parameterCount))
}

say("\nmodel         parameters   s/epoch (median wall / CPU)   test R²   test MAPE")
for o in outcomes {
    say(
        "\(o.name.padding(toLength: 12, withPad: " ", startingAt: 0))  \(String(o.parameters).padding(toLength: 11, withPad: " ", startingAt: 0))  \((formatFixed(o.secondsPerEpoch.wall, decimals: 3) + " / " + formatFixed(o.secondsPerEpoch.cpu, decimals: 3)).padding(toLength: 28, withPad: " ", startingAt: 0))  \(formatFixed(o.r2, decimals: 3).padding(toLength: 8, withPad: " ", startingAt: 0))  \(formatFixed(o.mape, decimals: 3))"
    )
}
say("torchidl reference (Intel Xeon AVX-512, 2026-11; results/reference): ImplicitRNN 1.26 s/epoch, test R² ≈ 0.42")

// With --output DIR: the table of experiment 5 (spiky series) in DIR/rnn/spiky.{md,csv}.
if let output = options.string("--output") {
    var table = ResultTable(columns: ["model", "parameters", "s/epoch (median)", "test R²", "test MAPE"])
    table.timingColumns = ["s/epoch (median)"]
    for o in outcomes {
        try table.append([
            o.name, String(o.parameters), formatFixed(o.secondsPerEpoch.wall, decimals: 3),
            formatFixed(o.r2, decimals: 3), formatFixed(o.mape, decimals: 3),
        ])
    }
    try table.append(["torchidl ImplicitRNN (reference: Intel Xeon AVX-512, 2026-11)", "—", "1.26", "≈0.42", "—"])
    let base = URL(fileURLWithPath: output).appendingPathComponent("rnn/spiky")
    try table.write(
        to: base,
        caption:
            "Spiky time series (look-back 60, 60/40 split): ImplicitRNN (hidden 22, implicit hidden 20, rank 2, κ \(kappa)) and an LSTM (hidden 22), Adam 5e-4, full batch, \(epochs) epochs, Float."
    )
    say("wrote \(base.path).{md,csv}")
}
