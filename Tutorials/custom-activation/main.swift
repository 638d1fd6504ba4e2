// # Chapter 5 · A custom activation
//
// This chapter follows section 2 of torchidl's notebook. ReLU is the default φ of an implicit
// model, but any elementwise function will do as long as you can give its derivative: the
// forward solve needs φ, and the backward (implicit) differentiation needs φ′ at the fixed
// point. In torchidl you subclass its implicit function (`ImplicitFunctionInf`) and override
// the static methods `phi` and `dphi`; here you write a type that conforms to the
// `Activation` protocol with the same two methods, and pass a value of it to the model.
//
// Our example is SiLU (also called swish), φ(x) = x·σ(x) with σ the logistic sigmoid. The
// library has one built in (`SiLU()`); we write our own anyway, check it, and then train the
// notebook's regression with it and with ReLU.
import Foundation
import IDL
import IDLPlot
import TutorialSupport

let tutorial = Tutorial("custom-activation")

// The derivative follows from the product rule and σ′ = σ(1 − σ):
//
// ```text
// φ(x)  = x σ(x)
// φ′(x) = σ(x) + x σ(x)(1 − σ(x)) = σ(x) (1 + x (1 − σ(x)))
// ```
//
// Both methods are generic over the scalar type, so the same activation works in `Float` and
// `Double` models. `logistic` is the library's numerically stable σ (it never computes e^x
// for a large positive x). The `name` is what printouts and saved model files show.
step("Define SiLU as a new Activation")
struct MySiLU: Activation {
    var name: String { "my-silu" }
    func phi<T: BLASScalar>(_ x: T) -> T { x * logistic(x) }
    func dphi<T: BLASScalar>(_ x: T) -> T {
        let s = logistic(x)
        return s * (1 + x * (1 - s))
    }
}
let silu = MySiLU()
print("φ(-2), φ(0), φ(2)  = \(fixed(silu.phi(-2.0))), \(fixed(silu.phi(0.0))), \(fixed(silu.phi(2.0)))")
print("φ′(-2), φ′(0), φ′(2) = \(fixed(silu.dphi(-2.0))), \(fixed(silu.dphi(0.0))), \(fixed(silu.dphi(2.0)))")

// A wrong derivative does not crash anything — training just goes astray — so check it
// before using it. A central difference (φ(x + h) − φ(x − h)) / 2h approximates φ′(x) with an
// error of order h²; with h = 1e-5 in `Double` the two should agree to about 1e-10 on a grid
// of points. We also compare with the built-in SiLU, entry for entry.
step("Check the derivative numerically")
let grid = Array(stride(from: -6.0, through: 6.0, by: 0.25))
let h = 1e-5
let derivativeError = grid.map { x in
    abs((silu.phi(x + h) - silu.phi(x - h)) / (2 * h) - silu.dphi(x))
}.max()!
let builtInGap = grid.map { abs(silu.phi($0) - SiLU().phi($0)) + abs(silu.dphi($0) - SiLU().dphi($0)) }.max()!
print("largest |finite difference − φ′| on \(grid.count) points in [-6, 6]: \(scientific(derivativeError))")
print("largest gap to the built-in SiLU (φ and φ′): \(scientific(builtInGap))")
print("smallest value of φ: \(fixed(grid.map { silu.phi($0) }.min()!)) (SiLU dips below zero; ReLU does not)")

