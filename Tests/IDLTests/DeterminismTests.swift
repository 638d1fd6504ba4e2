import Foundation
import IDL
import Testing

/// Runs a program built beside the test binary with extra environment variables (thread counts).
private func runWithThreads(
    _ name: String, _ arguments: [String], blas: Int, workers: Int
) throws -> (status: Int32, out: String, err: String) {
    let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(name)
    guard FileManager.default.isExecutableFile(atPath: binary.path) else {
        throw IDLError.io("\(binary.path) is missing: build the package (swift build / swift test build every product)")
    }
    let p = Process()
    p.executableURL = binary
    p.arguments = arguments
    p.currentDirectoryURL = repositoryRoot
    var environment = ProcessInfo.processInfo.environment
    environment["OPENBLAS_NUM_THREADS"] = String(blas)
    environment["IDL_THREADS"] = String(workers)
    p.environment = environment
    let out = Pipe()
    let err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    // Read stderr on another thread so that neither pipe can fill and block the program.
    let errData = LockedData()
    let reader = Thread { errData.set(err.fileHandleForReading.readDataToEndOfFile()) }
    reader.start()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    while !errData.isSet { usleep(1000) }
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: errData.value, as: UTF8.self))
}

private final class LockedData: @unchecked Sendable {
    private let lock = NSLock()
    private var data: Data?
    func set(_ d: Data) {
        lock.lock()
        data = d
        lock.unlock()
    }
    var isSet: Bool {
        lock.lock()
        defer { lock.unlock() }
        return data != nil
    }
    var value: Data {
        lock.lock()
        defer { lock.unlock() }
        return data ?? Data()
    }
}

/// Every regular file under `folder`, by relative path.
private func files(under folder: URL) -> [String: Data] {
    var result = [String: Data]()
    let base = folder.resolvingSymlinksInPath().path
    for case let url as URL in FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil) ?? .init() {
        let path = url.resolvingSymlinksInPath().path
        if let data = FileManager.default.contents(atPath: path), !url.hasDirectoryPath {
            result[String(path.dropFirst(base.count + 1))] = data
        }
    }
    return result
}

/// Results must not depend on the number of threads: OpenBLAS's (OPENBLAS_NUM_THREADS) or the
/// library's own workers (IDL_THREADS). The programs are run as built (release in CI).
@Suite(.serialized) struct DeterminismTests {
    @Test func threadPolicyKeepsOpenBLASOnOneThread() {
        #expect(blasThreads == 1)
        #expect(ThreadPolicy.description.contains("OpenBLAS 1 thread"))
        let manifest = RunManifest.current(command: "test")
        #expect(manifest.blasThreads == 1 && manifest.command == "test" && manifest.date.hasSuffix("Z"))
        #expect(manifest.sameArithmetic(as: manifest))
        var other = manifest
        other.cpuVendor = manifest.cpuVendor == "AuthenticAMD" ? "GenuineIntel" : "AuthenticAMD"
        #expect(!manifest.sameArithmetic(as: other))
        // The sparse kernels' instruction set counts too; a manifest without it (older) is judged
        // by the rest.
        #expect(manifest.sparseKernels == sparseKernelInstructionSet)
        var otherKernels = manifest
        otherKernels.sparseKernels = manifest.sparseKernels == "AVX-512" ? "AVX2+FMA" : "AVX-512"
        #expect(!manifest.sameArithmetic(as: otherKernels))
        otherKernels.sparseKernels = nil
        #expect(manifest.sameArithmetic(as: otherKernels) && otherKernels.sameArithmetic(as: manifest))
    }

    /// A product large enough to be split into tiles gives the same bits with 1, 2 or 3 workers.
    @Test func tiledProductsDoNotDependOnTheWorkerCount() throws {
        var g = SeededGenerator(seed: 7)
        let a = Matrix<Double>.randomNormal(300, 400, using: &g)
        let b = Matrix<Double>.randomNormal(400, 700, using: &g)
        #expect(300 * 400 * 700 >= ThreadPolicy.parallelMultiplyAdds)
        let saved = ThreadPolicy.workers
        defer { ThreadPolicy.workers = saved }
        ThreadPolicy.workers = 1
        let one = matmul(a, b)
        ThreadPolicy.workers = 3
        let three = matmul(a, b)
        #expect(one.storage == three.storage)
        // And it is the product (against a plain triple loop on a few entries).
        for (i, j) in [(0, 0), (299, 699), (150, 64), (17, 640)] {
            var s = 0.0
            for k in 0..<400 { s += a[i, k] * b[k, j] }
            #expect(abs(one[i, j] - s) <= 1e-9 * Swift.max(1, abs(s)))
        }
    }

