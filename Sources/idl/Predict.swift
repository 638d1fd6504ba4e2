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
    @Option(help: "The input batch (.npy, batch-first (m, p); (m, d₁, …, d_k) with d₁⋯d_k = p is flattened).")
    var input: String
    @Option(help: "Where to write the predictions (.npy, batch-first (m, q)).") var output: String
    @Option(help: "κ, when the file does not record it.") var kappa: Double?
    @Option(help: "Activation (relu, tanh, sigmoid, silu, leaky-relu), when the file does not record it.")
    var activation: String?
    @Flag(help: "The model appends a constant-one input row (torchidl's bias=True).") var bias = false
    @Option(help: "Well-posedness rule (inf, row-l1, triu, none), when the file does not record it.") var wellposedness:
        WellPosedness?
    @Flag(help: "Let --kappa, --activation, --wellposedness and --bias replace what the model file records.")
    var overrideMetadata = false
    @Option(help: "Fixed-point solver: picard or anderson.") var solver = FixedPointSolverName.picard
    @Flag(
        help:
            "Write the predictions even when the fixed-point solve did not converge for some samples (they are named on standard error); without it that is an error and nothing is written."
    )
    var allowUnconverged = false
    @OptionGroup var out: OutputOptions

    func validate() throws {
        if let kappa { try NumberRule.openUnitInterval.check("--kappa", kappa) }
        if let activation { _ = try parseActivation(activation) }
    }

    func run() throws {
        try RunFiles.check(
            RunFile.input("--model", model) + RunFile.input("--input", input) + RunFile.output("--output", output))
        let options = ImplicitModelLoadOptions(
            kappa: kappa, activation: try activation.map(parseActivation),
            bias: bias ? true : nil, wellPosedness: wellposedness)
        let modelURL = URL(fileURLWithPath: model)
        let file = try SafeTensors(contentsOf: modelURL)
        if ImplicitRNN<Float>.isStateDict(file) {
            try predictSequences(
                try ImplicitRNN<Float>.load(stateDict: file, source: model, options: options, solver: solver.solver))
            return
        }
        if Sequential<Float>.isTorchStateDict(file) {
            try predictFeedforward(file)
            return
        }
        try checkFlagsAgainst(file.metadata)
        let net = try ImplicitModel<Float>.load(
            stateDict: file, source: FilePathBytes.display(model), options: options, solver: solver.solver)
        let u = try readInput(features: net.inputDim, suggestBias: !net.bias)
        let (yTensor, xTensor) = try net.forward(Tensor(u), initialState: nil)
        let y = yTensor.value
        let stats = net.log.lastForward
        var unconverged: [Int] = []
        if let stats, !stats.converged {
            unconverged = unconvergedSamples(net, u: u, x: xTensor.value)
            let which =
                unconverged.isEmpty
                ? "the batch as a whole (every sample's residual is within the tolerance, the solver's own test was not met)"
                : "\(unconverged.count) of \(u.cols) samples (rows \(describe(unconverged)) of --input, counted from 0)"
            let what =
                "the fixed-point solve did not converge for \(which): \(stats); those predictions are not the model's output"
            guard allowUnconverged else {
                throw CommandError(
                    "\(what), so \(FilePathBytes.display(output)) was not written. Try --solver anderson, or pass --allow-unconverged to write them anyway"
                )
            }
            FileHandle.standardError.write(Data("warning: \(what) (written anyway: --allow-unconverged)\n".utf8))
        }
        try createParentDirectory(of: output)
        try writeNpy(y, to: URL(fileURLWithPath: output))
        out.say("\(net.summary)")
        out.say(
            "predicted \(u.cols) samples → \(FilePathBytes.display(output)) (\(y.cols)×\(y.rows) batch-first); fixed point \(stats.map { "\($0)" } ?? "n/a")"
        )
        try out.emit([
            "samples": u.cols, "input_dim": net.inputDim, "output_dim": net.outputDim,
            "forward_iterations": stats?.iterations ?? 0, "converged": stats?.converged ?? false, "output": output,
            "unconverged_samples": unconverged,
        ])
    }

    /// A flag that says something else than the file's metadata is an error unless
    /// --override-metadata is given: the help promises that the flags fill in what a file
    /// does not record.
    func checkFlagsAgainst(_ meta: [String: String]) throws {
        guard !overrideMetadata else { return }
        var conflicts: [String] = []
        if let kappa, let recorded = meta["kappa"], Double(recorded) != kappa {
            conflicts.append("--kappa \(kappa) (the file records \(recorded))")
        }
        if let activation, let recorded = meta["activation"],
            (try? IDL.activation(named: recorded).name) != (try parseActivation(activation).name)
        {
            conflicts.append("--activation \(activation) (the file records \(recorded))")
        }
        if let wellposedness, let recorded = meta["wellposedness"], recorded != wellposedness.rawValue {
            conflicts.append("--wellposedness \(wellposedness.rawValue) (the file records \(recorded))")
        }
        if bias, let recorded = meta["bias"], recorded != "true" {
            conflicts.append("--bias (the file records bias \(recorded))")
        }
        guard conflicts.isEmpty else {
            throw CommandError(
                "\(conflicts.joined(separator: ", ")) contradicts the model file \(FilePathBytes.display(model)); drop the flag to use the file's value, or add --override-metadata to replace it"
            )
        }
    }

    /// The input as p×m: (m, p) as stored; (m, d₁, …, d_k) flattened when d₁⋯d_k = p (said
    /// once on standard error); anything else is an error naming the shapes, and, when
    /// `suggestBias` (an implicit model without a bias row), suggesting `--bias`.
    func readInput(features p: Int, suggestBias: Bool) throws -> Matrix<Float> {
        let array = try NpyArray(contentsOf: URL(fileURLWithPath: input))
        let shape = array.shape
        let hint = suggestBias ? "; if the model was trained with bias=True, pass --bias" : ""
        let shown = "(" + shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? ",)" : ")")
        switch shape.count {
        case 2 where shape[1] == p, 1 where p == 1:
            return try array.matrix(as: Float.self)
        case 3...:
            let trailing = shape.dropFirst().reduce(1) { $0.multipliedReportingOverflow(by: $1).partialValue }
            guard trailing == p else {
                throw CommandError(
                    "--input has shape \(shown): its \(shape.count - 1) trailing dimensions hold \(trailing) values per sample, but the model expects \(p)\(hint)"
                )
            }
            note(
                "--input of shape \(shown) read as (\(shape[0]), \(p)): each sample's \(shape.count - 1) trailing dimensions flattened in C order"
            )
            return try array.matrix(as: Float.self)
        default:
            let found = shape.count == 2 ? "\(shape[1]) features per sample" : "shape \(shown)"
            throw CommandError(
                "the input has \(found) but the model expects \(p): --input must be batch-first (m, \(p))\(hint)"
            )
        }
    }

    /// The samples (columns) whose fixed-point residual ‖φ(AX + BU) − X‖_max exceeds the tolerance.
    func unconvergedSamples(_ net: ImplicitModel<Float>, u: Matrix<Float>, x: Matrix<Float>) -> [Int] {
        let input = net.bias ? Matrix.vcat([u, Matrix<Float>.ones(1, u.cols)]) : u
        var z = matmul(net.effectiveA, x)
        z += matmul(net.B.value, input)
        let fx = net.activation.apply(z)
        let tolerance = net.forwardSettings.tolerance
        return (0..<x.cols).filter { j in
            (0..<x.rows).contains { i in !(abs(Double(fx[i, j] - x[i, j])) <= tolerance) }
        }
    }

    /// "0, 3, 7" or "0, 1, 2, … (40 in all)".
    func describe(_ indices: [Int]) -> String {
        indices.count <= 10
            ? indices.map(String.init).joined(separator: ", ")
            : indices.prefix(10).map(String.init).joined(separator: ", ") + ", … (\(indices.count) in all)"
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
        try createParentDirectory(of: output)
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
