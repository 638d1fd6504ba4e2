// # Chapter 1 · A feedforward network is an implicit model
//
// An implicit model computes its hidden state as the solution of an equation instead of
// pushing the input through a fixed stack of layers:
//
// ```text
// X = φ(A X + B U)        the state equation (solved for X)
// Ŷ = C X + D U           the prediction
// ```
//
// Here U holds the inputs, **one column per sample**, X the hidden state and Ŷ the outputs;
// φ is applied entry by entry (ReLU unless said otherwise). This first chapter is not in
// torchidl's notebook. It answers the question a newcomer asks first — *is this a new kind of
// network, or a generalisation of the ones I know?* — by taking an ordinary two-layer ReLU
// network and writing it, exactly, as four matrices (A, B, C, D). Then we look at what a
// general implicit model adds: a dense A, which couples every hidden unit to every other.
import Foundation
import IDL
import IDLPlot
import TutorialSupport

let tutorial = Tutorial("feedforward")
var rng = SeededGenerator(seed: 42)

// An ordinary network first. It has two hidden ReLU layers and a linear read-out, and no
// biases (Exercise 1 adds them):
//
// ```text
// x₁ = φ(W₀ u),   x₂ = φ(W₁ x₁),   ŷ = W₂ x₂
// ```
//
// `Linear` stores its weight as outputs × inputs, so `W₀` is 6×8. We keep the sizes tiny so
// that every single weight is visible in the picture of Step 4.
step("Build a two-layer ReLU network")
let inputs = 8
let hidden1 = 6
let hidden2 = 5
let outputs = 3
let layer0 = Linear<Float>(inputs, hidden1, bias: false, using: &rng)
let layer1 = Linear<Float>(hidden1, hidden2, bias: false, using: &rng)
let layer2 = Linear<Float>(hidden2, outputs, bias: false, using: &rng)
let network = Sequential<Float>([layer0, ActivationLayer(ReLU()), layer1, ActivationLayer(ReLU()), layer2])

// A batch of 100 random inputs: an 8×100 matrix, one sample per column.
let u = Matrix<Float>.randomNormal(inputs, 100, using: &rng)
let explicitOutput = try network.predict(u)
print("network: \(inputs) → \(hidden1) → \(hidden2) → \(outputs), \(network.parameterCount) weights")
print("output for the first sample: \(vector(explicitOutput.column(0)))")

// Stack the hidden states into one vector, **last layer first**: X = (x₂; x₁), 5 + 6 = 11
// numbers per sample (torchidl's SIM stacks them in this order too). Now read the network
// off, block by block:
//
// - x₂ = φ(W₁ x₁): the rows of x₂ in A hold W₁, in the columns of x₁;
// - x₁ = φ(W₀ u): the input reaches only x₁, so B holds W₀ in the rows of x₁;
// - ŷ = W₂ x₂: C holds W₂ in the columns of x₂; the input has no direct path, so D = 0.
//
// ```text
// A = [ 0  W₁ ]    B = [ 0  ]    C = [ W₂  0 ]    D = 0
//     [ 0  0  ]        [ W₀ ]
// ```
//
// Every nonzero entry of A lies strictly above the diagonal. We tell the model so with
// `wellPosedness: .strictlyUpperTriangular`: such a model is a feedforward network, and it is
// well-posed (one solution, found by iteration) whatever the size of the weights.
step("Write the network as (A, B, C, D)")
let W0 = layer0.weight.value
let W1 = layer1.weight.value
let W2 = layer2.weight.value
let n = hidden2 + hidden1
let A = Matrix.vcat([
    Matrix.hcat([Matrix<Float>.zeros(hidden2, hidden2), W1]),
    Matrix<Float>.zeros(hidden1, n),
])
let B = Matrix.vcat([Matrix<Float>.zeros(hidden2, inputs), W0])
let C = Matrix.hcat([W2, Matrix<Float>.zeros(outputs, hidden1)])
let D = Matrix<Float>.zeros(outputs, inputs)
let asImplicit = try ImplicitModel<Float>(A: A, B: B, C: C, D: D, wellPosedness: .strictlyUpperTriangular)
print(asImplicit.summary)  // the parameter count includes the zero blocks
print("A is \(A.shapeDescription), B \(B.shapeDescription), C \(C.shapeDescription), D \(D.shapeDescription)")
print("A strictly upper triangular: \(A == A.strictlyUpperTriangular)")

// The implicit model finds X by Picard iteration, X ← φ(A X + B U), starting from X = 0.
// With this A the iteration cannot wander: the first pass gets x₁ right (it depends on U
// only), the second gets x₂ right (it depends on x₁ only), the third changes nothing and the
// solver stops. It is the forward pass, spelled as a fixed point. The two outputs agree to
// float rounding at worst (the zero blocks can change the order in which a BLAS library sums
// the products; here the agreement is exact).
step("Check that both give the same outputs")
let implicitOutput = try asImplicit.predict(u)
let difference = (implicitOutput - explicitOutput).maxAbs
print("output for the first sample: \(vector(implicitOutput.column(0)))")
print("largest difference over 100 samples × 3 outputs: \(scientific(difference))")
print("agree to 1e-6: \(difference < 1e-6)")
print("Picard solve: \(asImplicit.log.lastForward!)")