    /// SIM inference, dense and sparse, over several blocks of samples, and the exact solver over
    /// several blocks of rows, give the same bits with 1 or 3 workers.
    @Test func simFitAndInferenceDoNotDependOnTheWorkerCount() throws {
        var g = SeededGenerator(seed: 31)
        let u = Matrix<Double>.randomUniform(30, 90, 0, 1, using: &g)
        let w1 = Matrix<Double>.randomNormal(12, 30, scale: 0.3, using: &g)
        let z = matmul(w1, u)
        let x = z.map { Swift.max($0, 0) }
        let y = matmul(Matrix<Double>.randomNormal(3, 12, using: &g), x)
        let states = try SIMStates(inputs: u, states: x, preActivations: z, outputs: y)
        let solver = SIMExactSolver(lambdaState: 1e-2, lambdaOutput: 1e-2, lambda2: 1e-3, rowsPerBlock: 2)
        let fresh = Matrix<Double>.randomUniform(30, 700, 0, 1, using: &g)
        let saved = ThreadPolicy.workers
        defer { ThreadPolicy.workers = saved }
        var runs: [(fit: SIMFit<Double>, dense: Matrix<Double>, sparse: Matrix<Double>)] = []
        for workers in [1, 3] {
            ThreadPolicy.workers = workers
            let fit = try solver.fit(states)
            let model = try SIMModel(fit)
            runs.append((fit, try model.implicitModel.predict(fresh), try model.predictSparse(fresh).outputs))
        }
        #expect(runs[0].fit.A.storage == runs[1].fit.A.storage && runs[0].fit.B.storage == runs[1].fit.B.storage)
        #expect(runs[0].fit.C.storage == runs[1].fit.C.storage && runs[0].fit.D.storage == runs[1].fit.D.storage)
        #expect(runs[0].dense.storage == runs[1].dense.storage)
        #expect(runs[0].sparse.storage == runs[1].sparse.storage)
        // The two paths agree to rounding, and the fit met its certificate.
        #expect((runs[0].dense - runs[0].sparse).maxAbs <= 1e-9 * Swift.max(1, runs[0].dense.maxAbs))
        #expect(runs[0].fit.report.unconvergedRows == 0)
    }

