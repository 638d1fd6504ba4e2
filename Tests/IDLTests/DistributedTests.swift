import Foundation
import IDL
import Testing

/// Runs `mpirun` (OpenMPI, from Debian's openmpi-bin) with the given program arguments, or the
/// `idl` beside the test binary directly when `ranks` is nil; returns (status, stdout, stderr).
/// `--allow-run-as-root` because CI runs as root, `--oversubscribe` for more ranks than cores.
func runDistributed(
    ranks: [(count: Int, arguments: [String])]?, idl arguments: [String] = [], environment: [String: String] = [:]
) throws -> (status: Int32, out: String, err: String) {
    let idl = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("idl")
    guard let ranks else { return try runProcess(idl, arguments, environment: environment) }
    let mpirun = ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first { FileManager.default.isExecutableFile(atPath: $0) }
    guard let mpirun else {
        throw IDLError.io("mpirun is missing: install openmpi-bin and libopenmpi-dev (scripts/bootstrap.sh)")
    }
    // Several ranks: one app context each, separated by ":" (OpenMPI's MPMD syntax).
    var args = ["--allow-run-as-root", "--oversubscribe"]
    for (k, context) in ranks.enumerated() {
        if k > 0 { args.append(":") }
        args += ["-np", String(context.count), idl.path] + context.arguments
    }
    return try runProcess(URL(fileURLWithPath: mpirun), args, environment: environment)
}

/// Distributed runs under `mpirun` (OpenMPI, loaded by `idl` at run time).
@Suite(.serialized) struct DistributedTests {
    /// States of a random teacher 784-24-12-10 on 200 FashionMNIST training images: n = 36 state
    /// rows (8 blocks of 5) and 10 output rows (3 blocks of 4), so 2 or 3 ranks split both stages.
    func writeStates(_ dir: URL) throws -> URL {
        var g = SeededGenerator(seed: 23)
        let teacher = Sequential<Double>.mlp([784, 24, 12, 10], bias: false, using: &g)
        _ = try rescaleForWellPosedness(teacher, kappa: 0.99)
        let images = try FashionMNIST.load(.train, scaling: .unit, as: Double.self).prefix(200)
        let url = dir.appendingPathComponent("states.safetensors")
        try StateExtraction.states(of: teacher, inputs: images.inputs).save(to: url)
        return url
    }

    func simArguments(_ states: URL, _ output: URL, distributed: Bool) -> [String] {
        ["sim", "--states-in", states.path, "--lambda-state", "0.1", "--lambda-output", "0.1", "--quiet", "--json"]
            + ["--output", output.path] + (distributed ? ["--distributed"] : [])
    }

