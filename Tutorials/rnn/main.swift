// # Chapter 3 · Training an ImplicitRNN
//
// This chapter follows section 1b of torchidl's notebook. An `ImplicitRNN` is a recurrent
// network whose cell is an implicit model: where a vanilla RNN computes
// h_t = tanh(W [x_t; h_{t−1}]), the implicit cell solves an equilibrium equation at every
// time step,
//
//     X_t = φ(A X_t + B [x_t; h_{t−1}]),      h_t = C X_t + D [x_t; h_{t−1}],      h_0 = 0,
//
// and a linear layer reads the prediction off the last state h_T. Training backpropagates
// through time, and at every step through the equilibrium (an adjoint fixed-point solve), but
// as in Chapter 2 all of that happens inside the model: the training loop is the usual one.
//
// We first run the notebook's example (random sequences, ten epochs), then train on a real
// sequence task, torchidl's spiky time series, and compare with an LSTM trained the same way.
// With `--quick` the time-series part uses fewer windows and fewer epochs.
import Foundation
import IDL
import IDLPlot
import TutorialSupport

let tutorial = Tutorial("rnn")
var rng = SeededGenerator(seed: 0)

// torchidl takes a batch of sequences as one (batch, time, features) tensor. Here a sequence
// batch is an array with **one matrix per time step**, each features × batch (columns are
// samples, as everywhere in this package). The notebook's `torch.randn(50, 20, 1)` — 50
// sequences of 20 steps with one feature — is therefore 20 matrices of size 1×50. (The bytes
// of a batch-first (50, 20, 1) array are the flattened 20×50 matrix; `sequenceSteps` splits
// such a matrix into steps when you load data saved from Python.)
step("Make random sequences")
let sequenceLength = 20
let batchSize = 50
let x = (0..<sequenceLength).map { _ in Matrix<Float>.randomNormal(1, batchSize, using: &rng) }
let y = Matrix<Float>.randomNormal(1, batchSize, using: &rng)
print("inputs:  \(x.count) steps, each \(x[0].shapeDescription) (features × sequences)")
print("targets: \(y.shapeDescription) (one value per sequence)")

// The notebook's sizes: one input feature, one output, a recurrent state h of 10 numbers and
// an implicit state X of 10 numbers. The cell's implicit layer does not see x_t alone: its
// input is the stacked column [x_t; h_{t−1}], input first, so it has p + h = 1 + 10 = 11
// inputs and 10 outputs (the new h_t). That is why B is 10×11 and C is 10×10 below. The
// linear layer then maps h_T (10 numbers) to the output. Everything else is as in Chapter 2:
// ReLU, ‖A‖∞ ≤ 0.99, Picard solves.
step("Create the ImplicitRNN")
let model = try ImplicitRNN<Float>(inputDim: 1, outputDim: 1, implicitHiddenDim: 10, hiddenDim: 10, using: &rng)
print(model.summary)
print(
    "implicit layer of the cell: "
        + model.implicitLayer.parameters.map { "\($0.name ?? "?") \($0.value.shapeDescription)" }.joined(
            separator: ", "))
print("output layer: Linear(\(model.linear.inputDim) → \(model.linear.outputDim))")

// The loop of the notebook: Adam at 0.01, the mean squared error, ten full-batch epochs. The
// model is called on the array of steps; it runs the cell over the 20 steps and returns the
// 1×50 predictions. The targets are pure noise, so the loss can only fall as far as 50
// sequences can be memorised by a few hundred parameters — the notebook's falls from 0.82 to
// 0.69.
step("Train on the notebook's regression")
let optimizer = try Adam(model.parameters, learningRate: 0.01)
let epochs = 10
for epoch in 1...epochs {
    optimizer.zeroGrad()
    let loss = try mseLoss(model(x), y)
    loss.backward()  // back through time, with one adjoint solve per step
    optimizer.step()
    print("Epoch [\(epoch)/\(epochs)], Loss: \(fixed(loss.value[0, 0]))")
}
let xTest = (0..<sequenceLength).map { _ in Matrix<Float>.randomNormal(1, 1, using: &rng) }
print("Inference result: \(vector(try model.predict(xTest)))")
print("solves in training and inference: \(model.implicitLayer.log.summary)")

