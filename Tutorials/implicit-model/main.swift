// # Chapter 2 · Training an ImplicitModel
//
// This chapter follows section 1a of torchidl's notebook: a first implicit model, trained on a
// small regression task with the training loop you would write for any network. The point
// is how little changes. The model's state X is defined by the equation X = φ(A X + B U)
// rather than by layers, and training it needs gradients through the *solution* of that
// equation — but `ImplicitModel` does both the solve and the implicit differentiation
// internally, so the loop below is the ordinary zero-gradients / forward / loss / backward /
// step loop.
//
// One convention differs from PyTorch: **columns are samples**. torchidl's `torch.randn(5, 64)`
// (5 samples of 64 features) is our 64×5 matrix. A numpy array of shape (5, 64) has exactly the
// bytes of our 64×5 matrix, so arrays saved from Python load without any reordering.
//
// This chapter is small enough that `--quick` changes nothing.
import Foundation
import IDL
import IDLPlot
import TutorialSupport

let tutorial = Tutorial("implicit-model")
var rng = SeededGenerator(seed: 42)

// Five random input samples with 64 features each, and five random targets with 10 values
// each. There is nothing to learn here beyond memorising five pairs; it is a smoke test that
// shows the mechanics. (The notebook seeds PyTorch with 0; we seed our own generator with 42.
// The generators differ anyway, so no seed would give the notebook's numbers.)
step("Make random data")
let x = Matrix<Float>.randomNormal(64, 5, using: &rng)  // 64 features × 5 samples
let y = Matrix<Float>.randomNormal(10, 5, using: &rng)  // 10 targets × 5 samples
print("inputs  x: \(x.shapeDescription) (features × samples)")
print("targets y: \(y.shapeDescription) (outputs × samples)")

// The model needs three sizes: the input dimension p = 64, the output dimension q = 10 and
// the hidden (state) dimension n = 128. Everything else has torchidl's defaults: ReLU, the
// ∞-norm rule ‖A‖∞ ≤ κ = 0.99 that keeps the state equation well-posed, Picard iteration for
// the forward and backward solves (at most 300 iterations, tolerance 3e-6), and matrices
// initialised with entries N(0, 1)/n. `parameters` lists the trainable matrices; an optimizer
// takes them like `model.parameters()` in PyTorch.
step("Create the model")
let model = try ImplicitModel<Float>(inputDim: 64, outputDim: 10, hiddenDim: 128, using: &rng)
print(model.summary)
for p in model.parameters {
    print("  \(p.name ?? "?"): \(p.value.shapeDescription)")
}

// Adam with learning rate 0.01 and the mean squared error, ten passes over the five samples
// (each pass is one full batch). `model(Tensor(x))` solves the state equation for all five
// columns at once; `loss.backward()` solves the adjoint equation and fills the gradients of
// A, B, C and D; `optimizer.step()` updates them. In the notebook the loss falls from 1.5919 to
// 0.0318 over the ten epochs; with other random numbers the path differs, but the loss should
// likewise drop by more than an order of magnitude.
step("Train with Adam and the MSE loss")
let optimizer = try Adam(model.parameters, learningRate: 0.01)
let epochs = 10
var losses: [Double] = []
for epoch in 1...epochs {
    optimizer.zeroGrad()
    let output = try model(Tensor(x))  // forward: solve X = φ(AX + BU), then Ŷ = CX + DU
    let loss = try mseLoss(output, y)  // mean of (Ŷ − Y)² over all 50 entries
    loss.backward()  // implicit differentiation, no unrolled iterations
    optimizer.step()
    losses.append(Double(loss.value[0, 0]))
    print("Epoch [\(epoch)/\(epochs)], Loss: \(fixed(loss.value[0, 0]))")
}

// Once trained, the model is a function like any other. `predict` takes a plain matrix and
// returns a plain matrix, without recording anything for gradients (PyTorch's `torch.no_grad()`).
// The input is one fresh random sample, so the 10 numbers mean nothing in particular; they
// show the shape of the answer (10 outputs for 1 sample).
step("Run inference on a new sample")
let xTest = Matrix<Float>.randomNormal(64, 1, using: &rng)
let yPred = try model.predict(xTest)
print("Inference result (\(yPred.shapeDescription)):")
print(vector(yPred))

// The notebook stops here, but the model kept notes. Every solve — forward in each training
// step and at inference, backward in each `loss.backward()` — is recorded in `model.log`:
// how many iterations it took and whether it reached the tolerance. A model that silently
// stops converging trains badly, so it is worth a look. The well-posedness report gives the
// two figures of the theory for the A that was actually used: ‖A‖∞ (held at κ = 0.99 by the
// scaling) and λ_pf(|A|), which must stay below 1.
step("Look under the hood: solver statistics and well-posedness")
print("solves: \(model.log.summary)")
print("last forward solve: \(model.log.lastForward!)")
print("well-posedness: \(model.wellPosednessReport)")

// Finally the loss curve, on a log scale.
step("Plot the loss curve")
var plot = LinePlot(title: "ImplicitModel on random regression data", xLabel: "epoch", yLabel: "MSE loss", logY: true)
plot.add(y: losses, label: "training loss")
try tutorial.save(plot, as: "loss.png")
print("loss went from \(fixed(losses.first!)) to \(fixed(losses.last!)) in \(epochs) epochs")

// ## What to take away
//
// `ImplicitModel` packages the forward solve and the backward (implicit) differentiation, so
// you create it with three sizes and train it with the usual loop; the solver statistics are
// there when you need to know what the solves did.
//
// ## Exercises
//
// 1. **Width.** Train with hidden dimensions 16, 64 and 512 and compare the final losses and
//    `model.log.meanForwardIterations`. Does a wider state need more Picard iterations?
// 2. **κ.** Create the model with `kappa: 0.5` and with `kappa: 0.999`. How do the loss after
//    ten epochs and the mean number of iterations change? Explain with the convergence rate
//    of Picard iteration.
// 3. **Generalisation.** Five samples can be memorised. Draw 200 samples from a fixed random
//    linear map plus noise (y = W x + 0.1·noise), train on 150 and report the MSE on the other
//    50 with `Metrics.mse`. Compare with an explicit `Sequential.mlp([64, 128, 10])`.