    @Test func rowParallelExactSIMIsBitIdenticalToOneProcess() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let states = try writeStates(dir)
        let one = dir.appendingPathComponent("one.safetensors")
        let single = try runDistributed(ranks: nil, idl: simArguments(states, one, distributed: false))
        #expect(single.status == 0, "\(single.err)")
        let reference = try Data(contentsOf: one)
        let model = try ImplicitModel<Float>.load(from: one)
        let a = try #require(model.A).value
        #expect(a.zeroCount < a.count && model.B.value.zeroCount < model.B.value.count, "a trivial fit proves nothing")
        for k in [2, 3] {
            let out = dir.appendingPathComponent("np\(k).safetensors")
            let r = try runDistributed(ranks: [(k, simArguments(states, out, distributed: true))])
            #expect(r.status == 0, "\(r.err)")
            #expect(try lastJSON(r.out)["ranks"] as? Int == k)
            #expect(try Data(contentsOf: out) == reference, "mpirun -np \(k) wrote other bytes than one process")
        }
    }

    @Test func aFailingRankEndsTheJobWithItsMessageAndNoOutput() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let states = try writeStates(dir)
        let out = dir.appendingPathComponent("model.safetensors")
        let missing = dir.appendingPathComponent("missing.safetensors")
        // Rank 0 has good states; rank 1 is given a file that does not exist.
        let r = try runDistributed(ranks: [
            (1, simArguments(states, out, distributed: true)), (1, simArguments(missing, out, distributed: true)),
        ])
        #expect(r.status != 0)
        let lines = (r.out + r.err).split(separator: "\n").filter { $0.contains("Error: rank 1:") }
        #expect(lines.count == 1, "\(r.out)\n\(r.err)")
        #expect(lines.first?.contains("missing.safetensors") == true)
        #expect(!FileManager.default.fileExists(atPath: out.path))
    }

    @Test func withoutOpenMPITheRequestNamesTheDebianPackages() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let states = try writeStates(dir)
        let out = dir.appendingPathComponent("model.safetensors")
        let r = try runDistributed(
            ranks: nil, idl: simArguments(states, out, distributed: true),
            environment: ["IDL_MPI_LIBRARY": dir.appendingPathComponent("no-libmpi.so").path])
        #expect(r.status != 0)
        let lines = r.err.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].contains("openmpi-bin") && lines[0].contains("libopenmpi-dev"), "\(r.err)")
        #expect(!FileManager.default.fileExists(atPath: out.path))
    }

    /// A tiny MNIST-format set: 120 training and 40 test images of 4×4 pixels, two classes.
    func writeTinyImages(_ dir: URL) throws {
        var g = SeededGenerator(seed: 7)
        for (split, count) in [("train", 120), ("t10k", 40)] {
            var pixels = [UInt8]()
            for k in 0..<count {
                for _ in 0..<16 {
                    pixels.append(UInt8(k % 2 == 0 ? g.integer(below: 100) : 155 + g.integer(below: 100)))
                }
            }
            try IDXArray.encode(pixels, shape: [count, 4, 4]).write(
                to: dir.appendingPathComponent("\(split)-images-idx3-ubyte"))
            try IDXArray.encode((0..<count).map { UInt8($0 % 2) }, shape: [count]).write(
                to: dir.appendingPathComponent("\(split)-labels-idx1-ubyte"))
        }
    }

    /// The loss column of a train.log.
    func losses(_ log: URL) throws -> [Double] {
        try String(contentsOf: log, encoding: .utf8).split(separator: "\n")
            .filter { !$0.hasPrefix("#") && !$0.hasPrefix("epoch") }
            .map { Double($0.split(separator: ",")[1])! }
    }

    /// 20 optimizer steps (20 epochs of one batch of 120): two ranks of 60 samples each give the
    /// one-process losses to 1e-5 relative. The fixed-point tolerance is tight (1e-7) because a
    /// shard's Picard iteration stops on its own columns' change: at the default 3e-6 the two
    /// runs drift apart by the solves' tolerance, not by rounding.
    @Test func twoRankTrainingFollowsTheOneProcessLosses() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try writeTinyImages(dir)
        let common = [
            "train", "--dataset", "mnist-format", "--data-dir", dir.path, "--epochs", "20", "--batch-size", "120",
            "--hidden-dim", "8", "--tol", "1e-7", "--grad-tol", "1e-7", "--quiet",
        ]
        let one = try runDistributed(
            ranks: nil,
            idl: common + [
                "--output", dir.appendingPathComponent("one.safetensors").path, "--log-dir",
                dir.appendingPathComponent("one").path,
            ])
        #expect(one.status == 0, "\(one.err)")
        let two = try runDistributed(ranks: [
            (
                2,
                common + [
                    "--distributed", "--output", dir.appendingPathComponent("two.safetensors").path, "--log-dir",
                    dir.appendingPathComponent("two").path,
                ]
            )
        ])
        #expect(two.status == 0, "\(two.err)")
        let a = try losses(dir.appendingPathComponent("one/train.log"))
        let b = try losses(dir.appendingPathComponent("two/train.log"))
        #expect(a.count == 20 && b.count == 20)
        #expect(a.last! < 0.9 * a.first!, "the losses must move for the comparison to mean something")
        for (x, y) in zip(a, b) { #expect(abs(x - y) <= 1e-5 * abs(x), "\(x) vs \(y)") }
        // Rank 0 alone writes: one run header in the log, the model once.
        let header = try String(contentsOf: dir.appendingPathComponent("two/train.log"), encoding: .utf8)
        #expect(header.split(separator: "\n").filter { $0.hasPrefix("# run") }.count == 1)
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("two.safetensors").path))
    }

    /// Sample-sharded SIM on two ranks (100 samples each) against the exact solver on one rank,
    /// both without regeneration so that both stages solve the same problems: the objective of
    /// each stage within 1e-3 relative (and not below the exact solver's certified one), and
    /// the same objective recomputed here from the saved model on the whole states.
    @Test func sampleShardedADMMOnTwoRanksComesWithin1e3OfTheExactObjective() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let states = try writeStates(dir)
        let exactOut = dir.appendingPathComponent("exact.safetensors")
        let admmOut = dir.appendingPathComponent("admm.safetensors")
        let exact = try runDistributed(ranks: [
            (1, simArguments(states, exactOut, distributed: true) + ["--no-regen-states", "--tolerance", "1e-7"])
        ])
        #expect(exact.status == 0, "\(exact.err)")
        let admm = try runDistributed(ranks: [
            (2, simArguments(states, admmOut, distributed: true) + ["--no-regen-states", "--shard-samples"])
        ])
        #expect(admm.status == 0, "\(admm.err)")
        let e = try lastJSON(exact.out)
        let a = try lastJSON(admm.out)
        #expect(a["ranks"] as? Int == 2)
        for key in ["objective_stage1", "objective_stage2"] {
            let x = try #require(a[key] as? Double)
            let y = try #require(e[key] as? Double)
            // Below the exact objective only by the exact solver's own tolerance: its rows are
            // certified to 1e-7·max(1, objective) each, 46 rows in all.
            #expect(x >= y - 46e-7 * max(1, y) && x - y <= 1e-3 * y, "\(key): ADMM \(x), exact \(y)")
        }
        let accuracy = (try #require(a["test_accuracy"] as? Double), try #require(e["test_accuracy"] as? Double))
        #expect(abs(accuracy.0 - accuracy.1) <= 0.005, "test accuracy: ADMM \(accuracy.0), exact \(accuracy.1)")
        // The saved (Float) weights' objective on the whole states, computed here.
        let whole = try SIMStates<Double>(contentsOf: states)
        let model = try ImplicitModel<Float>.load(from: admmOut)
        let weights = Matrix.hcat([try #require(model.A).value, model.B.value]).converted(to: Double.self)
        let certificates = try simRowCertificates(
            weights: weights, features: Matrix.vcat([whole.states, whole.inputs]), targets: whole.preActivations,
            stateCount: whole.stateCount, lambda: 0.1, lambda2: 2, constraint: .infinityNorm(kappa: 0.99))
        let recomputed = certificates.map(\.objective).reduce(0, +)
        let reported = try #require(a["objective_stage1"] as? Double)
        #expect(abs(recomputed - reported) <= 1e-5 * reported, "recomputed \(recomputed), reported \(reported)")
    }

    @Test func aRankFailingInTheSecondStageOfASampleShardedFitEndsTheJobOnce() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let states = try writeStates(dir)
        let out = dir.appendingPathComponent("model.safetensors")
        let r = try runDistributed(
            ranks: [
                (2, simArguments(states, out, distributed: true) + ["--shard-samples", "--admm-iterations", "50"])
            ],
            environment: ["IDL_INJECT_FAULT": "1:2"])
        #expect(r.status != 0)
        let lines = (r.out + r.err).split(separator: "\n").filter { $0.contains("Error:") }
        #expect(
            lines.count == 1 && lines[0].contains("Error: rank 1: ") && lines[0].contains("injected fault in stage 2"),
            "\(r.out)\n\(r.err)")
        #expect(!FileManager.default.fileExists(atPath: out.path))
    }

    @Test func shardSamplesRefusesWhatItDoesNotSupport() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let states = dir.appendingPathComponent("states.safetensors")
        let out = dir.appendingPathComponent("model.safetensors")
        for (extra, expected) in [
            (["--shard-samples"], "add --distributed"),
            (
                ["--distributed", "--shard-samples", "--tolerance", "1e-4"],
                "--tolerance does not apply to --shard-samples"
            ),
            (["--admm-tolerance", "1e-4"], "--admm-tolerance is the stopping rule of --shard-samples"),
            (["--distributed", "--shard-samples", "--solver", "admm"], "drop --solver admm"),
        ] {
            let r = try runDistributed(ranks: nil, idl: simArguments(states, out, distributed: false) + extra)
            #expect(r.status != 0)
            #expect(r.err.contains(expected), "\(extra): \(r.err)")
            #expect(!FileManager.default.fileExists(atPath: out.path))
        }
    }
}
