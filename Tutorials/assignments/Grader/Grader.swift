import Dispatch
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The outcome of one check, as the table and the JSON score file report it.
public struct CheckReport: Codable, Sendable {
    /// The check's identifier.
    public var id: String
    /// The task of the handout it belongs to.
    public var task: String
    /// Points the check is worth.
    public var points: Int
    /// Whether it passed.
    public var passed: Bool
    /// Wall-clock seconds of the check's process.
    public var seconds: Double
    /// Why it failed (nil when it passed).
    public var hint: Hint?
}

/// The graded result of one assignment.
public struct AssignmentReport: Codable, Sendable {
    /// The assignment's folder name.
    public var assignment: String
    /// Its title.
    public var title: String
    /// Points earned.
    public var score: Int
    /// Points available.
    public var maxScore: Int
    /// One entry per check, in order.
    public var checks: [CheckReport]
}

/// The score file written by `--json`: every graded assignment and the totals.
public struct GradeReport: Codable, Sendable {
    /// Which implementation was graded (`starter`, `reference`, `reference+<planted bug>`).
    public var solution: String
    /// Points earned over all graded assignments.
    public var score: Int
    /// Points available over all graded assignments.
    public var maxScore: Int
    /// Per assignment.
    public var assignments: [AssignmentReport]
}

/// The grader's command line, shared by `grade` (the students' starter target) and
/// `grade-reference` (the reference solutions): parses the arguments, runs every check of the
/// chosen assignments in a child process of its own (a trap, a hang or an `exit` in the
/// student's code fails that check only), prints the table and writes the score file.
public enum Grader {
    /// The marker before the JSON line a check's child process prints as its result.
    static let resultMarker = "@@grade-result "

