// ImplicitModel on FashionMNIST, the setting torchidl was measured in (DESIGN.md section 2):
// inputs scaled to [−1, 1], n = 100, batch 64, Adam 5e-3, 10 epochs, Float32. For each solver
// (Picard as torchidl, and Anderson) it prints per epoch the training loss, the test accuracy,
// ms per training step and the solver statistics (mean forward/backward iterations, share of
// solves that converged).
//
//     swift run -c release implicit-bench [--epochs 10] [--solver picard|anderson|both]
//                                         [--steps N (stop each epoch after N steps)] [--seed S]
import Foundation
import IDL

func argument(_ name: String) -> String? {
    guard let i = CommandLine.arguments.firstIndex(of: name), i + 1 < CommandLine.arguments.count else { return nil }
    return CommandLine.arguments[i + 1]
}
let epochs = Int(argument("--epochs") ?? "") ?? 10
let stepLimit = Int(argument("--steps") ?? "")
let seed = UInt64(argument("--seed") ?? "") ?? 0
let solverChoice = argument("--solver") ?? "both"

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

let t0 = now()
let train = try FashionMNIST.load(.train, scaling: .symmetric, as: Float.self)
let test = try FashionMNIST.load(.test, scaling: .symmetric, as: Float.self)
print("FashionMNIST: \(train.count) training and \(test.count) test images loaded in \(formatFixed(now() - t0, decimals: 2)) s; BLAS kernels \(blasCoreName), \(blasThreads) threads")

func evaluate(_ model: ImplicitModel<Float>) throws -> Double {
    var correct = 0
    for batch in try test.batches(size: 1000) {
        let scores = try model.predict(batch.inputs)
        correct += zip(scores.argmaxPerColumn(), batch.labels).filter { $0 == $1 }.count
    }
    return Double(correct) / Double(test.count)
}

struct Result { var solver: String; var accuracy: Double; var msPerStep: Double; var fwdIt: Double; var bwdIt: Double; var converged: Double }
var results = [Result]()

let solvers: [(String, any FixedPointSolver)] = [("picard", Picard()), ("anderson", Anderson())]
    .filter { solverChoice == "both" || $0.0 == solverChoice }

for (name, solver) in solvers {
    var g = SeededGenerator(seed: seed)
    let model = try ImplicitModel<Float>(inputDim: 784, outputDim: 10, hiddenDim: 100, solver: solver, using: &g)
    let optimizer = try Adam(model.parameters, learningRate: 5e-3)
    print("\n== \(name): \(model.summary)")
    print("epoch  loss     test acc  ms/step  fwd it  bwd it  converged")
    var totalSteps = 0, totalTime = 0.0, fwdIts = 0, bwdIts = 0, solves = 0, convergedSolves = 0
    var accuracy = 0.0
    for epoch in 1...epochs {
        model.log.reset()
        var lossSum = 0.0, steps = 0
        let start = now()
        for batch in try train.batches(size: 64, shuffledWith: &g) {
            optimizer.zeroGrad()
            let loss = try crossEntropyLoss(model(Tensor(batch.inputs)), batch.labels)
            loss.backward()
            optimizer.step()
            lossSum += Double(loss.value[0, 0])
            steps += 1
            if let stepLimit, steps >= stepLimit { break }
        }
        let elapsed = now() - start
        let log = model.log
        totalSteps += steps; totalTime += elapsed
        fwdIts += log.forwardIterations; bwdIts += log.backwardIterations
        solves += log.forwardSolves + log.backwardSolves
        convergedSolves += log.forwardConverged + log.backwardConverged
        accuracy = try evaluate(model)
        let share = Double(log.forwardConverged + log.backwardConverged) / Double(max(1, log.forwardSolves + log.backwardSolves))
        print("\(String(epoch).padding(toLength: 5, withPad: " ", startingAt: 0))  \(formatFixed(lossSum / Double(steps), decimals: 4))   \(formatFixed(100 * accuracy, decimals: 2)) %   \(formatFixed(1000 * elapsed / Double(steps), decimals: 2))     \(formatFixed(log.meanForwardIterations, decimals: 1))    \(formatFixed(log.meanBackwardIterations, decimals: 1))    \(formatFixed(100 * share, decimals: 1)) %")
    }
    results.append(Result(solver: name, accuracy: accuracy, msPerStep: 1000 * totalTime / Double(totalSteps),
                          fwdIt: Double(fwdIts) / Double(max(1, totalSteps)), bwdIt: Double(bwdIts) / Double(max(1, totalSteps)),
                          converged: Double(convergedSolves) / Double(max(1, solves))))
    print("final: \(model.wellPosednessReport)")
}

print("\nsolver    test acc   ms/step (all epochs)   mean fwd it   mean bwd it   converged")
for r in results {
    print("\(r.solver.padding(toLength: 8, withPad: " ", startingAt: 0))  \(formatFixed(100 * r.accuracy, decimals: 2)) %    \(formatFixed(r.msPerStep, decimals: 2))                   \(formatFixed(r.fwdIt, decimals: 1))          \(formatFixed(r.bwdIt, decimals: 1))          \(formatFixed(100 * r.converged, decimals: 1)) %")
}
print("torchidl on this machine (DESIGN.md): 82.5 % after 10 epochs, ≈1.6 ms/step early, ≈15 ms/step averaged over training")
