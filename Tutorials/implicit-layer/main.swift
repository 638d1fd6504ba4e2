// # Chapter 6 · An implicit model as a layer
//
// This chapter follows section 3 of torchidl's notebook. An `ImplicitModel` is a `Layer` like
// `Linear`: it takes a batch and returns a batch, and gradients flow through it to whatever
// comes before it. So it can sit inside a larger model and be trained end to end, with the
// implicit differentiation happening inside it, unseen by the rest of the model.
//
// We build the notebook's model — a linear layer, a ReLU, then an implicit model — train it on
// the notebook's random regression, and then on a real task: classifying FashionMNIST
// clothing images. With `--quick` the FashionMNIST part uses 3 000 training and 1 000 test
// images; the full run uses all 60 000 and 10 000 for two epochs (about 15 seconds on two
// cores).
import Foundation
import IDL
import IDLPlot
import TutorialSupport

let tutorial = Tutorial("implicit-layer")
var rng = SeededGenerator(seed: 42)

// A model of your own is a class that conforms to `Layer` and stores its parts as
// properties. There is no need to list the parameters: `parameters` finds every trainable
// matrix of every stored layer, the implicit model's A, B, C and D included. The forward
// pass reads like the notebook's: fc1, then ReLU, then the implicit layer.
step("Define a model with an implicit layer inside")
final class MLPWithImplicit: Layer {
    let fc1: Linear<Float>
    let implicitLayer: ImplicitModel<Float>

    init(
        inputDim: Int, hiddenDim: Int, implicitHiddenDim: Int, outputDim: Int,
        using generator: inout SeededGenerator
    ) throws {
        fc1 = Linear(inputDim, hiddenDim, using: &generator)
        implicitLayer = try ImplicitModel(
            inputDim: hiddenDim, outputDim: outputDim,
            hiddenDim: implicitHiddenDim, using: &generator)
    }

    func callAsFunction(_ x: Tensor<Float>) throws -> Tensor<Float> {
        try implicitLayer(relu(fc1(x)))
    }
}
let model = try MLPWithImplicit(inputDim: 64, hiddenDim: 128, implicitHiddenDim: 64, outputDim: 10, using: &rng)
print(
    "parameters found: "
        + model.parameters.map { "\($0.name ?? "?") \($0.value.shapeDescription)" }.joined(separator: ", "))
print("\(model.parameterCount) numbers in all")

// The same kind of data and the same loop as in Chapter 2: five random samples of 64
// features with ten random targets each, Adam at 0.01, the mean squared error, ten epochs,
// then one new sample. (The notebook's loss falls from 1.5664 to 0.0825; ours starts from other
// random numbers and takes its own path down.)
step("Train it on the notebook's regression")
let x = Matrix<Float>.randomNormal(64, 5, using: &rng)
let y = Matrix<Float>.randomNormal(10, 5, using: &rng)
let optimizer = try Adam(model.parameters, learningRate: 0.01)
let epochs = 10
for epoch in 1...epochs {
    optimizer.zeroGrad()
    let loss = try mseLoss(model(Tensor(x)), y)
    loss.backward()  // through the implicit layer (adjoint solve), then through fc1
    optimizer.step()
    print("Epoch [\(epoch)/\(epochs)], Loss: \(fixed(loss.value[0, 0]))")
}
let xTest = Matrix<Float>.randomNormal(64, 1, using: &rng)
print("Inference result:")
print(vector(try model.predict(xTest)))

// Now something worth learning. FashionMNIST has 70 000 grey 28×28 images of clothes in 10
// classes (Debian package `dataset-fashion-mnist`). Each image becomes a column of 784 pixel
// values in [0, 1]. The model is the same class with other sizes: 784 pixels → 128 ReLU units
// → an implicit layer with a 64-dimensional state → 10 class scores.
step("Load FashionMNIST")
let fullTrain = try FashionMNIST.load(.train, as: Float.self)
let fullTest = try FashionMNIST.load(.test, as: Float.self)
let trainSet = tutorial.isQuick ? try fullTrain.randomSubset(3_000, using: &rng) : fullTrain
let testSet = tutorial.isQuick ? fullTest.prefix(1_000) : fullTest
print("training images: \(trainSet.count), test images: \(testSet.count), features: \(trainSet.featureCount)")
print("classes: \(FashionMNIST.classNames.joined(separator: ", "))")

// The loop is the classification version of the one above: shuffled mini-batches of 64,
// the cross-entropy loss, Adam at 0.005. Two things are new. The test accuracy is measured
// after each epoch with `predict`, in chunks of 1 000 images. And the implicit layer's
// `log` is reset at the start of each epoch, so that its summary counts that epoch's solves:
// two per training step (forward and adjoint) and one per test chunk. (The time per epoch is
// printed too, but left out of this page: it changes from run to run.)
step("Train the classifier end to end")
let classifier = try MLPWithImplicit(inputDim: 784, hiddenDim: 128, implicitHiddenDim: 64, outputDim: 10, using: &rng)
let classifierOptimizer = try Adam(classifier.parameters, learningRate: 0.005)
let trainingEpochs = tutorial.choose(full: 2, quick: 1)

