import Foundation
import IDL
import Testing

@Suite struct TrainingTests {
    @Test func sgdMomentumTwoStepsByHand() throws {
        // p0 = 1, gradient of L = p²/2 is p. lr 0.1, momentum 0.9, weight decay 0.1.
        // step 1: g = 1 + 0.1·1 = 1.1, b = 1.1, p = 1 − 0.11 = 0.89
        // step 2: g = 0.89 + 0.089 = 0.979, b = 0.9·1.1 + 0.979 = 1.969, p = 0.89 − 0.1969 = 0.6931
        let p = Tensor(parameter: Matrix<Double>(column: [1]))
        let opt = try SGD([p], learningRate: 0.1, momentum: 0.9, weightDecay: 0.1)
        for _ in 0..<2 {
            opt.zeroGrad()
            (p * p * 0.5).sum().backward()
            opt.step()
        }
        #expect(abs(p.value[0, 0] - 0.6931) < 1e-12)
    }

    @Test func adamTwoStepsByHand() throws {
        // p0 = 2, L = p², g = 2p. lr 0.1, betas (0.9, 0.999), eps 1e-8.
        // step 1: g = 4, m = 0.4, v = 0.016, m̂ = 4, v̂ = 16 → p = 2 − 0.1·4/(4 + 1e-8)
        let p = Tensor(parameter: Matrix<Double>(column: [2]))
        let opt = try Adam([p], learningRate: 0.1)
        var pv = 2.0
        var m = 0.0
        var v = 0.0
        for t in 1...2 {
            opt.zeroGrad()
            (p * p).sum().backward()
            opt.step()
            let g = 2 * pv
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g * g
            let mHat = m / (1 - pow(0.9, Double(t)))
            let vHat = v / (1 - pow(0.999, Double(t)))
            pv -= 0.1 * mHat / (vHat.squareRoot() + 1e-8)
        }
        #expect(abs(p.value[0, 0] - pv) < 1e-12)
        #expect(abs(pv - (2 - 0.2)) < 1e-3)  // Adam's first steps move by ≈ lr each

        // AdamW: decay applied to the parameter, not the gradient.
        let q = Tensor(parameter: Matrix<Double>(column: [2]))
        let w = try Adam.adamW([q], learningRate: 0.1, weightDecay: 0.5)
        (q * q).sum().backward()
        w.step()
        #expect(abs(q.value[0, 0] - (2 * (1 - 0.05) - 0.1 * 4 / (4 + 1e-8))) < 1e-12)
    }

    @Test func schedulesMatchClosedForms() throws {
        let p = Tensor(parameter: Matrix<Double>(column: [0]))
        let opt = try SGD([p], learningRate: 1)
        let cosine = Scheduler(opt, CosineAnnealing(base: 1, period: 10, minimum: 0.1))
        for _ in 0..<5 { cosine.step() }
        #expect(abs(opt.learningRate - 0.55) < 1e-12)
        #expect(abs(ExponentialDecay(base: 2, gamma: 0.5).learningRate(atEpoch: 3) - 0.25) < 1e-15)
        #expect(StepDecay(base: 1, stepSize: 3, gamma: 0.1).learningRate(atEpoch: 5) == 0.1)
        #expect(throws: IDLError.self) { try Adam([p], learningRate: -1) }
        #expect(throws: IDLError.self) { try SGD([p], learningRate: 0.1, nesterov: true) }
    }

    @Test func mlpLearnsXOR() throws {
        var g = SeededGenerator(seed: 1)
        let model = Sequential<Double>.mlp([2, 8, 1], activation: Tanh(), using: &g)
        #expect(model.parameters.count == 4)
        #expect(model.parameterCount == 2 * 8 + 8 + 8 + 1)
        let x = try Matrix<Double>(rowMajor: [[0, 0, 1, 1], [0, 1, 0, 1]])
        let y = try Matrix<Double>(rowMajor: [[0, 1, 1, 0]])
        let opt = try Adam(model.parameters, learningRate: 0.05)
        var last = Double.infinity
        for _ in 0..<500 {
            opt.zeroGrad()
            let loss = try mseLoss(model(Tensor(x)), y)
            loss.backward()
            opt.step()
            last = loss.value[0, 0]
        }
        #expect(last < 1e-3)
        let prediction = try model.predict(x)
        #expect(prediction.isApproximatelyEqual(to: y, tolerance: 0.1))
    }

    @Test func linearRegressionToNearZeroLoss() throws {
        var g = SeededGenerator(seed: 2)
        let trueW = Matrix<Double>.randomNormal(2, 3, using: &g)
        let x = Matrix<Double>.randomNormal(3, 64, using: &g)
        let y = matmul(trueW, x).addingColumn(Matrix(column: [0.5, -1]))
        let layer = Linear<Double>(3, 2, using: &g)
        let opt = try SGD(layer.parameters, learningRate: 0.1, momentum: 0.9)
        var loss = Double.infinity
        for _ in 0..<300 {
            opt.zeroGrad()
            let l = try mseLoss(layer(Tensor(x)), y)
            l.backward()
            opt.step()
            loss = l.value[0, 0]
        }
        #expect(loss < 1e-10)
        #expect(layer.weight.value.isApproximatelyEqual(to: trueW, tolerance: 1e-5))
    }

