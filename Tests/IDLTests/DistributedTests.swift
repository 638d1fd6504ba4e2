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
    let p = Process()
    if let ranks {
        let mpirun = ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let mpirun else {
            throw IDLError.io("mpirun is missing: install openmpi-bin and libopenmpi-dev (scripts/bootstrap.sh)")
        }
        p.executableURL = URL(fileURLWithPath: mpirun)
        // Several ranks: one app context each, separated by ":" (OpenMPI's MPMD syntax).
        var args = ["--allow-run-as-root", "--oversubscribe"]
        for (k, context) in ranks.enumerated() {
            if k > 0 { args.append(":") }
            args += ["-np", String(context.count), idl.path] + context.arguments
        }
        p.arguments = args
    } else {
        p.executableURL = idl
        p.arguments = arguments
    }
    p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
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
}
