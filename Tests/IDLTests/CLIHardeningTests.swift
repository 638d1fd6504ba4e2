import Foundation
import IDL
import Testing

/// The `idl` binary built beside the test binary.
let idlBinary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
    "idl")

/// Runs a `/bin/sh` script (for arguments that are not UTF-8, or `idl` found through PATH);
/// `$IDL` is the built binary. Returns (exit status, stdout, stderr).
func runShell(_ script: String, in directory: URL? = nil) throws -> (status: Int32, out: String, err: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/sh")
    p.arguments = ["-c", script]
    var environment = ProcessInfo.processInfo.environment
    environment["IDL"] = idlBinary.path
    p.environment = environment
    if let directory { p.currentDirectoryURL = directory }
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

/// The names in a directory as raw bytes (FileManager would repair names that are not UTF-8).
func rawNames(_ directory: URL) -> [[UInt8]] {
    guard let dir = opendir(directory.path) else { return [] }
    defer { closedir(dir) }
    var names: [[UInt8]] = []
    while let entry = readdir(dir) {
        let raw = (UnsafeRawPointer(entry) + MemoryLayout<dirent>.offset(of: \dirent.d_name)!)
            .assumingMemoryBound(to: CChar.self)
        let name = Array(UnsafeRawBufferPointer(start: raw, count: strlen(raw)))
        if name != [46] && name != [46, 46] { names.append(name) }
    }
    return names
}

/// The file type bits of `lstat`.
func fileType(_ url: URL) -> mode_t {
    var st = stat()
    return lstat(url.path, &st) == 0 ? st.st_mode & S_IFMT : 0
}

/// A value shared with another thread.
final class Locked<Value>: @unchecked Sendable {
    private var stored: Value
    private let lock = NSLock()
    init(_ value: Value) { stored = value }
    var value: Value { lock.withLock { stored } }
    func update(_ body: (inout Value) -> Void) { lock.withLock { body(&stored) } }
}

/// The tool under a careless or hostile user (issue 17): each test fails on the tool before the
/// fix and names the class of defect it covers.
@Suite struct CLIHardeningTests {
    let fixture = fixturesDirectory.appendingPathComponent("interop/implicit_small")

    /// A writable copy of the interop model (p = 16) and its input in `dir`.
    func copyFixture(to dir: URL) throws -> (model: URL, input: URL) {
        let model = dir.appendingPathComponent("model.safetensors")
        let input = dir.appendingPathComponent("u.npy")
        try Data(contentsOf: fixture.appendingPathComponent("model.safetensors")).write(to: model)
        try Data(contentsOf: fixture.appendingPathComponent("input.npy")).write(to: input)
        return (model, input)
    }

    // MARK: Security

    @Test func helperProgramsAreFoundNextToTheExecutableNotInTheCurrentDirectory() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let bin = dir.appendingPathComponent("bin")
        let work = dir.appendingPathComponent("work")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(at: bin.appendingPathComponent("idl"), withDestinationURL: idlBinary)
        // A planted "tutorial" in the current directory that leaves a mark when run.
        let planted = work.appendingPathComponent("tutorial-planted")
        try Data("#!/bin/sh\ntouch \"$(dirname \"$0\")/RAN\"\n".utf8).write(to: planted)
        chmod(planted.path, 0o755)
        let list = try runShell("PATH=\"\(bin.path):$PATH\" exec idl tutorial --list", in: work)
        #expect(list.status == 0, "\(list.err)")
        #expect(list.out.split(separator: "\n").contains("feedforward"), "\(list.out)")
        #expect(!list.out.contains("planted"), "\(list.out)")
        let run = try runShell("PATH=\"\(bin.path):$PATH\" exec idl tutorial planted", in: work)
        #expect(run.status != 0 && run.err.contains("unknown tutorial"), "\(run.err)")
        #expect(!FileManager.default.fileExists(atPath: work.appendingPathComponent("RAN").path))
    }

    // MARK: Never destroy what is at the output path

    @Test func outputPolicyKeepsModesFollowsLinksWritesThroughPipesAndRefusesTheRest() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let bytes = Data("new contents".utf8)
        // A regular file keeps its permission bits.
        let private600 = dir.appendingPathComponent("private.npy")
        try Data("old".utf8).write(to: private600)
        chmod(private600.path, 0o600)
        try AtomicFile.write(bytes, to: private600)
        var st = stat()
        stat(private600.path, &st)
        #expect(st.st_mode & 0o777 == 0o600)
        #expect(try Data(contentsOf: private600) == bytes)
        // A symbolic link stays a link; its target gets the bytes (also through a dangling link).
        let target = dir.appendingPathComponent("target.npy")
        try Data("old".utf8).write(to: target)
        let link = dir.appendingPathComponent("link.npy")
        try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: "target.npy")
        try AtomicFile.write(bytes, to: link)
        #expect(fileType(link) == S_IFLNK)
        #expect(try Data(contentsOf: target) == bytes)
        let dangling = dir.appendingPathComponent("dangling.npy")
        try FileManager.default.createSymbolicLink(atPath: dangling.path, withDestinationPath: "created.npy")
        try AtomicFile.write(bytes, to: dangling)
        #expect(fileType(dangling) == S_IFLNK)
        #expect(try Data(contentsOf: dir.appendingPathComponent("created.npy")) == bytes)
        // A write-protected file is refused and left alone.
        let readOnly = dir.appendingPathComponent("readonly.npy")
        try Data("keep".utf8).write(to: readOnly)
        chmod(readOnly.path, 0o444)
        expectFailure(["write-protected", "readonly.npy"]) { try AtomicFile.write(bytes, to: readOnly) }
        #expect(try Data(contentsOf: readOnly) == Data("keep".utf8))
        // A named pipe is written through, not replaced by a file.
        let fifo = dir.appendingPathComponent("pipe")
        #expect(mkfifo(fifo.path, 0o600) == 0)
        let received = Locked<[UInt8]>([])
        let reader = Thread {
            // Open the read end (this lets the writer's open return), take what arrives.
            let fd = open(fifo.path, O_RDONLY)
            var buffer = [UInt8](repeating: 0, count: 4096)
            while fd >= 0 {
                let n = read(fd, &buffer, buffer.count)
                if n <= 0 { break }
                received.update { $0 += buffer[0..<n] }
            }
            if fd >= 0 { close(fd) }
        }
        reader.start()
        try AtomicFile.write(bytes, to: fifo)
        #expect(fileType(fifo) == S_IFIFO)
        for _ in 0..<200 where received.value.count < bytes.count { usleep(5_000) }
        #expect(received.value == [UInt8](bytes))
        // A character device (as root, a null device made here) is written through, not replaced.
        if getuid() == 0 {
            let null = dir.appendingPathComponent("null")
            #expect(mknod(null.path, S_IFCHR | 0o666, dev_t(1 << 8 | 3)) == 0)
            try AtomicFile.write(bytes, to: null)
            #expect(fileType(null) == S_IFCHR)
        }
        // A directory or a socket is refused with a message.
        expectFailure(["is a directory", "an output must be"]) { try AtomicFile.write(bytes, to: dir) }
        // Nothing else appeared in the directory (no temporary files left).
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        #expect(
            names
                == [
                    "created.npy", "dangling.npy", "link.npy", getuid() == 0 ? "null" : nil, "pipe", "private.npy",
                    "readonly.npy", "target.npy",
                ].compactMap { $0 })
    }

    @Test func predictWritesThroughASymlinkAndRefusesAnOutputThatIsAnInput() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (model, input) = try copyFixture(to: dir)
        let inputBytes = try Data(contentsOf: input)
        let modelBytes = try Data(contentsOf: model)
        for (flag, victim) in [("--input", input), ("--model", model)] {
            let r = try runTool(
                "idl", ["predict", "--model", model.path, "--input", input.path, "--output", victim.path])
            #expect(r.status != 0 && r.err.contains("is the same file as \(flag)"), "\(r.err)")
        }
        // The same file through another name (a symbolic link) is recognised too.
        let alias = dir.appendingPathComponent("alias.npy")
        try FileManager.default.createSymbolicLink(atPath: alias.path, withDestinationPath: "u.npy")
        let viaLink = try runTool(
            "idl", ["predict", "--model", model.path, "--input", input.path, "--output", alias.path])
        #expect(viaLink.status != 0 && viaLink.err.contains("same file"), "\(viaLink.err)")
        #expect(try Data(contentsOf: input) == inputBytes && Data(contentsOf: model) == modelBytes)
        // A link to another file: the link stays, its target receives the predictions.
        let target = dir.appendingPathComponent("y-target.npy")
        try Data("old".utf8).write(to: target)
        let link = dir.appendingPathComponent("y.npy")
        try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: "y-target.npy")
        let r = try runTool("idl", ["predict", "--model", model.path, "--input", input.path, "--output", link.path])
        #expect(r.status == 0, "\(r.err)")
        #expect(fileType(link) == S_IFLNK)
        #expect(try readNpy(target, as: Float.self).rows == 4)
    }

    @Test func outputPathsAreCheckedBeforeTheWorkStarts() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try CLITests().writeTinyDataset(dir)
        let blocker = dir.appendingPathComponent("a-file")
        try Data("x".utf8).write(to: blocker)
        let train = [
            "train", "--dataset", "mnist-format", "--data-dir", dir.path, "--epochs", "1", "--hidden-dim", "4",
        ]
        for (flag, path) in [
            ("--output", blocker.appendingPathComponent("m.safetensors").path),
            ("--log-dir", blocker.appendingPathComponent("log").path),
        ] {
            let other =
                flag == "--output"
                ? ["--log-dir", dir.appendingPathComponent("log").path]
                : ["--output", dir.appendingPathComponent("new/m.safetensors").path]
            let r = try runTool("idl", train + [flag, path] + other)
            #expect(r.status != 0, "\(flag)")
            #expect(!r.out.contains("epoch 1"), "\(flag): trained before failing: \(r.out)")
            // One line, saying which flag, what is wrong and what to do, no Foundation text.
            #expect(r.err.split(separator: "\n").count == 1, "\(r.err)")
            #expect(
                r.err.hasPrefix("Error: \(flag) ") && r.err.contains("checked before any work")
                    && r.err.contains("Not a directory"),
                "\(r.err)")
            #expect(!r.err.contains("Domain") && !r.err.contains("NSCocoa"), "\(r.err)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("m.safetensors").path))
        // The directory created for --output while checking was removed when --log-dir failed.
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("new").path))
    }

    @Test func aDashIsNotTakenForAFileAndFigureFormatsAreCheckedFirst() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (model, input) = try copyFixture(to: dir)
        for (arguments, stream) in [
            (["--input", input.path, "--output", "-"], "/dev/stdout"),
            (["--input", "-", "--output", dir.appendingPathComponent("y.npy").path], "/dev/stdin"),
        ] {
            let r = try runTool("idl", ["predict", "--model", model.path] + arguments, in: dir)
            #expect(r.status != 0 && r.err.contains("'-'") && r.err.contains(stream), "\(arguments): \(r.err)")
        }
        #expect(rawNames(dir).count == 2, "a file was written: \(rawNames(dir))")
        // An unknown figure format is refused before the first experiment starts.
        let r = try runTool("idl", ["reproduce", "--formats", "gif", "--output", dir.path, "sim-sweep"])
        #expect(r.status != 0 && r.err.contains("gif") && !r.out.contains("=="), "\(r.out) \(r.err)")
    }

    @Test func rnnChecksItsFilesAndNumbersBeforeTraining() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let blocker = dir.appendingPathComponent("a-file")
        try Data("x".utf8).write(to: blocker)
        let series = dir.appendingPathComponent("series.npy")
        try writeNpy(Matrix<Double>(row: (0..<80).map { sin(Double($0) / 5) }), to: series)
        let seriesBytes = try Data(contentsOf: series)
        let short = ["rnn", "--epochs", "2", "--look-back", "10"]
        // An output under a regular file fails before the first epoch, on one line.
        var r = try runTool("idl", short + ["--output", blocker.appendingPathComponent("m.safetensors").path])
        #expect(r.status != 0)
        #expect(!r.out.contains("epoch"), "trained before failing: \(r.out)")
        #expect(r.err.hasPrefix("Error: --output ") && r.err.contains("checked before any work"), "\(r.err)")
        #expect(r.err.split(separator: "\n").count == 1, "\(r.err)")
        // The series may not be the output: refused before any work, the series untouched.
        r = try runTool("idl", short + ["--series", series.path, "--output", series.path])
        #expect(r.status != 0)
        #expect(r.err.contains("--series") && r.err.contains("--output"), "\(r.err)")
        #expect(try Data(contentsOf: series) == seriesBytes)
        // Non-finite tolerances are refused by the shared number rule.
        r = try runTool("idl", short + ["--grad-tol", "inf"])
        #expect(r.status != 0 && r.err.contains("--grad-tol") && r.err.contains("finite"), "\(r.err)")
    }

    @Test func trainLogIsAppendedWithARunHeader() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try CLITests().writeTinyDataset(dir)
        let arguments = [
            "train", "--dataset", "mnist-format", "--data-dir", dir.path, "--epochs", "1", "--hidden-dim", "4",
            "--output", dir.appendingPathComponent("m.safetensors").path,
            "--log-dir", dir.appendingPathComponent("log").path, "--quiet",
        ]
        for _ in 0..<2 {
            let r = try runTool("idl", arguments)
            #expect(r.status == 0, "\(r.err)")
        }
        let log = try String(contentsOf: dir.appendingPathComponent("log/train.log"), encoding: .utf8)
        let lines = log.split(separator: "\n")
        #expect(lines.filter { $0.hasPrefix("# run ") }.count == 2, "\(log)")
        #expect(lines.filter { $0.hasPrefix("1,") }.count == 2, "\(log)")
        #expect(lines.first?.contains("idl train") == true)
    }

    @Test func longAndNonUTF8FileNamesAreWrittenExactly() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (model, input) = try copyFixture(to: dir)
        // 244 bytes: legal (≤ 255), but ".<name>.tmp-<pid>-<random>" is not.
        let long = String(repeating: "y", count: 240) + ".npy"
        let r = try runTool(
            "idl",
            [
                "predict", "--model", model.path, "--input", input.path, "--output",
                dir.appendingPathComponent(long).path,
            ])
        #expect(r.status == 0, "\(r.err)")
        #expect(try readNpy(dir.appendingPathComponent(long), as: Float.self).rows == 4)
        // A name with the byte 0xFF (not UTF-8), as input and as output.
        let s = try runShell(
            """
            cd '\(dir.path)' && cp u.npy "$(printf 'in\\377.npy')" && \
            "$IDL" predict --model model.safetensors --input "$(printf 'in\\377.npy')" --output "$(printf 'out\\377.npy')" --quiet
            """)
        #expect(s.status == 0, "\(s.err)")
        let names = rawNames(dir)
        #expect(names.contains(Array("out".utf8) + [0xFF] + Array(".npy".utf8)), "\(names)")
        #expect(
            !names.contains {
                String(decoding: $0, as: UTF8.self).contains("\u{FFFD}") && $0.count > 8
                    && $0.starts(with: Array("out".utf8)) && !$0.contains(0xFF)
            })
        #expect(names.filter { $0.starts(with: Array("out".utf8)) }.count == 1, "written under another name too")
    }

    // MARK: Never answer wrongly with exit status 0

    /// A model whose fixed point does not exist (A = 5·I, no well-posedness rule).
    func divergentModel(_ dir: URL) throws -> (model: URL, input: URL) {
        let model = try ImplicitModel<Float>(
            A: Matrix<Float>.identity(3) * 5, B: Matrix(rows: 3, cols: 2, repeating: 1),
            C: Matrix(rows: 1, cols: 3, repeating: 1), wellPosedness: .none, maxIterations: 30)
        let url = dir.appendingPathComponent("divergent.safetensors")
        try model.save(to: url)
        let input = dir.appendingPathComponent("u.npy")
        // Sample 1 is all zeros: its fixed point X = 0 is found; the others diverge.
        try writeNpy(Matrix<Float>(rows: 2, cols: 3) { _, j in j == 1 ? 0 : 1 }, to: input)
        return (url, input)
    }

    @Test func unconvergedPredictionsFailUnlessAllowed() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (model, input) = try divergentModel(dir)
        let y = dir.appendingPathComponent("y.npy")
        let r = try runTool(
            "idl", ["predict", "--model", model.path, "--input", input.path, "--output", y.path, "--quiet"])
        #expect(r.status != 0)
        #expect(
            r.err.contains("did not converge") && r.err.contains("2 of 3 samples") && r.err.contains("rows 0, 2"),
            "\(r.err)")
        #expect(!FileManager.default.fileExists(atPath: y.path))
        let allowed = try runTool(
            "idl",
            [
                "predict", "--model", model.path, "--input", input.path, "--output", y.path, "--allow-unconverged",
                "--json",
            ])
        #expect(allowed.status == 0, "\(allowed.err)")
        #expect(allowed.err.contains("warning") && allowed.err.contains("rows 0, 2"), "\(allowed.err)")
        #expect(try lastJSON(allowed.out)["unconverged_samples"] as? [Int] == [0, 2])
        #expect(FileManager.default.fileExists(atPath: y.path))
    }

    @Test func enumeratedFlagsAreStrictAndFlagsMayNotContradictTheModelFile() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (_, input) = try copyFixture(to: dir)
        var g = SeededGenerator(seed: 3)
        let saved = dir.appendingPathComponent("saved.safetensors")
        try ImplicitModel<Float>(inputDim: 16, outputDim: 4, hiddenDim: 5, kappa: 0.9, using: &g).save(to: saved)
        let base = [
            "predict", "--model", saved.path, "--input", input.path, "--output",
            dir.appendingPathComponent("y.npy").path, "--quiet",
        ]
        let solver = try runTool("idl", base + ["--solver", "newton"])
        #expect(solver.status != 0 && solver.err.contains("'newton' is invalid for '--solver"), "\(solver.err)")
        let activation = try runTool("idl", base + ["--activation", "gelu"])
        #expect(activation.status != 0 && activation.err.contains("unknown activation"), "\(activation.err)")
        for flags in [["--kappa", "0.5"], ["--activation", "tanh"], ["--wellposedness", "row-l1"], ["--bias"]] {
            let r = try runTool("idl", base + flags)
            #expect(
                r.status != 0 && r.err.contains("contradicts the model file") && r.err.contains("--override-metadata"),
                "\(flags): \(r.err)")
        }
        // Agreeing flags are fine; an explicit override is obeyed.
        #expect(try runTool("idl", base + ["--kappa", "0.9", "--activation", "relu"]).status == 0)
        let overridden = try runTool("idl", base + ["--kappa", "0.5", "--override-metadata", "--json"])
        #expect(overridden.status == 0, "\(overridden.err)")
    }

    @Test func metadataThatContradictsTheTensorsIsRefused() throws {
        var g = SeededGenerator(seed: 4)
        let model = try ImplicitModel<Float>(inputDim: 3, outputDim: 2, hiddenDim: 4, using: &g)
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("m.safetensors")
        try model.save(to: url)
        let good = try SafeTensors(contentsOf: url)
        #expect(throws: Never.self) { _ = try ImplicitModel<Float>.load(stateDict: good) }
        for (key, value, words) in [
            ("hidden_dim", "5", ["hidden_dim", "5", "tensors give 4"]), ("input_dim", "9", ["input_dim"]),
            ("no_D", "true", ["no_D"]), ("format", "idl-implicit-model/2", ["idl-implicit-model/2", "update"]),
            ("kappa", "abc", ["kappa", "not a number"]), ("bias", "yes", ["bias", "true or false"]),
        ] {
            var edited = good
            edited.metadata[key] = value
            expectFailure(words) { _ = try ImplicitModel<Float>.load(stateDict: edited) }
        }
        // A of shape (4, 4, 1): as many numbers as a 4×4 matrix, but not a matrix.
        var extraRank = good
        let a = good.tensors["A"]!
        extraRank.tensors["A"] = try SafeTensors.Tensor(dtype: a.dtype, shape: [4, 4, 1], data: a.data)
        expectFailure(["'A'", "[4, 4, 1]", "2-D"]) { _ = try ImplicitModel<Float>.load(stateDict: extraRank) }
        // A key twice in the JSON header: refused by the reader.
        var bytes = try good.encoded()
        let headerLength = Int(bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        var header = String(decoding: bytes[8..<(8 + headerLength)], as: UTF8.self)
        header = header.replacingOccurrences(of: "\"kappa\":\"0.99\"", with: "\"kappa\":\"0.5\",\"kappa\":\"0.99\"")
        while header.utf8.count % 8 != 0 { header += " " }
        var edited = Data()
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { edited.append(contentsOf: $0) }
        edited.append(contentsOf: header.utf8)
        edited.append(bytes[(8 + headerLength)...])
        bytes = edited
        expectFailure(["'kappa' twice"]) { _ = try SafeTensors(safetensorsData: bytes) }
    }

    @Test func higherRankInputsAreFlattenedOnlyWhenTheyFitAndTheUserIsTold() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (model, input) = try copyFixture(to: dir)
        let flat = try NpyArray(contentsOf: input)  // (10, 16)
        let cube = dir.appendingPathComponent("cube.npy")
        try NpyArray(shape: [10, 4, 4], dtype: flat.dtype, data: flat.data).write(to: cube)
        let y1 = dir.appendingPathComponent("y1.npy")
        let y2 = dir.appendingPathComponent("y2.npy")
        let r = try runTool(
            "idl", ["predict", "--model", model.path, "--input", cube.path, "--output", y1.path, "--quiet"])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.err.components(separatedBy: "flattened").count == 2, "told once: \(r.err)")
        #expect(
            try runTool("idl", ["predict", "--model", model.path, "--input", input.path, "--output", y2.path]).status
                == 0)
        #expect(try readNpy(y1, as: Float.self) == readNpy(y2, as: Float.self))
        // (5, 2, 16) holds 32 values per sample, not 16: refused, naming the shapes.
        let wrong = dir.appendingPathComponent("wrong.npy")
        try NpyArray(shape: [5, 2, 16], dtype: flat.dtype, data: flat.data).write(to: wrong)
        let bad = try runTool("idl", ["predict", "--model", model.path, "--input", wrong.path, "--output", y1.path])
        #expect(bad.status != 0 && bad.err.contains("(5, 2, 16)") && bad.err.contains("expects 16"), "\(bad.err)")
    }

    /// States of a small teacher on 200 FashionMNIST images, with Y or U replaced.
    func states(_ dir: URL, outputs: Int = 10, inputs: Int = 784) throws -> URL {
        var g = SeededGenerator(seed: 5)
        let teacher = Sequential<Double>.mlp([784, 6, 10], bias: false, using: &g)
        let images = try FashionMNIST.load(.train, scaling: .unit, as: Double.self).prefix(200)
        let s = try StateExtraction.states(of: teacher, inputs: images.inputs)
        let edited = try SIMStates(
            inputs: inputs == 784 ? s.inputs : s.inputs.rows(0..<inputs), states: s.states,
            preActivations: s.preActivations, outputs: outputs == 10 ? s.outputs : s.outputs.rows(0..<outputs))
        let url = dir.appendingPathComponent("states-\(outputs)-\(inputs).safetensors")
        try edited.save(to: url)
        return url
    }

    @Test func simChecksStatesAgainstTheTestDataAndTheSampleCountBeforeTheFit() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = dir.appendingPathComponent("sim.safetensors").path
        for (file, words) in [
            (try states(dir, outputs: 3), ["outputs Y of 3 columns", "10 classes"]),
            (try states(dir, inputs: 700), ["700 features", "784"]),
        ] {
            let r = try runTool("idl", ["sim", "--states-in", file.path, "--output", model])
            #expect(r.status != 0, "\(r.out)")
            #expect(words.allSatisfy(r.err.contains), "\(r.err)")
            #expect(!r.out.contains("test accuracy") && !r.out.contains("LAPACK"), "fitted first: \(r.out)")
        }
        #expect(!FileManager.default.fileExists(atPath: model))
        let tooMany = try runTool("idl", ["sim", "--samples", "70000", "--output", model])
        #expect(tooMany.status != 0 && tooMany.err.contains("larger than the training set"), "\(tooMany.err)")
        #expect(!tooMany.out.contains("teacher epoch"))
        // The states file may not also be the output.
        let ok = try states(dir)
        let same = try runTool("idl", ["sim", "--states-in", ok.path, "--output", ok.path])
        #expect(same.status != 0 && same.err.contains("same file as --states-in"), "\(same.err)")
    }

    @Test func tolerancesMustBeFiniteAndNegativeNumbersAreJudgedAsNumbers() throws {
        for (arguments, words) in [
            (["train", "--grad-tol", "inf"], ["--grad-tol", "finite", "inf"]),
            (["train", "--tol", "nan"], ["--tol", "finite"]),
            (["train", "--tol", "-1"], ["--tol must be positive", "-1"]),
            (["train", "--lr", "-0.5"], ["--lr must be positive"]),
            (["train", "--kappa", "1.5"], ["--kappa", "between 0 and 1"]),
            (["train", "--mitr", "-3"], ["--mitr must be at least 1", "-3"]),
            (["sim", "--lambda-state", "-2"], ["--lambda-state", "zero or positive"]),
            (["sim", "--tolerance", "inf"], ["--tolerance", "finite"]),
        ] {
            let r = try runTool("idl", arguments)
            #expect(r.status != 0, "\(arguments)")
            #expect(words.allSatisfy(r.err.contains) && !r.err.contains("Missing value"), "\(arguments): \(r.err)")
            #expect(r.err.split(separator: "\n").count == 1, "\(arguments): \(r.err)")
        }
    }

    // MARK: Crashes and resource limits

    @Test func absurdSizesAreRefusedWithoutATrap() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try CLITests().writeTinyDataset(dir)
        for extra in [
            ["--hidden-dim", "30000000000000"], ["--hidden-dim", "\(Int.max)"],
            ["--hidden-dim", "\(Int.max)", "--rank", "3"],
        ] {
            let r = try runTool(
                "idl",
                [
                    "train", "--dataset", "mnist-format", "--data-dir", dir.path, "--output",
                    dir.appendingPathComponent("m.safetensors").path,
                    "--log-dir", dir.appendingPathComponent("log").path,
                ] + extra)
            #expect(r.status == 1, "\(extra): status \(r.status) \(r.err)")
            #expect(r.err.contains("not enough memory"), "\(extra): \(r.err)")
        }
        #expect(MemoryEstimate.gibibytes(1e30).hasSuffix("GiB"))
    }

    @Test func gzipInflationStopsAtTheSizeTheIDXHeaderDeclares() throws {
        // Header: 10 images of 4×4 (160 data bytes), then 64 MiB of zeros, compressed (~64 KB).
        var plain = Data([0, 0, 8, 3, 0, 0, 0, 10, 0, 0, 0, 4, 0, 0, 0, 4])
        plain.append(Data(count: 64 << 20))
        let packed = try Gzip.compress(plain)
        let start = Date()
        expectFailure(["header declares", "176"]) { _ = try IDXArray(fileContents: packed, source: "bomb") }
        #expect(Date().timeIntervalSince(start) < 0.5, "inflated far past the header's size")
        // A genuine compressed file still reads.
        let genuine = try IDXArray.encode([UInt8](repeating: 7, count: 160), shape: [10, 4, 4])
        #expect(try IDXArray(fileContents: try Gzip.compress(genuine)).shape == [10, 4, 4])
    }

    @Test func pipesAreReadAndDevicesAreNamed() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (model, input) = try copyFixture(to: dir)
        let y = dir.appendingPathComponent("y.npy")
        // Standard input fed by a pipe (as `<(…)` process substitution is).
        let piped = try runShell(
            "cat '\(input.path)' | \"$IDL\" predict --model '\(model.path)' --input /dev/stdin --output '\(y.path)' --quiet"
        )
        #expect(piped.status == 0, "\(piped.err)")
        #expect(try readNpy(y, as: Float.self).rows == 4)
        let device = try runTool("idl", ["predict", "--model", model.path, "--input", "/dev/null", "--output", y.path])
        #expect(
            device.status != 0 && device.err.contains("character device") && device.err.contains("regular file"),
            "\(device.err)")
        #expect(!device.err.contains("permission"))
    }
}