// A picture of all four matrices at once, as one block matrix [[A, B], [C, D]]: rows are what
// is computed (x₂, x₁, ŷ), columns what it is computed from (x₂, x₁, u). A dark cell is a
// nonzero weight; the red lines separate the blocks. You should see W₁ in the top middle, W₀
// in the middle right and W₂ at the bottom left — and nothing on or below A's diagonal.
//
// The well-posedness report shows why the triangular structure matters. ‖A‖∞ (the largest
// absolute row sum) is the simple sufficient condition: below 1 means well-posed. The
// paper's sharper test is the Perron–Frobenius eigenvalue λ_pf(|A|), which is 0 for any
// triangular matrix with a zero diagonal — well-posed, even if ‖A‖∞ were 100.
step("Look at the block structure")
let blocks = Matrix.vcat([Matrix.hcat([A, B]), Matrix.hcat([C, D])])
let spy = try SpyPlot(
    matrix: blocks,
    rowBlocks: [hidden2, hidden1, outputs], colBlocks: [hidden2, hidden1, inputs],
    rowBlockLabels: ["x2", "x1", "y"], colBlockLabels: ["x2", "x1", "u"],
    title: "Feedforward network as [[A, B], [C, D]]")
try tutorial.save(spy, as: "feedforward-blocks.png", width: 640, height: 560)
print("well-posedness: \(asImplicit.wellPosednessReport)")

// What does an implicit model look like when nobody forces it to be a feedforward network?
// `ImplicitModel(inputDim:outputDim:hiddenDim:)` draws every matrix at random (entries
// N(0, 1)/n, as torchidl does). Now A is dense: every hidden unit feeds every other, including
// itself, and there is no layer order left. The price is that the state equation could
// have no solution, or many. torchidl's remedy, and our default: before every solve, scale A
// down so that ‖A‖∞ ≤ κ = 0.99. Then X ← φ(A X + B U) is a contraction and Picard iteration
// converges — no longer in 3 steps, but geometrically, at a rate of at most κ per step.
// Compare the two reports below: the A as drawn already had λ_pf(|A|) < 1, so it was
// well-posed, but its ‖A‖∞ was above κ and the (cautious) scaling applies all the same.
step("Contrast: a general implicit model with a dense A")
let dense = try ImplicitModel<Float>(inputDim: inputs, outputDim: outputs, hiddenDim: n, using: &rng)
dense.setSolver(Picard(recordTrace: true))
print(dense.summary)
print("A as drawn:          \(WellPosednessReport(dense.A!.value))")
print("A used in the solve: \(dense.wellPosednessReport)")
_ = try dense.predict(u)
let solve = dense.log.lastForward!
print("Picard solve: \(solve)")

// The same block picture for the dense model: now the A block is full, and so are B, C and D.
// The residual of each Picard step (the largest change of any entry of X) falls on a straight
// line in a log plot: linear convergence, as the contraction argument predicts.
step("Picture the dense model and its convergence")
let denseBlocks = Matrix.vcat([
    Matrix.hcat([dense.effectiveA, dense.B.value]),
    Matrix.hcat([dense.C.value, dense.D!.value]),
])
let denseSpy = try SpyPlot(
    matrix: denseBlocks, rowBlocks: [n, outputs], colBlocks: [n, inputs],
    rowBlockLabels: ["X", "y"], colBlockLabels: ["X", "u"],
    title: "General implicit model: dense [[A, B], [C, D]]")
try tutorial.save(denseSpy, as: "dense-blocks.png", width: 640, height: 560)
var convergence = LinePlot(
    title: "Picard iteration on the dense model", xLabel: "iteration",
    yLabel: "max |X(k+1) − X(k)|", logY: true)
convergence.add(y: solve.residualTrace, label: "residual")
try tutorial.save(convergence, as: "dense-convergence.png")
print(
    "residual after iterations 1, 5, 10: "
        + [1, 5, 10].filter { $0 <= solve.residualTrace.count }
        .map { scientific(solve.residualTrace[$0 - 1]) }.joined(separator: ", "))

// ## What to take away
//
// - An implicit model with a strictly upper triangular A *is* a feedforward network; the
//   layers are the blocks of A and the layer order is the order of the blocks.
// - A general implicit model removes that order. It is still a single function from U to Ŷ,
//   as long as the state equation is well-posed; ‖A‖∞ < 1 guarantees it, λ_pf(|A|) < 1 is the
//   sharper condition.
//
// ## Exercises
//
// 1. **Biases.** Rebuild the network with `bias: true` in each `Linear`. An `ImplicitModel`
//    created with `bias: true` appends a row of ones to U, so B and D gain one column. Which
//    entries of that column hold b₀ and b₁, and where does b₂ go? Check that the largest
//    difference stays below 1e-6.
// 2. **Three hidden layers.** Add a third hidden layer of width 4 and stack X = (x₃; x₂; x₁).
//    Which blocks of A are nonzero now? Predict how many Picard iterations the solve takes,
//    then read `asImplicit.log.lastForward` to check.
// 3. **Break the triangle.** Put a small value ε in one entry on or below A's diagonal, build
//    the model with `wellPosedness: .none`, and print `wellPosednessReport` and the solver
//    statistics for ε = 0.1, 1 and 10. When does λ_pf(|A|) pass 1, and what happens to the
//    Picard solve?