// Now a task with structure. torchidl's RNN example uses a synthetic series of 10 000
// points: a slow sine wave with noise, interrupted by 27 "spiky" regions where a sum of fast
// sines takes over. Each window of 60 consecutive points is one sample: the first 59 values
// are the input sequence (one feature per step), the 60th is the target. The first 60 % of
// the windows (in time order) train and the last 40 % test, so the test set is the *future*
// of the series. `SpikyTimeSeries.make` builds exactly that. With `--quick` we keep the first
// 1 000 training windows and the first 500 test windows.
step("Load the spiky time series")
let spiky = try SpikyTimeSeries.make(seed: 0, as: Float.self)
let trainSet = tutorial.isQuick ? try spiky.train.subset(Array(0..<1_000)) : spiky.train
let testSet = tutorial.isQuick ? try spiky.test.subset(Array(0..<500)) : spiky.test
print("series: \(spiky.series.count) points")
print(
    "training windows: \(trainSet.count), test windows: \(testSet.count), each \(trainSet.sequenceLength) steps of \(trainSet.featureCount) feature"
)
print(
    "a training batch is \(trainSet.steps.count) matrices of \(trainSet.steps[0].shapeDescription), targets \(trainSet.targets.shapeDescription)"
)

// The model of torchidl's example is a little larger: a recurrent state of 22 numbers and an
// implicit state of 20. We train it full-batch (every step sees all training windows) with
// Adam at 5e-3 for a short budget — 30 epochs, a few seconds per model; torchidl's example
// runs 100 epochs at 5e-4. The helper below does the loop for any model that maps a step
// array to predictions, prints the loss every few epochs and returns them all, so that the
// LSTM below gets exactly the same treatment.
step("Train an ImplicitRNN on the series")
let seriesEpochs = tutorial.choose(full: 30, quick: 5)

func trainFullBatch(
    _ parameters: [Tensor<Float>], epochs: Int,
    _ forward: ([Matrix<Float>]) throws -> Tensor<Float>
) throws -> [Double] {
    let optimizer = try Adam(parameters, learningRate: 5e-3)
    var losses: [Double] = []
    let started = Date()
    for epoch in 1...epochs {
        optimizer.zeroGrad()
        let loss = try mseLoss(forward(trainSet.steps), trainSet.targets)
        loss.backward()
        optimizer.step()
        losses.append(Double(loss.value[0, 0]))
        if epoch == 1 || epoch % 5 == 0 || epoch == epochs {
            print("epoch \(epoch)/\(epochs): training MSE \(fixed(losses.last!))")
        }
    }
    volatile("time: \(fixed(Date().timeIntervalSince(started), 1)) s for \(epochs) epochs")
    return losses
}

var seriesRNG = SeededGenerator(seed: 1)
let rnn = try ImplicitRNN<Float>(inputDim: 1, outputDim: 1, implicitHiddenDim: 20, hiddenDim: 22, using: &seriesRNG)
print("ImplicitRNN: \(rnn.parameterCount) parameters")
let rnnLosses = try trainFullBatch(rnn.parameters, epochs: seriesEpochs) { try rnn($0) }
let seriesLog = rnn.implicitLayer.log
print(
    "Picard iterations per solve during training: forward \(fixed(seriesLog.meanForwardIterations, 1)), backward \(fixed(seriesLog.meanBackwardIterations, 1)) (\(seriesLog.forwardSolves) forward solves: one per step and epoch)"
)

// The coefficient of determination R² = 1 − Σ(ŷ − y)² / Σ(y − ȳ)² compares the predictions
// on the test windows with always predicting the mean: 1 is perfect, 0 is no better than the
// mean. Most of the variance of the series is in the spiky regions, so R² mostly measures
// how well those are predicted. (torchidl's example, 100 epochs at the smaller learning rate
// 5e-4, reaches R² ≈ 0.42.)
step("Evaluate on the test windows")
let rnnPrediction = try rnn.predict(testSet.steps)
let rnnR2 = try Metrics.r2(rnnPrediction, testSet.targets)
print("ImplicitRNN test R²: \(fixed(rnnR2, 3)), test MSE \(fixed(try Metrics.mse(rnnPrediction, testSet.targets)))")

