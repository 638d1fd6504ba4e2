import Foundation
import IDL
import Testing

/// Runs the `idl` executable built beside the test binary; returns (exit status, stdout, stderr).
func runTool(_ name: String, _ arguments: [String], in directory: URL? = nil) throws -> (
    status: Int32, out: String, err: String
) {
    let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(name)
    guard FileManager.default.isExecutableFile(atPath: binary.path) else {
        throw IDLError.io("\(binary.path) is missing: build the package (swift build / swift test build every product)")
    }
    return try runProcess(binary, arguments, in: directory)
}

/// Runs a program with `environment` added to this process's; returns (exit status, stdout, stderr).
func runProcess(_ executable: URL, _ arguments: [String], in directory: URL? = nil, environment: [String: String] = [:])
    throws -> (status: Int32, out: String, err: String)
{
    let p = Process()
    p.executableURL = executable
    p.arguments = arguments
    if let directory { p.currentDirectoryURL = directory }
    if !environment.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
    let out = Pipe()
    let err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
}

/// The last line of the output, parsed as the JSON object `--json` promises.
func lastJSON(_ output: String) throws -> [String: Any] {
    let line = output.split(separator: "\n").last.map(String.init) ?? ""
    guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
        throw IDLError.io("the last line is not a JSON object: \(line)")
    }
    return object
}

