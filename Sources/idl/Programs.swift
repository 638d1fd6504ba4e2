import ArgumentParser
import Foundation
import IDL

/// The executables built beside `idl` (tutorials, experiments), found in its own directory.
enum SiblingPrograms {
    static var directory: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    }

    /// Names of the sibling executables that start with `prefix`, without it, sorted.
    static func names(prefix: String, excluding: Set<String> = []) -> [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return files.filter { $0.hasPrefix(prefix) && FileManager.default.isExecutableFile(atPath: directory.appendingPathComponent($0).path) }
            .map { String($0.dropFirst(prefix.count)) }
            .filter { !excluding.contains($0) && !$0.contains(".") }
            .sorted()
    }

    /// Runs a sibling executable with the terminal's output; throws on a non-zero exit status.
    static func run(_ executable: String, _ arguments: [String]) throws {
        let url = directory.appendingPathComponent(executable)
        guard FileManager.default.isExecutableFile(atPath: url.path) else {
            throw CommandError("\(executable) is not built next to idl (\(directory.path)); build everything with `swift build -c release` and run idl from there (swift run -c release idl …)")
        }
        let p = Process()
        p.executableURL = url
        p.arguments = arguments
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw CommandError("\(executable) \(arguments.joined(separator: " ")) failed with exit status \(p.terminationStatus)")
        }
    }
}

struct Tutorial: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run an executable tutorial (see Tutorials/README.md).",
        discussion: "Each chapter prints what its page in Tutorials/<name>/README.md shows and writes its figures to results/tutorials/<name>/."
    )

    @Argument(help: "The chapter to run (see --list).") var name: String?
    @Flag(help: "Print the tutorial names, one a line.") var list = false
    @Flag(help: "The shorter run the test suite uses.") var quick = false

    func run() throws {
        let chapters = SiblingPrograms.names(prefix: "tutorial-", excluding: ["pages"])
        if list {
            guard !chapters.isEmpty else { throw CommandError("no tutorial is built next to idl; run `swift build -c release` first") }
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
        abstract: "Regenerate the experiments' tables and figures into results/.",
        discussion: """
        Runs the experiment programs (Experiments/<name>): implicit-models (implicit models of several \
        sizes and well-posedness rules beside an MLP, robustness under attacks), sim-fashion (SIM \
        solvers on FashionMNIST against the teacher and magnitude pruning), sim-sweep (SIM accuracy \
        against sparsity over a sweep of λ_state, spy plots of A and B, robustness under FGSM and \
        PGD) and argmax-extrapolation (ImplicitRNN vs LSTM outside the training range). --quick runs \
        the short versions, written under results/quick/ so that they never replace the committed \
        full results.
        """
    )

    static let experiments = ["implicit-models", "sim-fashion", "sim-sweep", "argmax-extrapolation"]

    @Argument(help: "Experiments to run (default: all): \(experiments.joined(separator: ", ")).") var names: [String] = []
    @Flag(help: "Short runs (subsets, fewer epochs).") var quick = false
    @Option(help: "Directory for the results.") var output = "results"

    func run() throws {
        let chosen = names.isEmpty ? Self.experiments : names
        for name in chosen where !Self.experiments.contains(name) {
            throw CommandError("unknown experiment '\(name)'; choose from \(Self.experiments.joined(separator: ", "))")
        }
        for name in chosen {
            print("== \(name)\(quick ? " (quick)" : "")")
            try SiblingPrograms.run(name, (quick ? ["--quick"] : []) + ["--output", output])
        }
    }
}