func accuracy(of model: MLPWithImplicit, on data: Dataset<Float>) throws -> Double {
    var correct = 0.0
    for batch in try data.batches(size: 1_000) {
        let scores = try model.predict(batch.inputs)
        correct += try Metrics.accuracy(scores, batch.labels) * Double(batch.labels.count)
    }
    return correct / Double(data.count)
}

var batchLosses: [Double] = []
for epoch in 1...trainingEpochs {
    classifier.implicitLayer.log.reset()
    let started = Date()
    var epochLoss = 0.0
    var batches = 0
    for batch in try trainSet.batches(size: 64, shuffledWith: &rng) {
        classifierOptimizer.zeroGrad()
        let loss = try crossEntropyLoss(classifier(Tensor(batch.inputs)), batch.labels)
        loss.backward()
        classifierOptimizer.step()
        batchLosses.append(Double(loss.value[0, 0]))
        epochLoss += Double(loss.value[0, 0])
        batches += 1
    }
    let accuracy = try accuracy(of: classifier, on: testSet)
    print(
        "epoch \(epoch)/\(trainingEpochs): mean training loss \(fixed(epochLoss / Double(batches))), test accuracy \(percent(accuracy))"
    )
    print("  solves: \(classifier.implicitLayer.log.summary)")
    volatile("  time: \(fixed(Date().timeIntervalSince(started), 1)) s")
}

// What did the solves do? The summary above counts them per epoch. Here are the last forward
// solve (the last test chunk) and the last backward solve (the last training step), and the
// well-posedness report of the implicit layer's A. Training moved A, but the ∞-norm rule
// kept its scaled version at ‖A‖∞ ≤ 0.99 throughout, so every solve stayed a contraction.
step("Read the solver statistics")
let layerLog = classifier.implicitLayer.log
print("last forward solve:  \(layerLog.lastForward!)")
print("last backward solve: \(layerLog.lastBackward!)")
print(
    "mean iterations per solve: forward \(fixed(layerLog.meanForwardIterations, 1)), backward \(fixed(layerLog.meanBackwardIterations, 1))"
)
print("well-posedness of the implicit layer: \(classifier.implicitLayer.wellPosednessReport)")

// Two pictures: the training loss of every mini-batch (pale) with its running mean over 50
// batches, and the first 24 test images with their true class and the prediction, in green
// when right and red when wrong.
step("Plot the training loss and some predictions")
let window = 50
let smoothed = batchLosses.indices.map { i in
    let lo = max(0, i - window + 1)
    return batchLosses[lo...i].reduce(0, +) / Double(i - lo + 1)
}
var lossPlot = LinePlot(
    title: "Linear → ReLU → ImplicitModel on FashionMNIST", xLabel: "mini-batch", yLabel: "cross-entropy loss")
lossPlot.add(y: batchLosses, label: "per batch", color: Color(hex: 0xC6DBEF), markers: false)
lossPlot.add(y: smoothed, label: "mean of the last \(window)", color: Color(hex: 0x1F77B4), markers: false)
try tutorial.save(lossPlot, as: "training-loss.png")

let shown = testSet.prefix(24)
let predicted = try classifier.predict(shown.inputs).argmaxPerColumn()
let grid = try ImageGrid(
    images: shown.inputs, imageWidth: 28, labels: shown.labels, predictions: predicted,
    classNames: FashionMNIST.classNames, title: "First 24 test images: true class / prediction")
try tutorial.save(grid, as: "predictions.png", width: 900, height: 640)
print("correct among these 24: \(zip(predicted, shown.labels).filter { $0 == $1 }.count)")

// ## What to take away
//
// An `ImplicitModel` composes with other layers like any layer: put it in a class, call it in
// `callAsFunction`, and the optimizer trains everything together. The implicit layer's `log`
// tells you how its equilibrium solves behave while the rest of the model trains.
//
// ## Exercises
//
// 1. **Where does the accuracy come from?** Replace the implicit layer by `Linear(128, 10)`
//    and train the same way. How much does the implicit layer add over a plain two-layer
//    network? Try `implicitHiddenDim` 16 and 256.
// 2. **A faster solver.** Call `classifier.implicitLayer.setSolver(Anderson())` before
//    training. Compare the mean iterations per solve and the time per epoch with Picard.
// 3. **Implicit first.** Swap the order: the implicit layer first (784 → state 64 → 128
//    outputs), then ReLU and `Linear(128, 10)`. Does it train as well? Where do the solves
//    need more iterations, and why might a 784-dimensional input make that so?
