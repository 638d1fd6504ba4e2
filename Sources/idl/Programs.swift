import ArgumentParser
import Foundation
import IDL
import IDLPlot

/// The executables built beside `idl` (tutorials, experiments), found in the directory of the
/// running executable itself (`/proc/self/exe`), never through the current directory or PATH:
/// `idl` started through PATH from a directory holding a program named `tutorial-…` must not
/// run that program.
enum SiblingPrograms {
    static var directory: URL {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        if n > 0 {
            let bytes = buffer[0..<n].map { UInt8(bitPattern: $0) }
            return URL(fileURLWithPath: FilePathBytes.string(fromFileSystemBytes: bytes)).deletingLastPathComponent()
        }
        // Not Linux: the loader's idea of the executable (an absolute path), else nothing.
        return (Bundle.main.executableURL ?? URL(fileURLWithPath: "/nonexistent/idl")).resolvingSymlinksInPath()
            .deletingLastPathComponent()
    }

    /// Names of the sibling executables that start with `prefix`, without it, sorted.
    static func names(prefix: String, excluding: Set<String> = []) -> [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return files.filter {
            $0.hasPrefix(prefix)
                && FileManager.default.isExecutableFile(atPath: directory.appendingPathComponent($0).path)
        }
        .map { String($0.dropFirst(prefix.count)) }
        .filter { !excluding.contains($0) && !$0.contains(".") }
        .sorted()
    }

    /// Runs a sibling executable with the terminal's output; throws on a non-zero exit status.
    static func run(_ executable: String, _ arguments: [String]) throws {
        let url = directory.appendingPathComponent(executable)
        guard FileManager.default.isExecutableFile(atPath: url.path) else {
            throw CommandError(
                "\(executable) is not built next to idl (\(directory.path)); build it with `swift build -c release --product \(executable)` (or everything with `swift build -c release`) and run that build's idl"
            )
        }
        let p = Process()
        p.executableURL = url
        p.arguments = arguments
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw CommandError(
                "\(executable) \(arguments.joined(separator: " ")) failed with exit status \(p.terminationStatus)")
        }
    }
}

struct Tutorial: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run an executable tutorial (see Tutorials/README.md).",
        discussion:
            "Each chapter prints what its page in Tutorials/<name>/README.md shows and writes its figures to results/tutorials/<name>/."
    )

    @Argument(help: "The chapter to run (see --list).") var name: String?
    @Flag(help: "Print the tutorial names, one a line.") var list = false
    @Flag(help: "The shorter run the test suite uses.") var quick = false

    func run() throws {
        let chapters = SiblingPrograms.names(prefix: "tutorial-", excluding: ["pages"])
        if list {
            guard !chapters.isEmpty else {
                throw CommandError(
                    "no tutorial is built next to idl (\(SiblingPrograms.directory.path)); run `swift build -c release` first"
                )
            }
            print(chapters.joined(separator: "\n"))
            return
        }
        guard let name else { throw ValidationError("give a chapter name, or --list to see them") }
        guard chapters.contains(name) else {
            throw CommandError("unknown tutorial '\(name)'; the tutorials are: \(chapters.joined(separator: ", "))")
        }
        try SiblingPrograms.run("tutorial-\(name)", quick ? ["--quick"] : [])
    }
}

