import Foundation

/// The command line of an experiment program: `--name value` options and `--switch` flags, checked
/// against what the program accepts. A misspelt name, a missing value or a value that is not a
/// number stops the program with a message and exit status 2, instead of being ignored and
/// running the defaults for minutes.
///
/// ```swift
/// let options = ExperimentOptions.parseOrExit(values: ["--epochs", "--output"], flags: ["--quick"])
/// let epochs = options.int("--epochs") ?? 10
/// ```
public struct ExperimentOptions: Sendable {
    /// What went wrong, in a sentence that names the option and what it expects.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        /// The message, without the program's name.
        public let description: String
    }

    /// The program's name (the last component of its path).
    public let program: String
    /// The names that take a value, e.g. `--output`.
    public let valueNames: [String]
    /// The names that are switches, e.g. `--quick`.
    public let flagNames: [String]
    var values: [String: String] = [:]
    var flags: Set<String> = []

    /// Parses `arguments` (the program's path first, as in `CommandLine.arguments`).
    /// - Parameters:
    ///   - arguments: the program's path, then its arguments.
    ///   - valueNames: the options that take a value (`--output DIR`).
    ///   - flagNames: the switches (`--quick`).
    /// - Throws: ``Failure`` for an argument that is not one of the names, an option without its
    ///   value, or a name given twice.
    public init(_ arguments: [String], values valueNames: [String], flags flagNames: [String]) throws {
        program = arguments.first.map { URL(fileURLWithPath: $0).lastPathComponent } ?? "experiment"
        self.valueNames = valueNames
        self.flagNames = flagNames
        var rest = arguments.dropFirst()[...]
        while let name = rest.popFirst() {
            if flagNames.contains(name) {
                guard flags.insert(name).inserted else { throw Failure(description: "\(name) is given twice") }
            } else if valueNames.contains(name) {
                guard let value = rest.popFirst() else {
                    throw Failure(description: "\(name) needs a value after it")
                }
                guard values.updateValue(value, forKey: name) == nil else {
                    throw Failure(description: "\(name) is given twice")
                }
            } else {
                throw Failure(description: "unknown argument '\(name)'; \(program) accepts \(usage)")
            }
        }
    }

    /// The accepted arguments, e.g. `[--quick] [--output VALUE]`.
    public var usage: String {
        (flagNames.map { "[\($0)]" } + valueNames.map { "[\($0) VALUE]" }).joined(separator: " ")
    }

    /// Parses the program's own command line; prints the usage for `--help`, and exits with
    /// status 2 and the message on a ``Failure``.
    /// - Parameters:
    ///   - valueNames: the options that take a value.
    ///   - flagNames: the switches.
    /// - Returns: the parsed options.
    public static func parseOrExit(values valueNames: [String], flags flagNames: [String]) -> ExperimentOptions {
        let arguments = CommandLine.arguments
        do {
            let options = try ExperimentOptions(
                arguments.filter { $0 != "--help" && $0 != "-h" }, values: valueNames, flags: flagNames)
            if arguments.contains("--help") || arguments.contains("-h") {
                print("usage: \(options.program) \(options.usage)")
                exit(0)
            }
            return options
        } catch {
            exitWithMessage("\(error)", program: arguments.first ?? "experiment")
        }
    }

    /// Whether the switch `name` was given.
    public func flag(_ name: String) -> Bool {
        precondition(flagNames.contains(name), "\(name) is not one of the switches \(flagNames)")
        return flags.contains(name)
    }

    /// The value of `name`, or nil when it was not given.
    public func string(_ name: String) -> String? {
        precondition(valueNames.contains(name), "\(name) is not one of the options \(valueNames)")
        return values[name]
    }

    /// The value of `name` read as `T` (Int, UInt64, Double …), or nil when it was not given.
    /// - Parameters:
    ///   - name: the option.
    ///   - type: the type to read.
    /// - Throws: ``Failure`` when the value is not a `T`.
    public func parsed<T: LosslessStringConvertible>(_ name: String, as type: T.Type) throws -> T? {
        guard let text = string(name) else { return nil }
        guard let value = T(text) else {
            throw Failure(description: "\(name) expects \(Self.describe(T.self)), got '\(text)'")
        }
        return value
    }

    /// The value of `name` as an integer, or nil; exits with status 2 if it is not one.
    public func int(_ name: String) -> Int? { orExit { try parsed(name, as: Int.self) } }

    /// The value of `name` as an unsigned 64-bit integer (a seed), or nil; exits with status 2 if it
    /// is not one.
    public func uint64(_ name: String) -> UInt64? { orExit { try parsed(name, as: UInt64.self) } }

    /// The value of `name` as a number, or nil; exits with status 2 if it is not one.
    public func double(_ name: String) -> Double? { orExit { try parsed(name, as: Double.self) } }

    /// The figure formats `--formats` names (a comma-separated list of png, pdf, svg), or
    /// `defaultFormats` when it was not given; exits with status 2 for an unknown name.
    /// - Parameter defaultFormats: the formats when `--formats` is absent (default png and pdf).
    /// - Returns: the format names, each once, in the order given.
    public func figureFormats(default defaultFormats: [String] = ["png", "pdf"]) -> [String] {
        orExit { try parsedFigureFormats(default: defaultFormats) }
    }

    /// ``figureFormats(default:)``, throwing instead of exiting.
    /// - Parameter defaultFormats: the formats when `--formats` is absent.
    /// - Returns: the format names, each once, in the order given.
    /// - Throws: ``Failure`` for an empty list or a name other than png, pdf, svg.
    public func parsedFigureFormats(default defaultFormats: [String] = ["png", "pdf"]) throws -> [String] {
        guard let text = string("--formats") else { return defaultFormats }
        var names: [String] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let name = part.trimmingCharacters(in: .whitespaces).lowercased()
            guard ["png", "pdf", "svg"].contains(name) else {
                throw Failure(
                    description: "--formats expects a comma-separated list of png, pdf, svg, got '\(text)'")
            }
            if !names.contains(name) { names.append(name) }
        }
        return names
    }

    func orExit<T>(_ body: () throws -> T) -> T {
        do { return try body() } catch { Self.exitWithMessage("\(error)", program: program) }
    }

    static func describe(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type: "an integer"
        case is UInt64.Type: "a non-negative integer"
        case is Double.Type: "a number"
        default: "a value of type \(type)"
        }
    }

    /// Prints "program: message" on standard error and exits with status 2 (bad input).
    /// - Parameters:
    ///   - message: what was expected, what was found, what to do.
    ///   - program: the program's path or name.
    public static func exitWithMessage(_ message: String, program: String) -> Never {
        let name = URL(fileURLWithPath: program).lastPathComponent
        FileHandle.standardError.write(Data("\(name): \(message)\n".utf8))
        exit(2)
    }
}
