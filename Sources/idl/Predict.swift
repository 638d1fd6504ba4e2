import ArgumentParser
import Foundation
import IDL

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a saved implicit model on a batch stored as .npy.",
        discussion: """
            --model takes a .safetensors file written by `idl train`, or a torchidl state_dict saved with \
            safetensors.torch.save_file(model.state_dict(), path) (tensors A, B, C, D, or L, R, B, C, D \
            for a low-rank model, which is recognised from L and R). A state_dict does not record κ, \
            the activation, the bias row or the well-posedness rule: give them with the flags below \
            (defaults are torchidl's: κ 0.99, relu, no bias, inf).

            An ImplicitRNN state_dict (recurrent.layer.*, linear.*) is recognised too; its --input has \
            shape (batch, time, features). So is an explicit network's state_dict of nn.Linear layers \
            (every name ends in .weight or .bias, layers in the natural order of their key prefixes): \
            give its activation with --activation; the logits are written.

            --input is batch-first, as numpy writes it: shape (m, p) for m samples of p features. \
            --output receives the predictions, batch-first (m, q), float32.

            With --json the last line is a JSON object with the keys samples, input_dim, output_dim, \
            forward_iterations, converged, output.
            """
    )

    @Option(help: "The model (.safetensors).") var model: String
    @Option(help: "The input batch (.npy, batch-first (m, p)).") var input: String
    @Option(help: "Where to write the predictions (.npy, batch-first (m, q)).") var output: String
    @Option(help: "κ, when the file does not record it.") var kappa: Double?
    @Option(help: "Activation (relu, tanh, sigmoid, silu, leaky-relu), when the file does not record it.")
    var activation: String?
    @Flag(help: "The model appends a constant-one input row (torchidl's bias=True).") var bias = false
    @Option(help: "Well-posedness rule (inf, row-l1, triu, none), when the file does not record it.") var wellposedness:
        WellPosedness?
    @Option(help: "Fixed-point solver: picard or anderson.") var solver = "picard"
    @OptionGroup var out: OutputOptions

    func run() throws {
        let options = ImplicitModelLoadOptions(
            kappa: kappa, activation: try activation.map(parseActivation),
            bias: bias ? true : nil, wellPosedness: wellposedness)
        let fixedPoint: any FixedPointSolver = solver == "anderson" ? Anderson() : Picard()
        let modelURL = URL(fileURLWithPath: model)
        let file = try SafeTensors(contentsOf: modelURL)
        if ImplicitRNN<Float>.isStateDict(file) {
            try predictSequences(try ImplicitRNN<Float>.load(from: modelURL, options: options, solver: fixedPoint))
            return
        }
        if Sequential<Float>.isTorchStateDict(file) {
            try predictFeedforward(file)
            return
        }
        let net = try ImplicitModel<Float>.load(from: URL(fileURLWithPath: model), options: options, solver: fixedPoint)
        let u = try readNpy(URL(fileURLWithPath: input), as: Float.self)
        guard u.rows == net.inputDim else {
            throw CommandError(
                "the input has \(u.rows) features per sample but the model expects \(net.inputDim): --input must be batch-first (m, \(net.inputDim))\(net.bias ? "" : "; if the model was trained with bias=True, pass --bias")"
            )
        }
        let y = try net.predict(u)
        try writeNpy(y, to: URL(fileURLWithPath: output))
        let stats = net.log.lastForward
        out.say("\(net.summary)")
        out.say(
            "predicted \(u.cols) samples → \(output) (\(y.cols)×\(y.rows) batch-first); fixed point \(stats.map { "\($0)" } ?? "n/a")"
        )
        try out.emit([
            "samples": u.cols, "input_dim": net.inputDim, "output_dim": net.outputDim,
            "forward_iterations": stats?.iterations ?? 0, "converged": stats?.converged ?? false, "output": output,
        ])
    }

    /// An ImplicitRNN on a batch-first (m, T, p) array.
    func predictSequences(_ rnn: ImplicitRNN<Float>) throws {
        let array = try NpyArray(contentsOf: URL(fileURLWithPath: input))
        guard array.shape.count == 3, array.shape[2] == rnn.inputDim else {
            throw CommandError(
                "an ImplicitRNN needs --input of shape (batch, time, \(rnn.inputDim)), got \(array.shape)")
        }
        let steps = try sequenceSteps(fromFlattened: array.matrix(as: Float.self), features: rnn.inputDim)
        let y = try rnn.predict(steps)
        try writeNpy(y, to: URL(fileURLWithPath: output))
        out.say(
            "ImplicitRNN(p=\(rnn.inputDim), h=\(rnn.hiddenDim), q=\(rnn.outputDim)): predicted \(y.cols) sequences of \(steps.count) steps → \(output)"
        )
        try out.emit([
            "samples": y.cols, "input_dim": rnn.inputDim, "output_dim": rnn.outputDim, "steps": steps.count,
            "output": output,
        ])
    }
}