@Suite struct CLITests {
    @Test func predictMatchesTorchidlOnTheInteropFixture() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let folder = fixturesDirectory.appendingPathComponent("interop/implicit_small")
        let y = dir.appendingPathComponent("y.npy")
        let r = try runTool(
            "idl",
            [
                "predict", "--model", folder.appendingPathComponent("model.safetensors").path,
                "--input", folder.appendingPathComponent("input.npy").path, "--output", y.path, "--json",
            ])
        #expect(r.status == 0, "\(r.err)")
        let json = try lastJSON(r.out)
        #expect(json["samples"] as? Int == 10 && json["converged"] as? Bool == true)
        let got = try readNpy(y, as: Float.self)
        let want = try readNpy(folder.appendingPathComponent("expected_output.npy"), as: Float.self)
        #expect(got.rows == want.rows && got.cols == want.cols)
        #expect((got - want).maxAbs < 1e-4)
    }

    /// A tiny MNIST-format directory: 4×4 images, two classes told apart by their brightness.
    func writeTinyDataset(_ dir: URL) throws {
        var g = SeededGenerator(seed: 1)
        for (split, count) in [("train", 120), ("t10k", 40)] {
            var pixels = [UInt8]()
            var labels = [UInt8]()
            for k in 0..<count {
                let label = k % 2
                labels.append(UInt8(label))
                for _ in 0..<16 {
                    pixels.append(UInt8(label == 0 ? g.integer(below: 100) : 155 + g.integer(below: 100)))
                }
            }
            try IDXArray.encode(pixels, shape: [count, 4, 4]).write(
                to: dir.appendingPathComponent("\(split)-images-idx3-ubyte"))
            try IDXArray.encode(labels, shape: [count]).write(
                to: dir.appendingPathComponent("\(split)-labels-idx1-ubyte"))
        }
    }

    @Test func trainSaveAndPredictEndToEnd() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try writeTinyDataset(dir)
        let modelURL = dir.appendingPathComponent("m.safetensors")
        let r = try runTool(
            "idl",
            [
                "train", "--dataset", "mnist-format", "--data-dir", dir.path, "--epochs", "2",
                "--batch-size", "16", "--hidden-dim", "8", "--lr", "0.02", "--output", modelURL.path,
                "--log-dir", dir.appendingPathComponent("log").path, "--json", "--quiet",
            ])
        #expect(r.status == 0, "\(r.err)")
        let json = try lastJSON(r.out)
        #expect((json["test_accuracy"] as? Double ?? 0) > 0.9)
        #expect(json["converged_fraction"] as? Double == 1)
        let log = try String(contentsOf: dir.appendingPathComponent("log/train.log"), encoding: .utf8)
        #expect(log.split(separator: "\n").count == 5)  // run header, model comment, column header, two epochs
        // Predict with the tool and in process: the same numbers.
        var g = SeededGenerator(seed: 9)
        let u = Matrix<Float>.randomUniform(16, 5, -1, 1, using: &g)
        try writeNpy(u, to: dir.appendingPathComponent("u.npy"))
        let p = try runTool(
            "idl",
            [
                "predict", "--model", modelURL.path, "--input", dir.appendingPathComponent("u.npy").path,
                "--output", dir.appendingPathComponent("y.npy").path,
            ])
        #expect(p.status == 0, "\(p.err)")
        let viaTool = try readNpy(dir.appendingPathComponent("y.npy"), as: Float.self)
        let inProcess = try ImplicitModel<Float>.load(from: modelURL).predict(u)
        #expect(viaTool == inProcess)
    }

    @Test func badInputGivesOneClearLineAndFailure() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let unknown = try runTool("idl", ["train", "--dataset", "imagenet"])
        #expect(unknown.status != 0 && unknown.err.contains("unknown --dataset"))
        let missing = try runTool(
            "idl",
            [
                "predict", "--model", dir.appendingPathComponent("none.safetensors").path,
                "--input", "u.npy", "--output", "y.npy",
            ])
        #expect(missing.status != 0 && missing.err.contains("not found"))
        // A model file missing a tensor.
        var partial = SafeTensors()
        partial.setMatrix("A", Matrix<Float>.identity(3))
        try partial.write(to: dir.appendingPathComponent("partial.safetensors"))
        try writeNpy(Matrix<Float>.ones(3, 2), to: dir.appendingPathComponent("u.npy"))
        let noB = try runTool(
            "idl",
            [
                "predict", "--model", dir.appendingPathComponent("partial.safetensors").path,
                "--input", dir.appendingPathComponent("u.npy").path, "--output",
                dir.appendingPathComponent("y.npy").path,
            ])
        #expect(noB.status != 0 && noB.err.contains("no tensor 'B'"))
        // An input with the wrong feature count.
        let folder = fixturesDirectory.appendingPathComponent("interop/implicit_small")
        let wrong = try runTool(
            "idl",
            [
                "predict", "--model", folder.appendingPathComponent("model.safetensors").path,
                "--input", dir.appendingPathComponent("u.npy").path, "--output",
                dir.appendingPathComponent("y.npy").path,
            ])
        #expect(wrong.status != 0 && wrong.err.contains("expects 16"))
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("y.npy").path))
    }

    @Test func simFitsSavedStatesAndThePredictToolRunsTheResult() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var g = SeededGenerator(seed: 50)
        let teacher = Sequential<Double>.mlp([784, 6, 10], bias: false, using: &g)
        let images = try FashionMNIST.load(.train, scaling: .unit, as: Double.self).prefix(200)
        let states = try StateExtraction.states(of: teacher, inputs: images.inputs)
        let statesURL = dir.appendingPathComponent("states.safetensors")
        try states.save(to: statesURL)
        let modelURL = dir.appendingPathComponent("sim.safetensors")
        let r = try runTool(
            "idl",
            [
                "sim", "--states-in", statesURL.path, "--solver", "exact", "--lambda-state", "0.1",
                "--lambda-output", "0.1", "--output", modelURL.path, "--json", "--quiet",
            ])
        #expect(r.status == 0, "\(r.err)")
        let json = try lastJSON(r.out)
        for key in ["test_accuracy", "nonzeros", "norm_A_inf", "fit_seconds", "eval_seconds"] {
            #expect(json[key] != nil, "\(key)")
        }
        #expect((json["norm_A_inf"] as? Double ?? 9) <= 0.99 + 1e-9)
        // The saved SIM model is an implicit model the predict command runs.
        try writeNpy(images.inputs.columns(0..<3).converted(to: Float.self), to: dir.appendingPathComponent("u.npy"))
        let p = try runTool(
            "idl",
            [
                "predict", "--model", modelURL.path, "--input", dir.appendingPathComponent("u.npy").path,
                "--output", dir.appendingPathComponent("y.npy").path,
            ])
        #expect(p.status == 0, "\(p.err)")
        #expect(try readNpy(dir.appendingPathComponent("y.npy"), as: Float.self).rows == 10)
        let bad = try runTool("idl", ["sim", "--solver", "magic"])
        #expect(bad.status != 0 && bad.err.contains("'magic' is invalid for '--solver"))
    }

    @Test func tutorialAndReproduceListAndRejectUnknownNames() throws {
        let list = try runTool("idl", ["tutorial", "--list"])
        #expect(list.status == 0)
        #expect(list.out.split(separator: "\n").contains("feedforward"))
        let unknown = try runTool("idl", ["tutorial", "nonexistent"])
        #expect(unknown.status != 0 && unknown.err.contains("unknown tutorial"))
        let badExperiment = try runTool("idl", ["reproduce", "nothing"])
        #expect(badExperiment.status != 0 && badExperiment.err.contains("unknown experiment"))
    }

    @Test func predictRunsATorchidlImplicitRNNStateDict() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let f = try loadFixture("rnn/implicit_rnn_small.json")
        let params = f["params"] as! [String: Any]
        var file = SafeTensors()
        for (name, value) in params {
            if let vector = value as? [Double] {
                file.tensors[name] = SafeTensors.Tensor(vector: vector.map { Float($0) })
            } else {
                file.setMatrix(name, try fixtureMatrix(value, as: Float.self))
            }
        }
        let modelURL = dir.appendingPathComponent("rnn.safetensors")
        try file.write(to: modelURL)
        // The input (batch, time, features), as numpy would write it (C order).
        let input = f["input"] as! [[[Double]]]
        let flat = input.flatMap { $0.flatMap { $0.map { Float($0) } } }
        try NpyArray(shape: [input.count, input[0].count, input[0][0].count], values: flat)
            .write(to: dir.appendingPathComponent("x.npy"))
        let r = try runTool(
            "idl",
            [
                "predict", "--model", modelURL.path, "--input", dir.appendingPathComponent("x.npy").path,
                "--output", dir.appendingPathComponent("y.npy").path,
            ])
        #expect(r.status == 0, "\(r.err)")
        let got = try readNpy(dir.appendingPathComponent("y.npy"), as: Float.self)
        let want = try fixtureMatrix(f["output"], as: Float.self).transposed
        #expect(got.rows == want.rows && got.cols == want.cols)
        #expect((got - want).maxAbs < 1e-4, "\((got - want).maxAbs)")
    }

    /// The experiments take ~35 s in quick mode in a release build (the CI runs the suite with
    /// `swift test -c release`); a debug build would take minutes, so there the test is skipped.
    static var isReleaseBuild: Bool {
        #if DEBUG
            return false
        #else
            return true
        #endif
    }

    @Test(.enabled(if: CLITests.isReleaseBuild, "runs the experiments; release builds only"))
    func reproduceQuickWritesEveryTableAndFigure() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try runTool("idl", ["reproduce", "--quick", "--output", dir.path])
        #expect(r.status == 0, "\(r.err)")
        let base = dir.appendingPathComponent("quick")
        // Each table has its header, separator and rows (every model, every ε, every solver).
        for (table, minimumRows) in [
            ("implicit-models/models", 6), ("implicit-models/robustness", 10), ("sim/solvers", 6),
            ("sim/sweep", 13), ("sim/robustness", 15), ("sim/robust", 15), ("sim/robust-models", 3),
            ("sim/baselines", 14), ("sim/state-scales", 3),
            ("rnn/argmax-extrapolation", 6),
            ("rnn/spiky", 3), ("solvers/picard-vs-anderson", 3), ("performance", 4),
        ] {
            let md = try String(contentsOf: base.appendingPathComponent(table + ".md"), encoding: .utf8)
            let lines = md.split(separator: "\n").filter { $0.hasPrefix("| ") }  // header, separator, rows
            #expect(lines.count >= minimumRows + 2, "\(table): \(lines.count) table lines")
            let csv = try String(contentsOf: base.appendingPathComponent(table + ".csv"), encoding: .utf8)
            #expect(csv.split(separator: "\n").count == lines.count - 1, "\(table): CSV and Markdown rows differ")
        }
        for figure in [
            "implicit-models/accuracy-vs-parameters", "implicit-models/robustness", "sim/frontier", "sim/robustness",
            "sim/robustness-vs-sparsity", "sim/baselines", "sim/spy-A-35", "sim/pixels-B-35", "sim/spy-A-150",
            "sim/pixels-B-150", "sim/robust-pgd", "sim/robust-frontier",
            "rnn/argmax-extrapolation",
        ] {
            // Each figure as PNG and as PDF (the default formats).
            let png = try Data(contentsOf: base.appendingPathComponent(figure + ".png"))
            #expect(
                png.count > 1000 && Array(png.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A],
                "\(figure).png")
            let pdf = try Data(contentsOf: base.appendingPathComponent(figure + ".pdf"))
            #expect(pdf.count > 1000 && pdf.prefix(5) == Data("%PDF-".utf8), "\(figure).pdf")
        }
    }
}
