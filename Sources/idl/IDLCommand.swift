import ArgumentParser
import Foundation
import IDL

@main
struct IDLCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "idl",
        abstract:
            "Implicit deep learning from the command line: train implicit models, fit SIM models, run saved ones.",
        discussion: """
            An implicit model computes its hidden state X as the solution of X = φ(AX + BU) and predicts \
            Ŷ = CX + DU. `idl train` trains one on an image data set (FashionMNIST by default, from the \
            Debian package dataset-fashion-mnist) and saves it as .safetensors; `idl predict` runs a saved \
            model, or a torchidl state_dict, on a batch stored as .npy.

            Examples:
              idl train --epochs 10 --output results/model.safetensors
              idl predict --model results/model.safetensors --input U.npy --output Y.npy
              idl sim                   (a sparse, well-posed SIM of a trained network)
              idl sim --teacher net.safetensors --activation relu   (SIM of your PyTorch network)
              idl rnn                   (an ImplicitRNN on a time series)
              idl tutorial --list       (then: idl tutorial feedforward --quick)
              idl reproduce --quick     (regenerate the experiments' results)
            """,
        subcommands: [
            Train.self, SIMCommand.self, RNNCommand.self, Predict.self, Tutorial.self, Reproduce.self, Bench.self,
        ]
    )

    /// Parses the raw arguments (``CommandLineArguments``), runs the command, and prints any
    /// error as one line on standard error ("Error: what was wrong, with what, what to do").
    static func main() {
        do {
            var command = try parseAsRoot(CommandLineArguments.read())
            try command.run()
        } catch {
            let code = exitCode(for: error)
            if code == .success { exit(withError: error) }  // --help, --version
            let message = Self.message(for: error).split(whereSeparator: \.isNewline).joined(separator: " ")
            FileHandle.standardError.write(Data("Error: \(message)\n".utf8))
            Foundation.exit(code.rawValue)
        }
    }
}

/// Options shared by the commands that print figures.
struct OutputOptions: ParsableArguments {
    @Flag(help: "End with one line holding a JSON object of the figures (for scripts and graders).")
    var json = false

    @Flag(help: "Print nothing but errors (and the JSON line with --json).")
    var quiet = false

    /// Options that print nothing (the ranks other than 0 of a distributed run).
    static var silent: OutputOptions { (try? OutputOptions.parse(["--quiet"])) ?? OutputOptions() }

    /// Progress style: bars on a terminal, plain lines otherwise, nothing when quiet.
    var progressStyle: ProgressReporter.Style { quiet ? .quiet : .automatic }

    func say(_ text: String) {
        if !quiet { print(text) }
    }

    /// Prints the figures as one JSON line (sorted keys, so the output is stable).
    func emit(_ figures: [String: Any]) throws {
        guard json else { return }
        let data = try JSONSerialization.data(withJSONObject: figures, options: [.sortedKeys, .withoutEscapingSlashes])
        print(String(decoding: data, as: UTF8.self))
    }
}

/// Errors of the command line itself (not of the library).
struct CommandError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
