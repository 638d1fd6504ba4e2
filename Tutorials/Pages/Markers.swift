/// The line protocol between a tutorial program and the page weaver.
///
/// A chapter run with `IDL_TUTORIAL_MARKERS=1` in its environment prints, besides its ordinary
/// output, one machine-readable line at each of these events:
///
///     @@tutorial step 3 Train the model     a new step begins (number, then title)
///     @@tutorial figure loss.png            a figure was written (name inside the chapter's folder)
///     @@tutorial volatile 1.3 s per epoch   a line that differs between runs (timings)
///
/// Without the variable, volatile lines are printed plainly and the other markers are not
/// printed at all, so a reader running a chapter by hand sees clean output.
public enum TutorialMarkers {
    /// The environment variable that turns the markers on (value `1`).
    public static let environmentVariable = "IDL_TUTORIAL_MARKERS"
    /// The environment variable that moves the results directory (default `results/tutorials`).
    public static let resultsVariable = "IDL_TUTORIAL_RESULTS"
    /// The default results directory, relative to the repository root.
    public static let defaultResults = "results/tutorials"
    /// The start of every marker line.
    public static let prefix = "@@tutorial "

    /// The marker line that opens step `number` (1-based).
    public static func step(_ number: Int, _ title: String) -> String { "\(prefix)step \(number) \(title)" }
    /// The marker line for a figure written as `name` in the chapter's results folder.
    public static func figure(_ name: String) -> String { "\(prefix)figure \(name)" }
    /// The marker line for output that changes from run to run.
    public static func volatile(_ text: String) -> String { "\(prefix)volatile \(text)" }

    /// The heading a step prints for the reader (the weaver leaves it out of the page, whose
    /// own heading says the same).
    public static func heading(_ number: Int, _ title: String) -> String {
        "━━ Step \(number) · \(title) ━━"
    }
}

/// What one run of a chapter printed, split per step by the markers.
public struct ChapterRun: Equatable, Sendable {
    /// One step's share of the output.
    public struct Step: Equatable, Sendable {
        /// The step number the program announced (1-based).
        public var number: Int
        /// The title the program announced.
        public var title: String
        /// The printed lines, without the heading, markers and volatile lines; blank lines at
        /// either end removed.
        public var lines: [String]
        /// Names of the figures written during the step.
        public var figures: [String]
        /// The volatile lines (timings), kept for whoever wants them.
        public var volatile: [String]
    }

    /// Lines printed before the first step (usually none).
    public var preamble: [String]
    /// The steps, in the order printed.
    public var steps: [Step]

    /// Splits marked output into steps.
    public init(markedOutput: String) {
        var preamble: [String] = []
        var steps: [Step] = []
        for line in markedOutput.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix(TutorialMarkers.prefix) {
                let rest = line.dropFirst(TutorialMarkers.prefix.count)
                if rest.hasPrefix("step ") {
                    let body = rest.dropFirst("step ".count)
                    let parts = body.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
                    let number = Int(parts.first ?? "") ?? steps.count + 1
                    let title = parts.count > 1 ? String(parts[1]) : ""
                    steps.append(Step(number: number, title: title, lines: [], figures: [], volatile: []))
                } else if rest.hasPrefix("figure "), !steps.isEmpty {
                    steps[steps.count - 1].figures.append(String(rest.dropFirst("figure ".count)))
                } else if rest.hasPrefix("volatile "), !steps.isEmpty {
                    steps[steps.count - 1].volatile.append(String(rest.dropFirst("volatile ".count)))
                }
                continue
            }
            if var last = steps.popLast() {
                if line != TutorialMarkers.heading(last.number, last.title) { last.lines.append(line) }
                steps.append(last)
            } else {
                preamble.append(line)
            }
        }
        self.preamble = trimBlankLines(preamble)
        self.steps = steps.map { s in
            var s = s
            s.lines = trimBlankLines(s.lines)
            return s
        }
    }

    /// The printed lines of the step with this title (nil if there is none).
    public func output(of title: String) -> [String]? { steps.first { $0.title == title }?.lines }

    /// All printed lines of all steps, in order.
    public var allLines: [String] { preamble + steps.flatMap(\.lines) }
}

/// `lines` without blank lines at the start and the end.
func trimBlankLines(_ lines: [String]) -> [String] {
    var a = lines[...]
    while let f = a.first, f.allSatisfy(\.isWhitespace) { a.removeFirst() }
    while let l = a.last, l.allSatisfy(\.isWhitespace) { a.removeLast() }
    return Array(a)
}