// Pass the activation to the model with `activation:`. To compare fairly, every model below
// starts from the **same** matrices and sees the same data: we draw the data once, and
// reseed the generator before creating each model. Besides our SiLU and ReLU we train the
// built-in SiLU too; it should follow our SiLU's losses exactly.
step("Train the notebook's regression with each activation")
var dataGenerator = SeededGenerator(seed: 42)
let x = Matrix<Float>.randomNormal(64, 5, using: &dataGenerator)
let y = Matrix<Float>.randomNormal(10, 5, using: &dataGenerator)
let activations: [(label: String, activation: any Activation)] = [
    ("ReLU", ReLU()),
    ("my SiLU", MySiLU()),
    ("built-in SiLU", SiLU()),
]
let epochs = 10
var models: [ImplicitModel<Float>] = []
var losses: [[Double]] = []
for (_, activation) in activations {
    var modelGenerator = SeededGenerator(seed: 7)
    let model = try ImplicitModel<Float>(
        inputDim: 64, outputDim: 10, hiddenDim: 128,
        activation: activation, using: &modelGenerator)
    let optimizer = try Adam(model.parameters, learningRate: 0.01)
    var curve: [Double] = []
    for _ in 1...epochs {
        optimizer.zeroGrad()
        let loss = try mseLoss(model(Tensor(x)), y)
        loss.backward()
        optimizer.step()
        curve.append(Double(loss.value[0, 0]))
    }
    models.append(model)
    losses.append(curve)
}
print(
    table(
        ["epoch"] + activations.map(\.label),
        (0..<epochs).map { e in ["\(e + 1)"] + losses.map { fixed($0[e]) } }))

// SiLU is not quite what the theory of implicit models asks for. The well-posedness results
// assume φ monotone and 1-Lipschitz; SiLU dips below zero (it is not monotone for x < −1.28)
// and its slope reaches about 1.1. With ‖A‖∞ ≤ 0.99 the fixed-point map could then stretch
// distances by up to 1.1 × 0.99 ≈ 1.09, and Picard iteration is no longer *guaranteed* to
// converge. In practice it does here — but this is exactly what the solver statistics are
// for, so we read them for each model.
step("Compare the models and their solves")
for (k, (label, _)) in activations.enumerated() {
    print("\(label):")
    print("  final loss \(fixed(losses[k].last!)), \(models[k].log.summary)")
}
let slope = grid.map { abs(silu.dphi($0)) }.max()!
print("largest slope of SiLU on the grid: \(fixed(slope)) (ReLU: 1)")
let sameLosses = zip(losses[1], losses[2]).allSatisfy { abs($0 - $1) < 1e-6 }
print("my SiLU and the built-in SiLU trained identically: \(sameLosses)")

// Two pictures: the activations and their derivatives, and the loss curves.
step("Plot the activations and the loss curves")
let xs = Array(stride(from: -4.0, through: 4.0, by: 0.05))
var shapes = LinePlot(title: "ReLU and SiLU", xLabel: "x", yLabel: "value")
try shapes.add(x: xs, y: xs.map { ReLU().phi($0) }, label: "ReLU")
try shapes.add(x: xs, y: xs.map { silu.phi($0) }, label: "SiLU")
try shapes.add(x: xs, y: xs.map { silu.dphi($0) }, label: "SiLU derivative")
try tutorial.save(shapes, as: "activations.png")
var curves = LinePlot(title: "Training loss by activation", xLabel: "epoch", yLabel: "MSE loss", logY: true)
curves.add(y: losses[0], label: "ReLU")
curves.add(y: losses[1], label: "my SiLU")
try tutorial.save(curves, as: "losses.png")

// ## What to take away
//
// A new activation is a type with `phi` and `dphi`; the model, the solvers and the implicit
// differentiation use it like a built-in one. Check the derivative numerically, and remember
// that well-posedness is proven for monotone 1-Lipschitz φ: with anything else, read
// `model.log` to see whether the solves still converge.
//
// ## Exercises
//
// 1. **Softsign.** Write φ(x) = x / (1 + |x|) as an `Activation` (derive φ′ yourself), check
//    it with the finite-difference test and train it on the same data. Is it monotone and
//    1-Lipschitz?
// 2. **A bad derivative.** Change `dphi` to return σ(x) only (a common mistake). The finite
//    difference check catches it; what happens to the training loss?
// 3. **Breaking the contraction.** Define φ(x) = 2·tanh(x), which is monotone but 2-Lipschitz,
//    and train with `kappa: 0.99`. Read `model.log.summary`. Which `kappa` makes the solves
//    converge again, and why does κ < 1/2 always suffice?