    /// Runs the grader and exits: status 0 when every check passed, 1 when one failed, 2 for a
    /// usage error or a grader that could not run a check.
    ///
    /// - Parameters:
    ///   - program: The executable's name, for messages (`grade`).
    ///   - solution: The implementation graded, for the report (`starter`).
    ///   - childArguments: Extra arguments the child processes need to bind the same
    ///     implementation (`--planted-bug adjoint-sign`).
    ///   - assignments: Every assignment, bound to the implementation.
    ///   - arguments: The command-line arguments after those the caller consumed.
    ///   - extraUsage: Lines the caller adds to the usage text.
    public static func main(
        program: String, solution: String, childArguments: [String] = [], assignments: [Assignment],
        arguments: [String], extraUsage: String = ""
    ) -> Never {
        let usage = """
            usage: \(program) <assignment | all> [--json FILE] [--time-limit SECONDS] [--only CHECK]
                   \(program) --list
            \(extraUsage)
            Runs the checks of an assignment (each in a process of its own, at most SECONDS each,
            default 20), prints a table of tasks, points and hints, and writes the score as JSON to
            FILE when --json is given. Exit status: 0 when every check passed, 1 otherwise,
            2 for a usage error. Assignments: \(assignments.map(\.name).joined(separator: ", ")).
            """
        func fail(_ message: String) -> Never {
            FileHandle.standardError.write(Data("\(program): \(message)\n\n\(usage)\n".utf8))
            exit(2)
        }
        var args = arguments[...]
        var target: String?
        var jsonPath: String?
        var timeLimit = 20.0
        var only: String?
        while let arg = args.popFirst() {
            switch arg {
            case "--help", "-h":
                print(usage)
                exit(0)
            case "--list":
                for a in assignments {
                    print("\(a.name) — \(a.title) (\(a.maxScore) points)")
                    for c in a.checks { print("  \(c.id) [\(c.points)] \(c.task): \(c.summary)") }
                }
                exit(0)
            case "--run-check":
                guard let name = args.popFirst(), let id = args.popFirst() else {
                    fail("--run-check needs an assignment and a check id")
                }
                runChild(assignments: assignments, name: name, id: id)
            case "--json":
                guard let path = args.popFirst() else { fail("--json needs a file name") }
                jsonPath = path
            case "--time-limit":
                guard let text = args.popFirst(), let value = Double(text), value > 0, value.isFinite else {
                    fail("--time-limit needs a positive number of seconds")
                }
                timeLimit = value
            case "--only":
                guard let id = args.popFirst() else { fail("--only needs a check id (see --list)") }
                only = id
            default:
                if arg.hasPrefix("-") { fail("unknown option \(arg)") }
                if target != nil { fail("one assignment (or all) at a time, got \(target!) and \(arg)") }
                target = arg
            }
        }
        guard let target else { fail("name the assignment to grade") }
        var chosen = target == "all" ? assignments : assignments.filter { $0.name == target }
        if chosen.isEmpty { fail("no assignment named \(target)") }
        if let only {
            chosen = chosen.map {
                Assignment(name: $0.name, title: $0.title, checks: $0.checks.filter { $0.id == only })
            }
            .filter { !$0.checks.isEmpty }
            if chosen.isEmpty { fail("no check \(only) in \(target) (see --list)") }
        }
        var reports = [AssignmentReport]()
        for a in chosen {
            print("━━ \(a.name) · \(a.title) · \(solution) ━━")
            print("  \(column("task", 32)) \(column("check", 26)) \(column("points", 6)) \(column("result", 7)) time")
            var checks = [CheckReport]()
            for c in a.checks {
                let r: CheckReport
                do {
                    r = try runInChild(a, c, childArguments: childArguments, timeLimit: timeLimit)
                } catch {
                    FileHandle.standardError.write(Data("\(program): could not run check \(c.id): \(error)\n".utf8))
                    exit(2)
                }
                checks.append(r)
                printRow(r)
            }
            let score = checks.filter(\.passed).reduce(0) { $0 + $1.points }
            let report = AssignmentReport(
                assignment: a.name, title: a.title, score: score, maxScore: a.maxScore, checks: checks)
            reports.append(report)
            printHints(report)
        }
        let total = GradeReport(
            solution: solution, score: reports.reduce(0) { $0 + $1.score },
            maxScore: reports.reduce(0) { $0 + $1.maxScore }, assignments: reports)
        if reports.count > 1 { print("total: \(total.score)/\(total.maxScore) points") }
        if let jsonPath {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            do {
                try encoder.encode(total).write(to: URL(fileURLWithPath: jsonPath), options: .atomic)
            } catch {
                FileHandle.standardError.write(
                    Data("\(program): cannot write the score to \(jsonPath): \(error)\n".utf8))
                exit(2)
            }
        }
        exit(total.score == total.maxScore ? 0 : 1)
    }

    static func column(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
    }

    static func printRow(_ r: CheckReport) {
        let result = r.passed ? "passed" : "FAILED"
        let points = "\(r.passed ? r.points : 0)/\(r.points)"
        print(
            "  \(column(r.task, 32)) \(column(r.id, 26)) \(column(points, 6)) \(column(result, 7)) \(String(format: "%.2f s", r.seconds))"
        )
    }

    static func printHints(_ report: AssignmentReport) {
        print("  score: \(report.score)/\(report.maxScore) points")
        let failed = report.checks.filter { !$0.passed }
        if failed.isEmpty { return }
        print("  hints:")
        for r in failed {
            guard let h = r.hint else { continue }
            print("  ✗ \(r.id)")
            print("      input:     \(h.input)")
            print("      expected:  \(h.expected)")
            print("      got:       \(h.got)")
            print("      tolerance: \(h.tolerance)")
        }
    }

    /// Child mode: runs one check and prints its result line, then exits 0.
    static func runChild(assignments: [Assignment], name: String, id: String) -> Never {
        guard let check = assignments.first(where: { $0.name == name })?.checks.first(where: { $0.id == id }) else {
            FileHandle.standardError.write(Data("no check \(name)/\(id)\n".utf8))
            exit(2)
        }
        var hint: Hint? = nil
        do {
            try check.run()
        } catch let failure as CheckFailure {
            hint = failure.hint
        } catch {
            hint = Hint(
                input: check.summary, expected: "a result",
                got: "the function threw \(type(of: error)): \(error)", tolerance: "—")
        }
        let line = String(
            decoding: (try? JSONEncoder().encode(hint.map { [$0] } ?? [])) ?? Data("[]".utf8), as: UTF8.self)
        print("\n" + resultMarker + line)
        fflush(nil)
        exit(0)
    }

