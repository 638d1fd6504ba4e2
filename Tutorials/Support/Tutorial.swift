import Foundation
import IDL
import IDLPlot
import TutorialPages

/// The running chapter: its name, whether it runs in quick mode, where its figures go.
///
/// ```swift
/// let tutorial = Tutorial("feedforward")        // reads --quick from the command line
/// step("Build the network")                      // prints a heading
/// try tutorial.save(plot, as: "loss.png")        // results/tutorials/feedforward/loss.png and loss.pdf
/// ```
public struct Tutorial: Sendable {
    /// The chapter's folder name, e.g. `feedforward`.
    public let chapter: String
    /// Whether `--quick` was given: smaller data, fewer epochs, so that all chapters together
    /// run in seconds (the test suite runs them this way).
    public let isQuick: Bool
    /// Where the figures are written: `results/tutorials/<chapter>/` (relative to the current
    /// directory, which should be the repository root), or `results/tutorials/quick/<chapter>/`
    /// in quick mode so that a quick run does not overwrite the figures of the pages. The
    /// environment variable `IDL_TUTORIAL_RESULTS` replaces `results/tutorials`.
    public let resultsDirectory: URL
    /// Whether marker lines are printed (`IDL_TUTORIAL_MARKERS=1`, set by the page weaver).
    public let printsMarkers: Bool

    /// Reads the command line (`--quick`, `--help`) and the environment.
    public init(
        _ chapter: String, arguments: [String] = CommandLine.arguments,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) {
        let flags = arguments.dropFirst()
        if flags.contains("--help") || flags.contains("-h") {
            print("usage: tutorial-\(chapter) [--quick]\n  --quick  a shorter run (smaller data, fewer epochs)")
            exit(0)
        }
        if let unknown = flags.first(where: { $0 != "--quick" }) {
            FileHandle.standardError.write(
                Data("tutorial-\(chapter): unknown argument \(unknown); the only option is --quick\n".utf8))
            exit(2)
        }
        self.chapter = chapter
        isQuick = flags.contains("--quick")
        printsMarkers = environment[TutorialMarkers.environmentVariable] == "1"
        let base =
            environment[TutorialMarkers.resultsVariable].flatMap { $0.isEmpty ? nil : $0 }
            ?? TutorialMarkers.defaultResults
        resultsDirectory = URL(fileURLWithPath: base, isDirectory: true)
            .appendingPathComponent(isQuick ? "quick/\(chapter)" : chapter, isDirectory: true)
        TutorialState.current.printsMarkers = printsMarkers
    }

    /// `full` or `quick`, whichever `isQuick` says: `tutorial.choose(full: 60_000, quick: 5_000)`.
    public func choose<V>(full: V, quick: V) -> V { isQuick ? quick : full }

    /// Writes `figure` as a PNG file named `name` (sizes in points, 2 pixels per point) and, beside
    /// it, as a PDF of the same name into ``resultsDirectory`` (created if missing), and prints
    /// where they went.
    /// - Returns: the PNG file's URL.
    @discardableResult
    public func save(_ figure: some Figure, as name: String, width: Int = 800, height: Int = 500) throws -> URL {
        try FileManager.default.createDirectory(at: resultsDirectory, withIntermediateDirectories: true)
        let url = resultsDirectory.appendingPathComponent(name)
        let urls = try figure.write(to: url, formats: [.png, .pdf], width: width, height: height)
        if printsMarkers { print(TutorialMarkers.figure(urls[0].lastPathComponent)) }
        print("Figure written to \(displayPath(urls[0])) (and .pdf)")
        return urls[0]
    }

    /// The path relative to the current directory when it lies inside it.
    func displayPath(_ url: URL) -> String {
        let cwd = FileManager.default.currentDirectoryPath + "/"
        return url.path.hasPrefix(cwd) ? String(url.path.dropFirst(cwd.count)) : url.path
    }
}

/// The step counter (one chapter per process).
final class TutorialState: @unchecked Sendable {
    static let current = TutorialState()
    private let lock = NSLock()
    private var _step = 0
    private var _markers = ProcessInfo.processInfo.environment[TutorialMarkers.environmentVariable] == "1"

    var printsMarkers: Bool {
        get { lock.withLock { _markers } }
        set { lock.withLock { _markers = newValue } }
    }

    func nextStep() -> Int {
        lock.withLock {
            _step += 1
            return _step
        }
    }
}

/// Begins the next step of the chapter: prints a visible heading (and, for the page weaver, a
/// marker line). The weaver splits the chapter's source at these calls, so the title must be a
/// plain string literal on a line of its own, starting in column 0.
public func step(_ title: String) {
    let number = TutorialState.current.nextStep()
    if TutorialState.current.printsMarkers { print(TutorialMarkers.step(number, title)) }
    print("")
    print(TutorialMarkers.heading(number, title))
}

/// Prints a line that changes from run to run (a timing). The page weaver leaves it out, so
/// the pages stay the same from one run to the next.
public func volatile(_ text: String) {
    print(TutorialState.current.printsMarkers ? TutorialMarkers.volatile(text) : text)
}
