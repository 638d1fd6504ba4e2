import ArgumentParser
import Foundation
import IDL

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train an ImplicitModel on an image classification data set.",
        discussion: """
            The defaults reproduce the reference setup: FashionMNIST with pixels scaled to [−1, 1], \
            hidden dimension 100, batch 64, Adam with learning rate 5e-3, 10 epochs, Float32, Picard \
            iterations (300 at tolerance 3e-6 forward and backward), κ = 0.99.

            Each epoch is logged to standard output and appended to <log-dir>/train.log, after a \
            header line for the run ("# run <time> pid <pid>: idl train …"); the trained model is \
            saved (atomically) with its configuration in the file's metadata. Every output path is \
            checked before the data are loaded.

            With --json the last line is a JSON object with the keys test_accuracy, ms_per_step, \
            forward_iterations_mean, backward_iterations_mean, converged_fraction, epochs, parameters, \
            norm_A_inf, model.
            """
    )

    @Option(
        help:
            "Data set: fashion-mnist; mnist or mnist-format (MNIST-format IDX files in --data-dir); cifar10 (the CIFAR-10 binary batches in --data-dir), as torchidl's examples/idl/idl.sh; cifar100 (train.bin and test.bin of CIFAR-100's binary version in --data-dir, fine labels)."
    )
    var dataset = "fashion-mnist"

    @Option(
        help:
            "Directory holding the data set's files (default for fashion-mnist: \(FashionMNIST.defaultDirectory.path))."
    )
    var dataDir: String?

    @Option(help: "Training epochs.") var epochs = 10
    @Option(help: "Mini-batch size.") var batchSize = 64
    @Option(help: "Hidden (state) dimension n.") var hiddenDim = 100
    @Option(help: "Adam learning rate.") var lr = 5e-3
    @Option(help: "Radius κ of the well-posedness constraint ‖A‖∞ ≤ κ.") var kappa = 0.99
    @Option(help: "Well-posedness rule: inf (torchidl's scaling), row-l1, triu, none.") var wellposedness =
        WellPosedness.infinityNorm
    @Option(help: "Activation: relu, tanh, sigmoid, silu, leaky-relu.") var activation = "relu"
    @Option(help: "Forward fixed-point iteration budget.") var mitr = 300
    @Option(help: "Backward (adjoint) iteration budget.") var gradMitr = 300
    @Option(help: "Forward tolerance on ‖X_{k+1} − X_k‖_max.") var tol = 3e-6
    @Option(help: "Backward tolerance.") var gradTol = 3e-6
    @Option(help: "Use a low-rank A = L Rᵀ of this rank.") var rank: Int?
    @Option(help: "Fixed-point solver: picard or anderson.") var solver = FixedPointSolverName.picard
    @Option(help: "Random seed (initialisation and shuffling).") var seed: UInt64 = 0
    @Option(help: "Use only this many training images (quick runs).") var trainSubset: Int?
    @Option(help: "Where to save the trained model.") var output = "results/implicit-model.safetensors"
    @Option(help: "Directory for the per-epoch log.") var logDir = "results/train"
    @Flag(
        help:
            "Log train loss, train accuracy, test loss and test accuracy per epoch, as idl.sh's log (one more pass over the training set per epoch)."
    )
    var log = false
    @Flag(
        help:
            "Train on the processes mpirun started (mpirun -np K idl train --distributed …): each takes a fixed shard of every batch, the gradients are summed, rank 0 alone prints and writes."
    )
    var distributed = false
    @OptionGroup var out: OutputOptions

    func validate() throws {
        try NumberRule.check("--epochs", epochs, atLeast: 1)
        try NumberRule.check("--batch-size", batchSize, atLeast: 1)
        try NumberRule.check("--hidden-dim", hiddenDim, atLeast: 1)
        try NumberRule.check("--mitr", mitr, atLeast: 1)
        try NumberRule.check("--grad-mitr", gradMitr, atLeast: 1)
        if let rank { try NumberRule.check("--rank", rank, atLeast: 1) }
        if let trainSubset { try NumberRule.check("--train-subset", trainSubset, atLeast: 1) }
        try NumberRule.positive.check("--lr", lr)
        try NumberRule.openUnitInterval.check("--kappa", kappa)
        try NumberRule.positive.check("--tol", tol)
        try NumberRule.positive.check("--grad-tol", gradTol)
        _ = try parseActivation(activation)
        guard ["fashion-mnist", "mnist", "mnist-format", "cifar10", "cifar100"].contains(dataset) else {
            throw ValidationError(
                "unknown --dataset '\(dataset)'; use fashion-mnist, mnist or mnist-format (with --data-dir DIR), or cifar10 or cifar100 (with --data-dir DIR)"
            )
        }
        if dataset != "fashion-mnist" && dataDir == nil {
            throw ValidationError(
                "--dataset \(dataset) needs --data-dir DIR (\(dataset == "cifar10" ? "the folder of data_batch_1.bin … test_batch.bin" : dataset == "cifar100" ? "the folder of train.bin and test.bin" : "the folder of the four MNIST-format IDX files"); nothing is downloaded)"
            )
        }
    }

    /// The files of the run: data files read, model and log written.
    var files: [RunFile] {
        let data = dataDir ?? FashionMNIST.defaultDirectory.path
        let names: [String] =
            switch dataset {
            case "cifar10": (1...5).map { "data_batch_\($0).bin" } + ["test_batch.bin"]
            case "cifar100": ["train.bin", "test.bin"]
            default:
                ["train", "t10k"].flatMap { split in
                    ["images-idx3-ubyte", "labels-idx1-ubyte"].flatMap { ["\(split)-\($0)", "\(split)-\($0).gz"] }
                }
            }
        return names.flatMap { RunFile.input("--data-dir", URL(fileURLWithPath: data).appendingPathComponent($0).path) }
            + RunFile.output("--output", output) + RunFile.directory("--log-dir", logDir, files: ["train.log"])
    }

    func run() throws {
        guard distributed else { return try train(on: SingleProcessCommunicator()) }
        try withMPI { try train(on: $0) }
    }

    /// The run, as one rank of `comm` (alone: a SingleProcessCommunicator, no data parallelism);
    /// rank 0 alone checks and writes the files and prints.
    func train(on comm: any Communicator) throws {
        let leader = comm.rank == 0
        let out = leader ? self.out : OutputOptions.silent
        var (train, test) = try comm.checkpoint { () throws -> (Dataset<Float>, Dataset<Float>) in
            if leader { try RunFiles.check(files) }
            let directory = dataDir.map { URL(fileURLWithPath: $0) } ?? FashionMNIST.defaultDirectory
            if dataset == "fashion-mnist" {
                return try FashionMNIST.loadTrainAndTest(from: directory, scaling: .symmetric, as: Float.self)
            } else if dataset == "cifar10" {
                return try (
                    CIFAR.load10(.train, from: directory, scaling: .symmetric, as: Float.self),
                    CIFAR.load10(.test, from: directory, scaling: .symmetric, as: Float.self)
                )
            } else if dataset == "cifar100" {
                return try (
                    CIFAR.load100(.train, from: directory, scaling: .symmetric, as: Float.self),
                    CIFAR.load100(.test, from: directory, scaling: .symmetric, as: Float.self)
                )
            }
            return try (
                MNISTFormat.load(.train, from: directory, scaling: .symmetric, as: Float.self),
                MNISTFormat.load(.test, from: directory, scaling: .symmetric, as: Float.self)
            )
        }
        var g = SeededGenerator(seed: seed)
        if let k = trainSubset {
            guard k <= train.count else {
                throw ValidationError(
                    "--train-subset \(k) is larger than the training set (\(train.count) images); use at most \(train.count), or leave it out to train on all"
                )
            }
            train = try train.randomSubset(k, using: &g)
        }
        let fixedPoint = solver.solver
        // Training batches and the evaluation batches of 1 000 must fit, with the solver's buffers.
        try MemoryEstimate.implicitModel(
            inputDim: train.featureCount, outputDim: max(train.classCount, test.classCount),
            hiddenDim: hiddenDim, rank: rank, batchSize: max(batchSize, 1000), scalarSize: 4,
            solverBuffers: solver.buffers
        ).check()
        let model = try ImplicitModel<Float>(
            inputDim: train.featureCount, outputDim: max(train.classCount, test.classCount), hiddenDim: hiddenDim,
            rank: rank, kappa: kappa, wellPosedness: wellposedness, activation: try parseActivation(activation),
            solver: fixedPoint, maxIterations: mitr, tolerance: tol, gradMaxIterations: gradMitr,
            gradTolerance: gradTol,
            using: &g)
        let optimizer = try Adam(model.parameters, learningRate: lr)
        out.say("\(model.summary)")
        out.say(
            "\(dataset): \(train.count) training, \(test.count) test images; batch \(batchSize), Adam \(lr), \(epochs) epochs, \(solver)"
        )
        if leader { try AtomicFile.createDirectories(URL(fileURLWithPath: logDir)) }
        let logURL = URL(fileURLWithPath: logDir).appendingPathComponent("train.log")
        // Appended, never replaced: a header line per run, then the model and the epochs.
        let started = ISO8601DateFormatter().string(from: Date())
        let command = (["idl"] + CommandLine.arguments.dropFirst()).joined(separator: " ")
        if leader {
            try AtomicFile.append(
                Data(
                    "# run \(started) pid \(getpid()): \(command)\n# \(model.summary)\nepoch,loss,test_accuracy,ms_per_step,forward_iterations,backward_iterations,converged_fraction\(log ? ",train_accuracy,test_loss" : "")\n"
                        .utf8), to: logURL)
        }
        let reports = try trainClassifier(
            model, optimizer: optimizer, train: train, test: test, epochs: epochs,
            batchSize: batchSize, generator: &g, solveLog: model.log,
            progress: out.progressStyle, communicator: comm.size > 1 ? comm : nil
        ) { r in
            out.say(
                "epoch \(r.epoch): loss \(formatFixed(r.loss, decimals: 4)), test accuracy \(formatFixed(100 * r.testAccuracy!, decimals: 2)) %, \(formatFixed(r.msPerStep, decimals: 2)) ms/step, forward \(formatFixed(r.forwardIterations!, decimals: 1)) it, backward \(formatFixed(r.backwardIterations!, decimals: 1)) it, converged \(formatFixed(100 * r.convergedFraction!, decimals: 1)) %"
            )
            if let warning = r.solveWarning { out.say("warning: \(warning)") }
            var extra = ""
            if log {
                let (trainAccuracy, testLoss) = try epochLog(model, train: train, test: test)
                out.say(
                    "epoch \(r.epoch): train loss \(formatFixed(r.loss, decimals: 4)), train accuracy \(formatFixed(100 * trainAccuracy, decimals: 2)) %, test loss \(formatFixed(testLoss, decimals: 4)), test accuracy \(formatFixed(100 * r.testAccuracy!, decimals: 2)) %"
                )
                extra = ",\(trainAccuracy),\(testLoss)"
            }
            guard leader else { return }
            try AtomicFile.append(
                Data(
                    "\(r.epoch),\(r.loss),\(r.testAccuracy!),\(r.msPerStep),\(r.forwardIterations!),\(r.backwardIterations!),\(r.convergedFraction!)\(extra)\n"
                        .utf8), to: logURL)
        }
        let outputURL = URL(fileURLWithPath: output)
        try comm.checkpoint {
            guard leader else { return }
            try createParentDirectory(of: output)
            try model.save(to: outputURL)
        }
        out.say(
            "saved \(FilePathBytes.display(outputURL.path)); log \(FilePathBytes.display(logURL.path)); \(model.wellPosednessReport)"
        )
        let steps = reports.reduce(0) { $0 + $1.steps }
        let weighted = { (f: (EpochReport) -> Double) in
            reports.reduce(0.0) { $0 + f($1) * Double($1.steps) } / Double(max(1, steps))
        }
        try out.emit([
            "test_accuracy": reports.last!.testAccuracy!,
            "ms_per_step": 1000 * reports.reduce(0) { $0 + $1.seconds } / Double(max(1, steps)),
            "forward_iterations_mean": weighted { $0.forwardIterations! },
            "backward_iterations_mean": weighted { $0.backwardIterations! },
            "converged_fraction": weighted { $0.convergedFraction! },
            "epochs": epochs,
            "parameters": model.parameterCount,
            "norm_A_inf": model.wellPosednessReport.infinityNorm,
            "model": outputURL.path,
        ])
    }
}
