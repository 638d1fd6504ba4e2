// Training speed of the engine on an explicit MLP: 784-64-32-16-10 ReLU, batch 128, Adam 0.01,
// FashionMNIST (60 000 images, pixels in [0, 1]), Float. Prints seconds per epoch (each epoch
// and the median), the process's user CPU seconds per epoch (a figure that other programs on
// the same cores disturb less than wall-clock time), the number of subnormal weights and
// gradients after each epoch (they are ~100× slower to compute with), and the test accuracy.
// Reference figures of PyTorch, each with its machine (results/reference; measure it side by
// side with results/reference/measure.py on the machine you have): Intel Xeon (AVX-512),
// 2026-11, ≈4.7 s/epoch, 84.6 % (bias-free); AMD EPYC (Zen 3 class), 2026-12-02, 1.35 s/epoch.
//
//     swift run -c release mlp-bench [--epochs 5] [--bias]
import ExperimentSupport
import Foundation
import IDL

useLineBufferedStandardOutput()

let options = ExperimentOptions.parseOrExit(values: ["--epochs"], flags: ["--bias"])
let epochs = options.int("--epochs") ?? 5
let bias = options.flag("--bias")
func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

let train = try FashionMNIST.load(.train, scaling: .unit, as: Float.self)
let test = try FashionMNIST.load(.test, scaling: .unit, as: Float.self)
var g = SeededGenerator(seed: 0)
let model = Sequential<Float>.mlp([784, 64, 32, 16, 10], bias: bias, using: &g)
let optimizer = try Adam(model.parameters, learningRate: 0.01)
print(
    "MLP 784-64-32-16-10 (\(model.parameterCount) weights, bias \(bias)), batch 128, Adam 0.01; BLAS \(blasCoreName) × \(blasThreads)"
)
/// User CPU seconds of this process so far.
func userSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
}
/// Entries that are subnormal (nonzero, below the smallest normal Float).
func subnormals(_ m: Matrix<Float>?) -> Int {
    m?.storage.reduce(0) { $0 + ($1 != 0 && abs($1) < Float.leastNormalMagnitude ? 1 : 0) } ?? 0
}
var times = [Double]()
var cpuTimes = [Double]()
for epoch in 1...epochs {
    let start = now()
    let cpuStart = userSeconds()
    var lossSum = 0.0
    var steps = 0
    for batch in try train.batches(size: 128, shuffledWith: &g) {
        optimizer.zeroGrad()
        let loss = try crossEntropyLoss(model(Tensor(batch.inputs)), batch.labels)
        loss.backward()
        optimizer.step()
        lossSum += Double(loss.value[0, 0])
        steps += 1
    }
    let t = now() - start
    let cpu = userSeconds() - cpuStart
    times.append(t)
    cpuTimes.append(cpu)
    let tiny = model.parameters.reduce(0) { $0 + subnormals($1.value) + subnormals($1.grad) }
    let accuracy = try Metrics.accuracy(model.predict(test.inputs), test.labels)
    print(
        "epoch \(epoch): loss \(formatFixed(lossSum / Double(steps), decimals: 4)), \(formatFixed(t, decimals: 3)) s (user CPU \(formatFixed(cpu, decimals: 3)) s), \(tiny) subnormal weights and gradients, test accuracy \(formatFixed(100 * accuracy, decimals: 2)) %"
    )
}
let sorted = times.sorted()
let sortedCPU = cpuTimes.sorted()
print(
    "median \(formatFixed(sorted[sorted.count / 2], decimals: 3)) s/epoch, user CPU \(formatFixed(sortedCPU[sortedCPU.count / 2], decimals: 3)) s/epoch; CPU: \(cpuDescription)"
)
print(
    "PyTorch for reference (other runs, not this one): ≈4.7 s/epoch on an Intel Xeon (AVX-512), 2026-11; 1.35 s/epoch on an AMD EPYC (Zen 3 class), 2026-12-02 (results/reference)"
)