// The baseline: a one-layer LSTM with the same state size (22) and a linear head, trained by
// the same helper — same data, optimizer, learning rate and number of epochs. It has more
// parameters (four gates), and it is the model an ImplicitRNN has to beat.
step("Compare with an LSTM")
var lstmRNG = SeededGenerator(seed: 1)
let lstm = try LSTMRegressor<Float>(inputDim: 1, hiddenDim: 22, outputDim: 1, using: &lstmRNG)
print("LSTM: \(lstm.parameterCount) parameters")
let lstmLosses = try trainFullBatch(lstm.parameters, epochs: seriesEpochs) { try lstm($0) }
let lstmPrediction = try lstm.predict(testSet.steps)
let lstmR2 = try Metrics.r2(lstmPrediction, testSet.targets)
print("LSTM test R²: \(fixed(lstmR2, 3)), test MSE \(fixed(try Metrics.mse(lstmPrediction, testSet.targets)))")
print(
    table(
        ["model", "parameters", "first loss", "last loss", "test R²"],
        [
            ["ImplicitRNN", "\(rnn.parameterCount)", fixed(rnnLosses.first!), fixed(rnnLosses.last!), fixed(rnnR2, 3)],
            ["LSTM", "\(lstm.parameterCount)", fixed(lstmLosses.first!), fixed(lstmLosses.last!), fixed(lstmR2, 3)],
        ]))

// Two pictures: the training loss of both models per epoch, and the targets of test windows
// 150 to 349 (the series itself, one dot per window; a calm stretch, then a spiky region)
// with both models' predictions.
step("Plot the losses and the predictions")
var lossPlot = LinePlot(
    title: "Full-batch training on the spiky series (Adam, learning rate 5×10⁻³)", xLabel: "epoch",
    yLabel: "training MSE")
lossPlot.add(y: rnnLosses, label: "ImplicitRNN", markers: false)
lossPlot.add(y: lstmLosses, label: "LSTM", markers: false)
try tutorial.save(lossPlot, as: "series-loss.png")

let shown = (testSet.count >= 350 ? 150 : 0)..<min(350, testSet.count)
let time = Array(shown)
var predictionPlot = LinePlot(
    title: "Test windows \(shown.lowerBound)-\(shown.upperBound - 1): next value of the series and its predictions",
    xLabel: "test window (later windows to the right)", yLabel: "value")
try predictionPlot.add(
    x: time, y: Array(testSet.targets.storage[shown]), label: "truth", color: Color(hex: 0x000000), markers: true)
try predictionPlot.add(
    x: time, y: Array(rnnPrediction.storage[shown]), label: "ImplicitRNN", color: Color(hex: 0x1F77B4), markers: false)
try predictionPlot.add(
    x: time, y: Array(lstmPrediction.storage[shown]), label: "LSTM", color: Color(hex: 0xFF7F0E), markers: false)
try tutorial.save(predictionPlot, as: "series-predictions.png", width: 1000, height: 500)

// ## What to take away
//
// An `ImplicitRNN` is used like any recurrent model: sequences go in as one features × batch
// matrix per step, the cell's implicit layer sees [x_t; h_{t−1}], and the training loop does
// not change. Each step costs one equilibrium solve forward and one adjoint solve backward,
// and the ∞-norm rule keeps every one of them a contraction.
//
// ## Exercises
//
// 1. **A longer budget.** Train both models for 100 epochs at Adam 5e-4, as torchidl's
//    example does, and then at 5e-3. Which model gains more from the longer run? Plot the
//    test R² every 10 epochs.
// 2. **Warm starts.** Set `rnn.recurrent.warmStart = true` before training, so that each
//    step's solve starts from the previous step's X. Compare the mean Picard iterations per
//    step and the time per epoch; does the loss change?
// 3. **A low-rank A.** Create the model with `rank: 2` (A = L Rᵀ, as in torchidl's example).
//    How many parameters does that save, and what happens to the test R²?
