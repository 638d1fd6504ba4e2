import Foundation
import Testing
import TutorialPages

/// The course assignments' graders (Tutorials/assignments): `grade` bound to the starter code,
/// `grade-reference` bound to the reference solutions or to a reference with a planted bug.
@Suite struct AssignmentTests {
    /// Runs a grader with `arguments` plus `--json FILE`; returns its status, output and score file.
    func grade(_ program: String, _ arguments: [String]) throws -> (
        status: Int32, output: String, report: [String: Any]?
    ) {
        let json = FileManager.default.temporaryDirectory.appendingPathComponent(
            "idl-grade-\(UInt64.random(in: 0..<UInt64.max)).json")
        defer { try? FileManager.default.removeItem(at: json) }
        let executable = Repository.binaries.appendingPathComponent(program)
        let run = try TutorialChapters.run(
            executable, arguments: arguments + ["--json", json.path], in: Repository.root)
        let report = (try? Data(contentsOf: json)).flatMap {
            try? JSONSerialization.jsonObject(with: $0) as? [String: Any]
        }
        return (run.status, run.standardOutput + run.standardError, report)
    }

    /// The checks of a score file: (assignment, id, points, passed, the hint's four parts).
    func checks(_ report: [String: Any]?) -> [(assignment: String, id: String, points: Int, passed: Bool, hint: String)]
    {
        var out: [(assignment: String, id: String, points: Int, passed: Bool, hint: String)] = []
        for a in report?["assignments"] as? [[String: Any]] ?? [] {
            for c in a["checks"] as? [[String: Any]] ?? [] {
                let hint = c["hint"] as? [String: String] ?? [:]
                let parts = ["input", "expected", "got", "tolerance"].map { key in "\(key): \(hint[key] ?? "")" }
                out.append(
                    (
                        a["assignment"] as? String ?? "", c["id"] as? String ?? "", c["points"] as? Int ?? 0,
                        c["passed"] as? Bool ?? false, hint.isEmpty ? "" : parts.joined(separator: "; ")
                    ))
            }
        }
        return out
    }

    static let assignments = ["forward-solve", "implicit-differentiation", "sim-row", "robustness"]

    @Test func eachStarterScoresZeroAndEveryCheckReportsNotImplemented() throws {
        let r = try grade("grade", ["all"])
        #expect(r.status == 1, "\(r.output)")
        #expect(r.report?["score"] as? Int == 0)
        #expect((r.report?["maxScore"] as? Int ?? 0) > 0)
        let all = checks(r.report)
        #expect(Set(all.map(\.assignment)) == Set(Self.assignments))
        for c in all {
            #expect(!c.passed && c.hint.contains("NotImplemented"), "\(c.assignment)/\(c.id): \(c.hint)")
        }
    }

    @Test func eachReferenceSolutionScoresFullPoints() throws {
        let r = try grade("grade-reference", ["all", "--time-limit", "120"])
        #expect(r.status == 0, "\(r.output)")
        let all = checks(r.report)
        #expect(Set(all.map(\.assignment)) == Set(Self.assignments))
        for c in all where !c.passed { Issue.record("\(c.assignment)/\(c.id) failed: \(c.hint)") }
        #expect(r.report?["score"] as? Int == r.report?["maxScore"] as? Int)
    }

    /// Each planted bug, its assignment, the checks that must catch it, and what their hints
    /// say (a time-out and a trap are failed checks, not a crashed grader).
    static let plantedBugs: [(bug: String, assignment: String, caughtBy: Set<String>, hint: String)] = [
        ("no-iteration-budget", "forward-solve", ["picard-no-convergence"], "got: no answer: stopped after 3 s"),
        (
            "adjoint-sign", "implicit-differentiation",
            [
                "adjoint-random", "adjoint-slow-contraction", "grad-fixture-A", "grad-fixture-B", "grad-fixture-U",
                "grad-bias-fixture", "grad-random-batch",
            ], "(the entry furthest off)"
        ),
        ("l1-radius-zero-trap", "sim-row", ["l1-edge"], "got: the code crashed (signal"),
        (
            "gap-without-ball-term", "sim-row", ["gap-at-optimum", "gap-formula", "solve-fixture", "solve-random"],
            "gap"
        ),
        ("fgsm-no-clip", "robustness", ["fgsm-clipping"], "expected: entry ["),
    ]

    @Test(arguments: plantedBugs.indices)
    func aPlantedBugLosesExactlyThePointsOfTheChecksThatCatchIt(_ k: Int) throws {
        let bug = Self.plantedBugs[k]
        // A short limit where the bug is an endless loop, a generous one elsewhere (a loaded CI machine).
        let limit = bug.bug == "no-iteration-budget" ? "3" : "120"
        let r = try grade("grade-reference", [bug.assignment, "--planted-bug", bug.bug, "--time-limit", limit])
        #expect(r.status == 1, "\(r.output)")
        let all = checks(r.report)
        #expect(!all.isEmpty, "\(r.output)")
        let failed = all.filter { !$0.passed }
        #expect(Set(failed.map(\.id)) == bug.caughtBy, "\(bug.bug)")
        let lost = failed.reduce(0) { $0 + $1.points }
        #expect(lost > 0)
        #expect((r.report?["maxScore"] as? Int).map { $0 - lost } == r.report?["score"] as? Int)
        for c in failed { #expect(c.hint.contains(bug.hint), "\(bug.bug) \(c.id): \(c.hint)") }
    }

    @Test func usageErrorsStopWithStatus2AndAMessage() throws {
        for (arguments, message) in [
            (["no-such-assignment"], "no assignment named no-such-assignment"),
            (["forward-solve", "--time-limit", "-1"], "--time-limit needs a positive number"),
            (["forward-solve", "--only", "no-such-check"], "no check no-such-check"),
            (["--bogus"], "unknown option --bogus"),
        ] {
            let r = try grade("grade", arguments)
            #expect(r.status == 2 && r.output.contains(message), "\(arguments): \(r.output)")
            #expect(r.report == nil, "no score file for a usage error")
        }
        let r = try grade("grade-reference", ["sim-row", "--planted-bug", "no-such-bug"])
        #expect(r.status == 2 && r.output.contains("--planted-bug needs one of"), "\(r.output)")
    }
}