    @Test(.enabled(if: CLITests.isReleaseBuild, "runs idl sim; release builds only"))
    func simModelIsByteIdenticalForOneAndTwoThreads() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // States of the SIM benchmark's network (112 states, 784 inputs) on 300 images: eight
        // blocks of rows and Gram products large enough to be split into tiles.
        var g = SeededGenerator(seed: 19)
        let teacher = Sequential<Double>.mlp([784, 64, 32, 16, 10], bias: false, using: &g)
        let images = try FashionMNIST.load(.train, scaling: .unit, as: Double.self).prefix(300)
        let states = try StateExtraction.states(of: teacher, inputs: images.inputs)
        let statesURL = dir.appendingPathComponent("states.safetensors")
        try states.save(to: statesURL)
        var models = [Data]()
        var figures = [[String: String]]()
        for threads in [1, 2] {
            let model = dir.appendingPathComponent("sim-\(threads).safetensors")
            let r = try runWithThreads(
                "idl",
                [
                    "sim", "--states-in", statesURL.path, "--lambda-state", "1", "--lambda-output", "0.1",
                    "--output", model.path, "--json", "--quiet",
                ], blas: threads, workers: threads)
            #expect(r.status == 0, "\(r.err)")
            models.append(try Data(contentsOf: model))
            var json = try lastJSON(r.out)
            for timing in ["fit_seconds", "eval_seconds", "model"] { json[timing] = nil }
            figures.append(json.mapValues { "\($0)" })
        }
        #expect(models[0] == models[1], "the SIM models differ between 1 and 2 threads")
        #expect(figures[0] == figures[1], "\(figures)")
        #expect(figures[0]["nonzeros"] != nil)
    }

    @Test(.enabled(if: CLITests.isReleaseBuild, "runs sim-sweep twice; release builds only"))
    func simSweepTablesFiguresAndModelsAreByteIdenticalForOneAndTwoThreads() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var outputs = [[String: Data]]()
        for threads in [1, 2] {
            let folder = dir.appendingPathComponent("t\(threads)")
            let r = try runWithThreads(
                "sim-sweep",
                ["--quick", "--output", folder.path, "--models", folder.appendingPathComponent("models").path],
                blas: threads, workers: threads)
            #expect(r.status == 0, "\(r.err)")
            var all = files(under: folder)
            // The Markdown tables hold timings (fit (s)) and the date; the CSV has the same cells.
            all = all.filter { !$0.key.hasSuffix(".md") }
            outputs.append(all)
        }
        #expect(outputs[0].keys.contains("quick/sim/sweep.csv"))
        #expect(outputs[0].keys.contains { $0.hasPrefix("models/") && $0.hasSuffix(".safetensors") })
        #expect(outputs[0].keys.contains("quick/sim/spy-A-35.png"))
        #expect(Set(outputs[0].keys) == Set(outputs[1].keys))
        for (name, data) in outputs[0] where name != "quick/sim/sweep.csv" {
            #expect(outputs[1][name] == data, "\(name) differs between 1 and 2 threads")
        }
        // The sweep table: every cell but the fit timings.
        func cells(_ data: Data?) -> [[Substring]] {
            String(decoding: data ?? Data(), as: UTF8.self).split(separator: "\n").map {
                Array($0.split(separator: ",", omittingEmptySubsequences: false).dropLast())
            }
        }
        let (one, two) = (cells(outputs[0]["quick/sim/sweep.csv"]), cells(outputs[1]["quick/sim/sweep.csv"]))
        #expect(one.count >= 10 && one == two)
    }

    /// `idl reproduce --verify --quick sim-sweep` against a copy of the committed quick results
    /// (results/quick/, made with the default thread counts) in which one accuracy has moved by a
    /// point, one nonzero count by 1 %, and the manifest names another CPU: the regeneration, with
    /// one worker, must match every other cell exactly, accept the nonzero count (± 2 % across
    /// machines), reject the accuracy (± 0.5 points) and say that the manifests differ.
    @Test(.enabled(if: CLITests.isReleaseBuild, "runs sim-sweep; release builds only"))
    func reproduceVerifyMatchesTheCommittedQuickResultsAndCatchesAChange() throws {
        let committed = repositoryRoot.appendingPathComponent("results/quick")
        try #require(
            FileManager.default.fileExists(atPath: committed.appendingPathComponent("MANIFEST.json").path),
            "results/quick/MANIFEST.json is missing: regenerate with `idl reproduce --quick` and commit results/quick")
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let copy = dir.appendingPathComponent("results")
        try FileManager.default.createDirectory(at: copy, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: committed, to: copy.appendingPathComponent("quick"))
        let sweepURL = copy.appendingPathComponent("quick/sim/sweep.csv")
        var rows = try String(contentsOf: sweepURL, encoding: .utf8).split(separator: "\n").map(String.init)
        let header = rows[0].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        let accuracyColumn = try #require(header.firstIndex(of: "test accuracy (%)"))
        let nonzerosColumn = try #require(header.firstIndex(of: "nonzeros"))
        var teacher = rows[1].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        let accuracy = try #require(Double(teacher[accuracyColumn]))
        teacher[accuracyColumn] = String(format: "%.2f", accuracy - 1)
        let nonzeros = try #require(Int(teacher[nonzerosColumn]))
        teacher[nonzerosColumn] = String(nonzeros + nonzeros / 100)
        rows[1] = teacher.joined(separator: ",")
        try (rows.joined(separator: "\n") + "\n").write(to: sweepURL, atomically: true, encoding: .utf8)
        let manifestURL = copy.appendingPathComponent("quick/MANIFEST.json")
        let text = try String(contentsOf: manifestURL, encoding: .utf8)
        #expect(text.contains("\"sim-sweep\""))
        try text.replacingOccurrences(of: "\"cpu_model\" : \"", with: "\"cpu_model\" : \"Another ")
            .write(to: manifestURL, atomically: true, encoding: .utf8)

        // Whether this machine computes like the one that committed results/quick (same CPU, BLAS
        // build and kernels): then every cell but the two doctored ones must come back exactly.
        // Elsewhere rounding may move other cells too, and only the doctored ones are checked.
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        struct Manifests: Decodable { var experiments: [String: RunManifest] }
        let committedRun = try #require(
            try decoder.decode(
                Manifests.self, from: Data(contentsOf: committed.appendingPathComponent("MANIFEST.json"))
            )
            .experiments["sim-sweep"])
        let sameMachine = committedRun.sameArithmetic(as: RunManifest.current())

        let r = try runWithThreads(
            "idl", ["reproduce", "--verify", "--quick", "sim-sweep", "--output", copy.path], blas: 2, workers: 1)
        #expect(r.status != 0)
        let lines = r.out.split(separator: "\n").filter { $0.hasPrefix("| sim/") || $0.hasPrefix("| quick/") }
        if sameMachine {
            #expect(lines.count == 2, "exactly the two doctored cells differ:\n\(r.out)")
        }
        #expect(
            lines.contains {
                $0.hasPrefix("| sim/sweep.csv | row 1 (teacher 784-64-32-16-10), test accuracy (%) |")
                    && $0.hasSuffix("| ± 0.5 | FAIL |")
            }, "\(r.out)")
        #expect(r.out.contains("cross-machine tolerances apply"), "\(r.out)")
        #expect(r.err.contains("manifests differ"), "\(r.err)")
        if sameMachine {
            #expect(
                lines.contains {
                    $0.hasPrefix("| sim/sweep.csv | row 1 (teacher 784-64-32-16-10), nonzeros |")
                        && $0.hasSuffix("| ± 2 % | within tolerance |")
                }, "\(r.out)")
            #expect(r.err.contains("1 cell(s) outside their tolerance"), "\(r.err)")
        }
    }
}
