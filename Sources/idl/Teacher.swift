import Foundation
import IDL

// PyTorch teachers on the command line: `idl predict` on a state_dict of Linear layers, and
// the states `idl sim --teacher` fits.

/// The message for a PyTorch state_dict given without its activation.
let teacherActivationMissing =
    "a PyTorch state_dict of nn.Linear layers does not record its activation: pass --activation relu (or tanh, sigmoid, softplus, leaky-relu[:SLOPE], silu), the one between the network's layers"

extension Predict {
    /// Runs a feedforward network loaded from a PyTorch state_dict on the batch-first input
    /// and writes its outputs (the logits), batch-first.
    func predictFeedforward(_ file: SafeTensors) throws {
        guard let activation else { throw CommandError(teacherActivationMissing) }
        let net = try Sequential<Float>(torchStateDict: file, activation: try parseActivation(activation))
        let linears = net.layers.compactMap { $0 as? Linear<Float> }
        let u = try readInput(features: linears[0].inputDim, suggestBias: false)
        let y = try net.predict(u)
        try createParentDirectory(of: output)
        try writeNpy(y, to: URL(fileURLWithPath: output))
        let widths = [linears[0].inputDim] + linears.map(\.outputDim)
        out.say(
            "feedforward network \(widths.map(String.init).joined(separator: "-")) (\(activation), \(linears.contains { $0.bias != nil } ? "with" : "no") bias): predicted \(u.cols) samples → \(FilePathBytes.display(output)) (\(y.cols)×\(y.rows) batch-first)"
        )
        try out.emit([
            "samples": u.cols, "input_dim": widths.first!, "output_dim": widths.last!, "output": output,
            "layers": linears.count,
        ])
    }
}

/// A PyTorch teacher's states for SIM, with its accuracy as computed here.
struct TeacherStates {
    var states: SIMStates<Double>
    var accuracy: Double
    var nonzeros: Int
}

/// Loads the teacher, reports its FashionMNIST test accuracy, rescales it when its activation
/// is positively homogeneous (so the exactly matching SIM model is well posed; the outputs do
/// not change), and collects its states on `samples` random training images.
func teacherStates(
    path: String, activation name: String?, samples: Int, kappa: Double, seed: UInt64, test: Dataset<Float>,
    out: OutputOptions
) throws -> TeacherStates {
    guard let name else { throw CommandError(teacherActivationMissing) }
    let activation = try parseActivation(name)
    let teacher = try Sequential<Float>(torchStateDictAt: URL(fileURLWithPath: path), activation: activation)
    let linears = teacher.layers.compactMap { $0 as? Linear<Float> }
    guard linears.count >= 2 else {
        throw CommandError(
            "the teacher \(path) has a single Linear layer, so no hidden activation: SIM needs at least one hidden layer"
        )
    }
    guard linears[0].inputDim == test.featureCount else {
        throw CommandError(
            "the teacher's first layer takes \(linears[0].inputDim) inputs, but FashionMNIST images have \(test.featureCount) pixels"
        )
    }
    let accuracy = try evaluateAccuracy(teacher, test)
    let nonzeros = teacher.parameters.reduce(0) { $0 + $1.value.count - $1.value.zeroCount }
    let widths = [linears[0].inputDim] + linears.map(\.outputDim)
    out.say(
        "teacher \(path): \(widths.map(String.init).joined(separator: "-")), \(activation.name), \(linears.contains { $0.bias != nil } ? "with" : "no") bias; test accuracy \(formatFixed(100 * accuracy, decimals: 2)) %, \(nonzeros) weights"
    )
    if activation is ReLU || activation is LeakyReLU {
        let factors = try rescaleForWellPosedness(teacher, kappa: kappa)
        out.say("layers rescaled by \(factors.map { formatScalar($0, digits: 3) }) (outputs unchanged)")
    }
    let train = try FashionMNIST.load(.train, scaling: .unit, as: Float.self)
    var g = SeededGenerator(seed: seed)
    let subset = try train.randomSubset(min(samples, train.count), using: &g)
    let states = try StateExtraction.states(of: teacher, inputs: subset.inputs).converted(to: Double.self)
    return TeacherStates(states: states, accuracy: accuracy, nonzeros: nonzeros)
}
