import ArgumentParser
import Foundation
import IDL

struct RNNCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rnn",
        abstract: "Train an ImplicitRNN on a time series (torchidl's examples/idl_rnn/idl_rnn.sh).",
        discussion: """
            The defaults are idl_rnn.sh's: the spiky synthetic series, look-back 60 (59 input steps, the \
            60th value the target), the last 40 % of the windows for testing, RNN hidden size 22 around an \
            implicit layer of 20 states with a rank-2 A, κ 0.99, 300 fixed-point iterations at tolerance \
            3e-6 both ways, Adam 5e-4 on the full training set for 100 epochs, seed 0.

            --series FILE.npy trains on your own series instead: a 1-D array (or one column/row) of \
            numbers, windowed the same way.

            --output saves the model as a torchidl ImplicitRNN state_dict (recurrent.layer.*, linear.*), \
            which `idl predict` and torchidl's ImplicitRNN.load_state_dict read.

            With --json the last line is a JSON object with the keys train_mse, test_mse, test_r2, \
            test_mape, epochs, parameters, model.
            """
    )

    @Option(help: "Data: spiky (torchidl's synthetic series).") var dataset = "spiky"
    @Option(help: "Train on this series (.npy, 1-D) instead of --dataset.") var series: String?
    @Option(help: "Window length: inputs are the first look-back − 1 values, the target the last.") var lookBack = 60
    @Option(help: "Share of the windows (the last ones) kept for testing.") var testFraction = 0.4
    @Option(help: "Training epochs (one full-batch Adam step each).") var epochs = 100
    @Option(help: "Hidden size of the RNN state.") var hiddenDim = 22
    @Option(help: "States of the implicit layer.") var implicitHiddenDim = 20
    @Option(help: "Rank of A (0: dense A).") var rank = 2
    @Option(help: "Adam learning rate.") var lr = 5e-4
    @Option(help: "Radius κ of ‖A‖∞ ≤ κ.") var kappa = 0.99
    @Option(help: "Forward fixed-point iteration budget.") var mitr = 300
    @Option(help: "Backward iteration budget.") var gradMitr = 300
    @Option(help: "Forward tolerance.") var tol = 3e-6
    @Option(help: "Backward tolerance.") var gradTol = 3e-6
    @Option(help: "Random seed (series and initialisation).") var seed: UInt64 = 0
    @Option(help: "Where to save the trained model (.safetensors); nothing is saved without it.") var output: String?
    @OptionGroup var out: OutputOptions

    func validate() throws {
        guard dataset == "spiky" else {
            throw ValidationError("unknown --dataset '\(dataset)'; use spiky, or --series FILE.npy")
        }
        guard epochs >= 1, hiddenDim >= 1, implicitHiddenDim >= 1 else {
            throw ValidationError("--epochs, --hidden-dim and --implicit-hidden-dim must be at least 1")
        }
        guard rank >= 0, rank <= implicitHiddenDim else {
            throw ValidationError("--rank must lie in 0...\(implicitHiddenDim) (0: dense A), got \(rank)")
        }
        try NumberRule.positive.check("--lr", lr)
        try NumberRule.openUnitInterval.check("--kappa", kappa)
        try NumberRule.positive.check("--tol", tol)
        try NumberRule.positive.check("--grad-tol", gradTol)
        try NumberRule.check("--mitr", mitr, atLeast: 1)
        try NumberRule.check("--grad-mitr", gradMitr, atLeast: 1)
        guard lookBack >= 2, testFraction > 0, testFraction < 1 else {
            throw ValidationError("--look-back must be at least 2 and --test-fraction in (0, 1)")
        }
    }

    func run() throws {
        try RunFiles.check(RunFile.input("--series", series) + RunFile.output("--output", output))
        let train: SequenceDataset<Float>
        let test: SequenceDataset<Float>
        if let series {
            let values = try readNpy(URL(fileURLWithPath: series), as: Double.self)
            guard values.rows == 1 || values.cols == 1 else {
                throw CommandError(
                    "--series must hold one series (a 1-D array, or one row or column), got a \(values.shapeDescription) array"
                )
            }
            (train, test) = try SpikyTimeSeries.windows(
                of: values.storage, lookBack: lookBack, testFraction: testFraction, as: Float.self)
        } else {
            let configuration = SpikyTimeSeries.Configuration(lookBack: lookBack, testFraction: testFraction)
            (train, test, _) = try SpikyTimeSeries.make(configuration, seed: seed, as: Float.self)
        }
        guard train.count >= 1, test.count >= 1 else {
            throw CommandError(
                "the series gives \(train.count) training and \(test.count) test windows of length \(lookBack); use a longer series, a shorter --look-back or another --test-fraction"
            )
        }
        var g = SeededGenerator(seed: seed)
        let model = try ImplicitRNN<Float>(
            inputDim: 1, outputDim: 1, implicitHiddenDim: implicitHiddenDim, hiddenDim: hiddenDim,
            rank: rank == 0 ? nil : rank, kappa: kappa, maxIterations: mitr, tolerance: tol,
            gradMaxIterations: gradMitr, gradTolerance: gradTol, using: &g)
        out.say(model.summary)
        out.say(
            "\(series ?? "spiky series"): \(train.count) training and \(test.count) test windows of \(lookBack - 1) steps; Adam \(lr), \(epochs) epochs"
        )
        let optimizer = try Adam(model.parameters, learningRate: lr)
        var trainMSE = 0.0
        for epoch in 1...epochs {
            optimizer.zeroGrad()
            let loss = try mseLoss(model(train.steps), train.targets)
            loss.backward()
            optimizer.step()
            trainMSE = Double(loss.value[0, 0])
            guard trainMSE.isFinite else {
                throw CommandError(
                    "the training loss became \(trainMSE) at epoch \(epoch); try a smaller --lr or --kappa")
            }
            if epoch == 1 || epoch % 10 == 0 || epoch == epochs {
                out.say("epoch \(epoch): train MSE \(formatFixed(trainMSE, decimals: 5))")
            }
        }
        let prediction = try model.predict(test.steps)
        let testMSE = try mseLoss(Tensor(prediction), test.targets).value[0, 0]
        let r2 = try Metrics.r2(prediction, test.targets)
        let mape = try Metrics.mape(prediction, test.targets)
        out.say(
            "test: MSE \(formatFixed(Double(testMSE), decimals: 5)), R² \(formatFixed(r2, decimals: 4)), MAPE \(formatFixed(mape, decimals: 4))"
        )
        var figures: [String: Any] = [
            "train_mse": trainMSE, "test_mse": Double(testMSE), "test_r2": r2, "test_mape": mape, "epochs": epochs,
            "parameters": model.parameters.reduce(0) { $0 + $1.value.count },
        ]
        if let output {
            let url = URL(fileURLWithPath: output)
            try createParentDirectory(of: output)
            try torchidlStateDict(model).write(to: url)
            out.say("saved \(FilePathBytes.display(url.path)) (a torchidl ImplicitRNN state_dict)")
            figures["model"] = url.path
        }
        try out.emit(figures)
    }

    /// The model as torchidl's `ImplicitRNN.state_dict()` names it.
    func torchidlStateDict(_ model: ImplicitRNN<Float>) -> SafeTensors {
        var file = SafeTensors()
        let layer = model.implicitLayer
        let parts: [(String, Tensor<Float>?)] = [
            ("A", layer.A), ("L", layer.L), ("R", layer.R), ("B", layer.B), ("C", layer.C), ("D", layer.D),
        ]
        for (name, tensor) in parts {
            if let tensor { file.setMatrix("recurrent.layer.\(name)", tensor.value) }
        }
        file.setMatrix("linear.weight", model.linear.weight.value)
        if let bias = model.linear.bias {
            file.tensors["linear.bias"] = SafeTensors.Tensor(vector: bias.value.storage)
        }
        file.metadata = ["format": "pt"]
        return file
    }
}