    /// The path of the running executable, to start the child processes from.
    static var executablePath: String {
        #if os(Linux)
            if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return path }
        #endif
        return Bundle.main.executablePath ?? CommandLine.arguments[0]
    }

    /// Runs one check in a child process of this executable, with a time limit.
    static func runInChild(_ a: Assignment, _ c: Check, childArguments: [String], timeLimit: Double) throws
        -> CheckReport
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executablePath)
        process.arguments = childArguments + ["--run-check", a.name, c.id]
        var environment = ProcessInfo.processInfo.environment
        environment["SWIFT_BACKTRACE"] = "enable=no"  // a crash reports its message at once
        process.environment = environment
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let finished = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in finished.signal() }
        let readers = DispatchGroup()
        nonisolated(unsafe) var outData = Data()
        nonisolated(unsafe) var errData = Data()
        let start = Date()
        try process.run()
        DispatchQueue.global().async(group: readers) { outData = out.fileHandleForReading.readDataToEndOfFile() }
        DispatchQueue.global().async(group: readers) { errData = err.fileHandleForReading.readDataToEndOfFile() }
        var timedOut = false
        if finished.wait(timeout: .now() + timeLimit) == .timedOut {
            timedOut = true
            kill(process.processIdentifier, SIGKILL)
            finished.wait()
        }
        readers.wait()
        let seconds = Date().timeIntervalSince(start)
        let stdout = String(decoding: outData, as: UTF8.self)
        let stderr = String(decoding: errData, as: UTF8.self)
        func report(_ hint: Hint?) -> CheckReport {
            CheckReport(id: c.id, task: c.task, points: c.points, passed: hint == nil, seconds: seconds, hint: hint)
        }
        let unknownInput = c.summary
        if timedOut {
            return report(
                Hint(
                    input: unknownInput, expected: "an answer within \(show(timeLimit)) s",
                    got:
                        "no answer: stopped after \(show(timeLimit)) s (an endless loop? an iteration without its budget?)",
                    tolerance: "time limit \(show(timeLimit)) s"))
        }
        if process.terminationReason == .uncaughtSignal {
            let message =
                stderr.split(separator: "\n").first { $0.contains("Fatal error") || $0.contains("error:") }
                .map(String.init) ?? stderr.split(separator: "\n").last.map(String.init) ?? ""
            return report(
                Hint(
                    input: unknownInput, expected: "a result",
                    got: "the code crashed (\(signalName(process.terminationStatus)))"
                        + (message.isEmpty ? "" : ": \(message.trimmingCharacters(in: .whitespaces))"),
                    tolerance: "—"))
        }
        guard let line = stdout.split(separator: "\n").last(where: { $0.hasPrefix(resultMarker) }),
            let hints = try? JSONDecoder().decode([Hint].self, from: Data(line.dropFirst(resultMarker.count).utf8))
        else {
            return report(
                Hint(
                    input: unknownInput, expected: "a result",
                    got: "the check's process ended with status \(process.terminationStatus) before reporting"
                        + (stderr.isEmpty ? "" : ": \(stderr.suffix(300))"),
                    tolerance: "—"))
        }
        return report(hints.first)
    }

    static func signalName(_ signal: Int32) -> String {
        switch signal {
        case SIGILL, SIGTRAP:
            return "signal \(signal), a Swift runtime trap: index out of range, nil unwrapped, overflow, precondition"
        case SIGABRT: return "signal \(signal), abort"
        case SIGSEGV: return "signal \(signal), segmentation fault"
        case SIGFPE: return "signal \(signal), arithmetic exception (integer division by zero?)"
        default: return "signal \(signal)"
        }
    }
}
