import Foundation

/// What a failed check tells the student: the input it used, what was expected, what came
/// back, and the tolerance of the comparison.
public struct Hint: Codable, Sendable, Equatable, CustomStringConvertible {
    /// The input the check gave the student's function.
    public var input: String
    /// What the check expected.
    public var expected: String
    /// What came back (a value, an error that was thrown, a crash or a time-out).
    public var got: String
    /// The tolerance of the comparison ("exact" when there is none).
    public var tolerance: String

    /// A hint with the four parts.
    public init(input: String, expected: String, got: String, tolerance: String) {
        self.input = input
        self.expected = expected
        self.got = got
        self.tolerance = tolerance
    }

    public var description: String {
        "input: \(input); expected: \(expected); got: \(got); tolerance: \(tolerance)"
    }
}

/// Thrown by a check when the student's answer is wrong.
public struct CheckFailure: Error {
    /// Why.
    public var hint: Hint
    /// A failure with the four parts of a hint.
    public init(input: String, expected: String, got: String, tolerance: String = "exact") {
        hint = Hint(input: input, expected: expected, got: got, tolerance: tolerance)
    }
}

/// One graded check: a task of an assignment, the points it is worth, and the code that runs
/// the student's function on one input and compares the answer. The body throws
/// ``CheckFailure`` for a wrong answer; any other error it lets through (the student's "not
/// implemented", say) also fails the check.
public struct Check {
    /// Short identifier, unique within the assignment (`picard-fixture`).
    public var id: String
    /// The task of the handout it belongs to (`1 · Picard iteration`).
    public var task: String
    /// Points for passing.
    public var points: Int
    /// What the check does, in a few words (printed by `grade --list`).
    public var summary: String
    /// Runs the check.
    public var run: () throws -> Void

    /// A check; see the properties.
    public init(id: String, task: String, points: Int, summary: String, run: @escaping () throws -> Void) {
        self.id = id
        self.task = task
        self.points = points
        self.summary = summary
        self.run = run
    }
}

/// An assignment as the grader sees it: a name (its folder under Tutorials/assignments), a
/// title, and its checks bound to one implementation (the starter, the reference, a planted bug).
public struct Assignment {
    /// The folder name, which is also the name given to `grade`.
    public var name: String
    /// The handout's title.
    public var title: String
    /// The checks, in the order of the handout's tasks.
    public var checks: [Check]

    /// An assignment; see the properties.
    public init(name: String, title: String, checks: [Check]) {
        self.name = name
        self.title = title
        self.checks = checks
    }

    /// The points of all checks.
    public var maxScore: Int { checks.reduce(0) { $0 + $1.points } }
}