struct Reproduce: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Regenerate every experiment's tables and figures into results/ (see results/README.md).",
        discussion: """
            Runs, in order: implicit-models (implicit models of several sizes and well-posedness rules \
            beside an MLP, robustness under attacks), sim-fashion (SIM solvers against the teacher and \
            magnitude pruning), sim-sweep (accuracy against sparsity over λ, spy plots of A and B, \
            robustness), sim-sweep-double (the same with the teacher in Double, under sim-double/, one seed), \
            sim-robust (SIM fits with capped B, C, D and a smaller κ against FGSM and PGD, 3 seeds), \
            sim-baselines (D = 0, D alone, per-layer scaled SIM, pruning with fine-tuning and a linear \
            classifier at the SIM frontier's counts), argmax-extrapolation (ImplicitRNN vs LSTM outside the training range), rnn \
            (the spiky series, rnn-bench), solvers (Picard vs Anderson while training, implicit-bench) \
            and performance (the speed table, idl bench). The SIM and implicit-model experiments repeat \
            every run for 3 seeds (mean and standard deviation). About 12 minutes in full mode on 2 cores.

            --quick runs short versions (subsets, fewer epochs; about 1.5 minutes), written under \
            results/quick/ so that they never replace the committed full results. Figures are written \
            as PNG and PDF; --formats png,pdf,svg adds SVG.

            Each run records what made it (commit, compiler, CPU, BLAS kernels, thread policy, \
            command, wall time) in MANIFEST.json beside the results (results/quick/MANIFEST.json \
            for --quick), and each table ends with a line saying so.

            --verify regenerates the named experiments (default: all) into a temporary folder \
            instead and compares them with the committed results: identical on the same CPU and \
            BLAS kernels, within per-column tolerances on another machine (timings are skipped). \
            It prints the cells that differ and exits with status 1 if any lies outside its tolerance.
            """
    )

    /// An experiment: the program beside idl, and its arguments in full and quick mode. Programs
    /// without their own quick mode get `--output <dir>/quick` in quick mode.
    struct Experiment {
        var name: String
        var program: String
        var full: [String] = []
        var quick: [String]
        var hasQuickMode = true
        var drawsFigures = false
    }

    static let experiments = [
        Experiment(name: "implicit-models", program: "implicit-models", quick: ["--quick"], drawsFigures: true),
        Experiment(name: "sim-fashion", program: "sim-fashion", quick: ["--quick"]),
        Experiment(name: "sim-sweep", program: "sim-sweep", quick: ["--quick"], drawsFigures: true),
        // One seed: the Double run is a rounding check against seed 0 of sim-sweep, not a result.
        Experiment(
            name: "sim-sweep-double", program: "sim-sweep", full: ["--double", "--seeds", "1"],
            quick: ["--quick", "--double"], drawsFigures: true),
        Experiment(name: "sim-baselines", program: "sim-baselines", quick: ["--quick"], drawsFigures: true),
        Experiment(name: "sim-robust", program: "sim-robust", quick: ["--quick"], drawsFigures: true),
        Experiment(
            name: "argmax-extrapolation", program: "argmax-extrapolation", quick: ["--quick"], drawsFigures: true),
        Experiment(name: "rnn", program: "rnn-bench", quick: ["--epochs", "5"], hasQuickMode: false),
        Experiment(
            name: "solvers", program: "implicit-bench", quick: ["--epochs", "1", "--steps", "100"], hasQuickMode: false),
        Experiment(
            name: "performance", program: "idl", full: ["bench", "--quiet"],
            quick: ["bench", "--quiet", "--repeats", "1", "--steps", "50", "--skip-sim"], hasQuickMode: false),
    ]

    @Argument(help: "Experiments to run (default: all): \(experiments.map(\.name).joined(separator: ", ")).") var names:
        [String] = []
    @Flag(help: "Short runs (subsets, fewer epochs), written under results/quick/.") var quick = false
    @Option(help: "Directory for the results.") var output = "results"
    @Flag(help: "Regenerate into a temporary folder and compare with the results in --output.") var verify = false
    @Option(help: "Figure formats: a comma-separated list of png, pdf, svg.") var formats = "png,pdf"

    func run() throws {
        useLineBufferedStandardOutput()  // headers before the programs' own output, also in logs
        let known = Self.experiments.map(\.name)
        for name in names where !known.contains(name) {
            throw CommandError("unknown experiment '\(name)'; choose from \(known.joined(separator: ", "))")
        }
        _ = try figureFormats  // checked before the first experiment starts
        let selected = Self.experiments.filter { names.isEmpty || names.contains($0.name) }
        if verify { return try self.verify(selected) }
        try RunFiles.check(RunFile.directory("--output", output, files: []))
        for e in selected {
            print("== \(e.name)\(quick ? " (quick)" : "")")
            try regenerate(e, into: output)
        }
    }
}