    @Test func parametersAreCollectedFromStoredProperties() throws {
        final class Custom: Layer {
            typealias Scalar = Double
            let first: Linear<Double>
            let blocks: [Linear<Double>]
            let scale = Tensor(parameter: Matrix<Double>(column: [1]), name: "scale")
            let constant = Tensor(Matrix<Double>(column: [1]))
            init(_ g: inout SeededGenerator) {
                first = Linear(3, 4, using: &g)
                blocks = [Linear(4, 4, bias: false, using: &g), Linear(4, 2, using: &g)]
            }
            func callAsFunction(_ x: Tensor<Double>) throws -> Tensor<Double> {
                var h = try first(x)
                for b in blocks { h = try b(relu(h)) }
                return h
            }
        }
        var g = SeededGenerator(seed: 4)
        let model = Custom(&g)
        // first: W, b; blocks: W; W, b; scale — the constant is not a parameter.
        #expect(model.parameters.count == 6)
        #expect(throws: IDLError.self) { try model(Tensor(Matrix<Double>.ones(5, 2))) }
    }

    @Test func metrics() throws {
        let scores = try Matrix<Double>(rowMajor: [[0.1, 0.9, 0.3], [0.8, 0.05, 0.3]])
        #expect(try Metrics.accuracy(scores, [1, 0, 0]) == 1)
        #expect(try Metrics.accuracy(scores, [0, 0, 1]) == 1.0 / 3)
        let y = Matrix<Double>(row: [1, 2, 3, 4])
        let p = Matrix<Double>(row: [1, 2, 3, 5])
        #expect(try Metrics.mse(p, y) == 0.25)
        #expect(try Metrics.mae(p, y) == 0.25)
        #expect(abs(try Metrics.r2(p, y) - (1 - 1 / 5.0)) < 1e-15)
        #expect(abs(try Metrics.mape(p, y) - 0.0625) < 1e-15)
        #expect(throws: IDLError.self) { try Metrics.accuracy(scores, [1]) }
    }
}

@Suite struct ClassifierTrainingTests {
    /// Two Gaussian blobs, classes 0 and 1, 2 features.
    func blobs(_ count: Int, seed: UInt64) throws -> Dataset<Double> {
        var g = SeededGenerator(seed: seed)
        var x = Matrix<Double>.randomNormal(2, count, scale: 0.5, using: &g)
        var labels = [Int]()
        for j in 0..<count {
            let c = j % 2
            labels.append(c)
            x[0, j] += c == 0 ? -2 : 2
        }
        return try Dataset(inputs: x, labels: labels, classCount: 2)
    }

    @Test func implicitClassifierLearnsBlobsAndReportsSolves() throws {
        var g = SeededGenerator(seed: 3)
        let model = try ImplicitModel<Double>(inputDim: 2, outputDim: 2, hiddenDim: 8, using: &g)
        let opt = try Adam(model.parameters, learningRate: 0.05)
        let reports = try trainClassifier(
            model, optimizer: opt, train: try blobs(200, seed: 1), test: try blobs(100, seed: 2),
            epochs: 3, batchSize: 20, generator: &g, solveLog: model.log)
        #expect(reports.count == 3 && reports.allSatisfy { $0.steps == 10 })
        #expect(reports.last!.testAccuracy! > 0.95)
        #expect(reports.last!.convergedFraction == 1)
        #expect(reports.last!.forwardIterations! >= 1)
        #expect(reports.last!.loss < reports.first!.loss)
    }

    @Test func nonFiniteLossStopsTrainingAndKeepsLastFiniteModel() throws {
        var g = SeededGenerator(seed: 4)
        let model = Sequential<Double>.mlp([2, 4, 2], using: &g)
        let opt = try SGD(model.parameters, learningRate: 1e30)
        var caught: IDLError?
        do {
            _ = try trainClassifier(
                model, optimizer: opt, train: try blobs(64, seed: 1), epochs: 5, batchSize: 8, generator: &g)
        } catch let e as IDLError {
            caught = e
        }
        let error = try #require(caught)
        #expect("\(error)".contains("epoch") && "\(error)".contains("learning rate"))
        #expect(model.parameters.allSatisfy { $0.value.isFinite })
    }
}

@Suite struct PruningTests {
    @Test func magnitudePruningZeroesTheSmallestWeightsPerLayer() throws {
        var g = SeededGenerator(seed: 5)
        let net = Sequential<Double>.mlp([6, 10, 4], bias: false, using: &g)
        let (pruned, nonzeros) = try magnitudePruned(net, fraction: 0.5)
        #expect(nonzeros == 30 + 20)
        let original = net.layers.compactMap { $0 as? Linear<Double> }
        let cut = pruned.layers.compactMap { $0 as? Linear<Double> }
        for (o, c) in zip(original, cut) {
            // Every kept weight is at least as large as every removed one, and kept ones are unchanged.
            let kept = (0..<o.weight.value.count).filter { c.weight.value.storage[$0] != 0 }
            let removed = (0..<o.weight.value.count).filter { c.weight.value.storage[$0] == 0 }
            #expect(kept.allSatisfy { c.weight.value.storage[$0] == o.weight.value.storage[$0] })
            let smallestKept = kept.map { abs(o.weight.value.storage[$0]) }.min()!
            #expect(removed.allSatisfy { abs(o.weight.value.storage[$0]) <= smallestKept })
        }
        #expect(try magnitudePruned(net, fraction: 0).nonzeros == net.parameterCount)
        #expect(throws: IDLError.self) { try magnitudePruned(net, fraction: 1.5) }
    }
}
