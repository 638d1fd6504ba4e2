import Foundation
import Testing
import TutorialPages

/// Where the repository and the built chapter programs are.
enum Repository {
    /// The repository root (this file is Tests/TutorialTests/TutorialTests.swift).
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let tutorials = root.appendingPathComponent("Tutorials")

    /// The folder holding the chapter executables: the test binary's own folder
    /// (.build/<triple>/<configuration>/), where SwiftPM puts every product of the package.
    static let binaries: URL = {
        let name = TutorialChapters.executableName("feedforward")
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent(),
            Bundle.main.bundleURL.deletingLastPathComponent(),
            Bundle.main.bundleURL,
            root.appendingPathComponent(".build/release"),
            root.appendingPathComponent(".build/debug"),
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.appendingPathComponent(name).path) }
            ?? candidates[0]
    }()

    static func chapters() throws -> [(folder: String, source: ChapterSource)] {
        try TutorialChapters.discover(in: tutorials)
    }

    static var chapterFolders: [String] { (try? chapters().map(\.folder)) ?? [] }
}

/// The numbers in a line, in order (`Epoch [3/10], Loss: 0.1070` gives 3, 10, 0.107).
func numbers(in line: String) -> [Double] {
    var out: [Double] = []
    var current = ""
    func flush() {
        if let v = Double(current), current.contains(where: \.isNumber) { out.append(v) }
        current = ""
    }
    for ch in line {
        if ch.isNumber || ch == "." || ch == "e" && !current.isEmpty && current.last!.isNumber
            || (ch == "-" && (current.isEmpty || current.last == "e"))
        {
            current.append(ch)
        } else {
            flush()
        }
    }
    flush()
    return out
}

/// The first line of `lines` that starts with `prefix`, and the numbers after the prefix.
func value(_ lines: [String], _ prefix: String) -> [Double]? {
    lines.first { $0.hasPrefix(prefix) }.map { numbers(in: String($0.dropFirst(prefix.count))) }
}

/// Losses printed as `Epoch [k/N], Loss: v`.
func epochLosses(_ lines: [String]) -> [Double] {
    lines.filter { $0.hasPrefix("Epoch [") }.compactMap { numbers(in: $0).last }
}

// MARK: - Running the chapters

/// Each chapter's quick run, made once and shared by the tests that read it.
final class QuickRuns: @unchecked Sendable {
    static let shared = QuickRuns()
    private let lock = NSLock()
    private var runs: [String: ChapterRun] = [:]

    /// The quick run of `folder`, made (and checked, see ``runQuick(_:)``) on first use.
    func run(_ folder: String) throws -> ChapterRun {
        lock.lock()
        defer { lock.unlock() }
        if let run = runs[folder] { return run }
        let run = try runQuick(folder)
        runs[folder] = run
        return run
    }

    /// Runs a chapter with `--quick`, markers on and figures in a temporary folder, and checks
    /// what every chapter must do: exit 0, announce exactly the steps of its source, write the
    /// figures it reports as PNG files, print no NaN.
    private func runQuick(_ folder: String) throws -> ChapterRun {
        let source = try #require(try Repository.chapters().first { $0.folder == folder }?.source)
        let executable = Repository.binaries.appendingPathComponent(TutorialChapters.executableName(folder))
        try #require(
            FileManager.default.isExecutableFile(atPath: executable.path),
            "missing \(executable.path): build with swift build -c release")
        let results = FileManager.default.temporaryDirectory.appendingPathComponent(
            "tutorial-test-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: results) }
        let result = try TutorialChapters.run(
            executable, arguments: ["--quick"],
            environment: [TutorialMarkers.environmentVariable: "1", TutorialMarkers.resultsVariable: results.path],
            in: Repository.root)
        try #require(result.status == 0, "tutorial-\(folder) --quick failed:\n\(result.standardError)")
        let run = ChapterRun(markedOutput: result.standardOutput)
        #expect(run.steps.map(\.title) == source.steps.map(\.title))
        #expect(run.steps.map(\.number) == Array(1...source.steps.count))
        for figure in run.steps.flatMap(\.figures) {
            let file = results.appendingPathComponent("quick/\(folder)/\(figure)")
            let bytes = try Data(contentsOf: file)
            #expect(bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]), "\(figure) is not a PNG file")
        }
        let words = result.standardOutput.split { !$0.isLetter }
        #expect(!words.contains("nan"), "tutorial-\(folder) printed a NaN")
        return run
    }
}

/// Each chapter runs in quick mode, as a reader would run it, and prints what it should.
@Suite(.serialized) struct ChapterRunTests {
    func runQuick(_ folder: String) throws -> ChapterRun { try QuickRuns.shared.run(folder) }

    /// Every chapter, including one added without checks of its own yet.
    @Test(arguments: Repository.chapterFolders)
    func runsInQuickMode(_ folder: String) throws {
        let run = try runQuick(folder)
        #expect(!run.steps.isEmpty)
        #expect(run.steps.allSatisfy { !$0.lines.isEmpty || !$0.figures.isEmpty }, "every step should show something")
    }

    @Test func feedforwardAgreesWithItsImplicitForm() throws {
        let run = try runQuick("feedforward")
        let same = try #require(run.output(of: "Check that both give the same outputs"))
        let difference = try #require(value(same, "largest difference over 100 samples × 3 outputs:")?.first)
        #expect(difference < 1e-6)
        #expect(same.contains("Picard solve: converged after 3 iterations, residual 0"))
        let structure = try #require(run.output(of: "Look at the block structure"))
        #expect(structure.contains { $0.contains("λ_pf(|A|) = 0 (strictly upper triangular), well-posed") })
        let dense = try #require(run.output(of: "Contrast: a general implicit model with a dense A"))
        let used = try #require(value(dense, "A used in the solve: ‖A‖∞ ="))
        #expect(used[0] <= 0.99 && used[1] < 1)
        #expect(dense.contains { $0.hasPrefix("Picard solve: converged after") })
        #expect(
            run.steps.flatMap(\.figures) == ["feedforward-blocks.png", "dense-blocks.png", "dense-convergence.png"])
    }

    @Test func implicitModelTrainsOnTheNotebooksRegression() throws {
        let run = try runQuick("implicit-model")
        let losses = epochLosses(try #require(run.output(of: "Train with Adam and the MSE loss")))
        #expect(losses.count == 10)
        #expect(losses.allSatisfy { $0.isFinite && $0 > 0 })
        #expect(losses.last! < 0.2 * losses.first!, "the loss should fall well below its start, got \(losses)")
        let inference = try #require(run.output(of: "Run inference on a new sample"))
        #expect(inference.first == "Inference result (10×1):")
        #expect(numbers(in: inference.last ?? "").count == 10)
        let solves = try #require(run.output(of: "Look under the hood: solver statistics and well-posedness"))
        #expect(solves.contains { $0.contains("forward: 11 solves") && $0.contains("backward: 10 solves") })
        #expect(!solves.contains { $0.contains("NOT") })
        #expect(run.steps.flatMap(\.figures) == ["loss.png"])
    }

    @Test func customActivationMatchesTheBuiltInAndTrains() throws {
        let run = try runQuick("custom-activation")
        let check = try #require(run.output(of: "Check the derivative numerically"))
        let derivativeError = try #require(
            value(check, "largest |finite difference − φ′| on 49 points in [-6, 6]:")?.first)
        #expect(derivativeError < 1e-8)
        #expect(value(check, "largest gap to the built-in SiLU (φ and φ′):") == [0])
        // The loss table: epoch, ReLU, my SiLU, built-in SiLU.
        let training = try #require(run.output(of: "Train the notebook's regression with each activation"))
        let rows = training.dropFirst(2).map { numbers(in: $0) }
        #expect(rows.count == 10 && rows.allSatisfy { $0.count == 4 })
        for column in 1...3 {
            #expect(rows.last![column] < 0.2 * rows.first![column], "column \(column) of \(training)")
        }
        #expect(rows.allSatisfy { $0[2] == $0[3] }, "the user's SiLU should train exactly like the built-in one")
        let comparison = try #require(run.output(of: "Compare the models and their solves"))
        #expect(comparison.contains("my SiLU and the built-in SiLU trained identically: true"))
        #expect(
            comparison.filter { $0.contains("0 not converged; backward") && $0.hasSuffix("0 not converged") }.count == 3
        )
        #expect(run.steps.flatMap(\.figures) == ["activations.png", "losses.png"])
    }

    @Test func implicitLayerTrainsEndToEnd() throws {
        let run = try runQuick("implicit-layer")
        let parameters = try #require(run.output(of: "Define a model with an implicit layer inside"))
        #expect(parameters.first == "parameters found: weight 128×64, bias 128×1, A 64×64, B 64×128, C 10×64, D 10×128")
        let regression = try #require(run.output(of: "Train it on the notebook's regression"))
        let losses = epochLosses(regression)
        #expect(losses.count == 10 && losses.last! < 0.2 * losses.first!, "\(losses)")
        let data = try #require(run.output(of: "Load FashionMNIST"))
        #expect(data.first == "training images: 3000, test images: 1000, features: 784")
        let training = try #require(run.output(of: "Train the classifier end to end"))
        let epoch = try #require(training.first { $0.hasPrefix("epoch 1/1:") })
        let accuracy = try #require(numbers(in: epoch).last)
        #expect(accuracy > 60, "3 000 images for one epoch should give well over 60 % test accuracy, got \(epoch)")
        // 47 training steps (3 000 / 64) and one test chunk; every solve converged.
        let solves = try #require(training.first { $0.hasPrefix("  solves:") })
        #expect(solves.contains("forward: 48 solves") && solves.contains("backward: 47 solves"))
        #expect(!solves.contains("NOT") && solves.components(separatedBy: " 0 not converged").count == 3, "\(solves)")
        let statistics = try #require(run.output(of: "Read the solver statistics"))
        #expect(statistics.contains { $0.hasPrefix("last forward solve:  converged") })
        #expect(statistics.contains { $0.hasPrefix("last backward solve: converged") })
        #expect(run.steps.flatMap(\.figures) == ["training-loss.png", "predictions.png"])
        // The timing is printed as a volatile line, so that the page leaves it out.
        #expect(run.steps.flatMap(\.volatile).count == 1)
    }

    @Test func rnnTrainsOnTheNotebooksRegressionAndTheSpikySeries() throws {
        let run = try runQuick("rnn")
        let model = try #require(run.output(of: "Create the ImplicitRNN"))
        // The cell's implicit layer takes [x_t; h_{t−1}]: 1 + 10 inputs.
        #expect(model.contains("implicit layer of the cell: A 10×10, B 10×11, C 10×10, D 10×11"))
        let regression = try #require(run.output(of: "Train on the notebook's regression"))
        let losses = epochLosses(regression)
        #expect(losses.count == 10 && losses.allSatisfy { $0.isFinite && $0 > 0 })
        #expect(losses.last! < losses.first!, "the loss should fall, got \(losses)")
        #expect(regression.contains { $0.contains("0 not converged; backward") && $0.hasSuffix("0 not converged") })
        let data = try #require(run.output(of: "Load the spiky time series"))
        #expect(data.contains("training windows: 1000, test windows: 500, each 59 steps of 1 feature"))
        // Training MSE lines: "epoch k/N: training MSE v", for the ImplicitRNN and the LSTM.
        for title in ["Train an ImplicitRNN on the series", "Compare with an LSTM"] {
            let lines = try #require(run.output(of: title))
            let mse = lines.filter { $0.hasPrefix("epoch ") }.compactMap { numbers(in: $0).last }
            #expect(mse.count >= 2 && mse.last! < mse.first!, "\(title): the training MSE should fall, got \(mse)")
        }
        let evaluation = try #require(run.output(of: "Evaluate on the test windows"))
        let r2 = try #require(value(evaluation, "ImplicitRNN test R²:")?.first)
        #expect(r2 > 0 && r2 < 1, "five quick epochs should already beat predicting the mean, got R² = \(r2)")
        #expect(run.steps.flatMap(\.figures) == ["series-loss.png", "series-predictions.png"])
        #expect(run.steps.flatMap(\.volatile).count == 2)
    }

    @Test func simFitsAWellPosedSparseModel() throws {
        let run = try runQuick("sim")
        let teacher = try #require(run.output(of: "Train the teacher network"))
        let teacherAccuracy = try #require(
            teacher.first { $0.hasPrefix("Test epoch 1:") }.flatMap { numbers(in: $0).last })
        #expect(teacherAccuracy > 55, "one epoch on 5 000 images, got \(teacherAccuracy) %")
        let rescale = try #require(run.output(of: "Rescale the teacher for well-posedness"))
        let norms = try #require(value(rescale, "‖W‖∞ of the layers now:"))
        #expect(norms.count == 4 && norms[1] <= 0.99 + 1e-6 && norms[2] <= 0.99 + 1e-6, "\(norms)")
        let before = try #require(value(rescale, "test accuracy before"))
        #expect(before.count == 2 && before[0] == before[1], "rescaling must not change the predictions: \(before)")
        let states = try #require(run.output(of: "Extract the teacher's states"))
        #expect(states.contains("state blocks, last layer first: [16, 32, 64]"))
        #expect(states.contains { $0.hasPrefix("samples m = 300:") && $0.contains("states X 112×300") })
        let fit = try #require(run.output(of: "Fit a SIM model with the exact solver"))
        let accuracy = try #require(value(fit, "SIM test accuracy:")?.first)
        #expect(accuracy > 50, "the SIM model should be far above chance, got \(accuracy) %")
        let size = try #require(value(fit, "nonzeros:"))
        // nonzeros, teacher's weights, ∞, ‖A‖∞ (the "∞" is not a number): the last is ‖A‖∞.
        #expect(size[0] > 0 && size[0] < 52_896, "SIM should be sparser than the teacher: \(size)")
        #expect(size.last! <= 0.99 + 1e-9, "‖A‖∞ must respect the constraint, got \(size.last!)")
        #expect(fit.contains { $0.contains("well-posed") })
        let comparison = try #require(run.output(of: "Compare with least squares and magnitude pruning"))
        #expect(comparison.contains { $0.hasPrefix("least squares on 300 samples, 896 unknowns per row: ‖A‖∞ =") })
        #expect(comparison.contains { $0.contains("SIM, exact solver") })
        let sweep = try #require(run.output(of: "Trade accuracy for sparsity"))
        let sweepRows = sweep.filter { $0.first?.isWhitespace == true || $0.first?.isNumber == true }.map {
            numbers(in: $0)
        }
        .filter { $0.count == 5 }
        #expect(sweepRows.count == 2, "two values of λ_state in quick mode: \(sweep)")
        if sweepRows.count == 2 {
            #expect(sweepRows[1][1] < sweepRows[0][1], "a larger λ_state should give fewer nonzeros")
        }
        let robustness = try #require(run.output(of: "Robustness: FGSM attacks and Lipschitz bounds"))
        #expect(robustness.contains("accuracy under FGSM on 200 test images:"))
        let constants = try #require(value(robustness, "certified ℓ∞ Lipschitz constants: SIM"))
        #expect(constants.count == 2 && constants.allSatisfy { $0.isFinite && $0 > 0 }, "\(constants)")
        #expect(run.steps.flatMap(\.figures) == ["sparsity-accuracy.png", "spy-A.png", "spy-B.png"])
    }
}

// MARK: - Pages

/// The committed pages and the chapter table agree with the sources.
///
/// A page's output regions come from a full run on the machine that generated it, and their
/// last digits may differ on another BLAS or CPU; so this test compares everything *outside*
/// the output regions (title, introduction, headings, prose, code, closing exercises, and
/// the number and place of the output regions) by regenerating the page from main.swift in
/// memory. Outputs are checked by ``ChapterRunTests`` instead.
@Suite struct PageStalenessTests {
    @Test(arguments: Repository.chapterFolders)
    func pageMatchesSource(_ folder: String) throws {
        let source = try #require(try Repository.chapters().first { $0.folder == folder }?.source)
        let url = Repository.tutorials.appendingPathComponent("\(folder)/README.md")
        let committed = try #require(
            try? String(contentsOf: url, encoding: .utf8),
            "Tutorials/\(folder)/README.md is missing: run swift run -c release tutorial-pages")
        let expected = try PageWeaver.page(for: folder, source: source, run: nil)
        let a = PageWeaver.maskingOutputs(committed).split(separator: "\n", omittingEmptySubsequences: false)
        let b = PageWeaver.maskingOutputs(expected).split(separator: "\n", omittingEmptySubsequences: false)
        let firstDifference = (0..<min(a.count, b.count)).first { a[$0] != b[$0] } ?? min(a.count, b.count)
        let current = a == b  // (compared outside #expect, which would print both pages in full)
        #expect(
            current,
            """
            Tutorials/\(folder)/README.md is stale (regenerate with swift run -c release tutorial-pages); \
            first difference at line \(firstDifference + 1): \
            page has "\(firstDifference < a.count ? a[firstDifference] : "<end>")", \
            source gives "\(firstDifference < b.count ? b[firstDifference] : "<end>")"
            """)
        // Every figure the page shows was committed.
        for line in committed.split(separator: "\n") where line.hasPrefix("![") {
            let path = line.split(separator: "(").last!.dropLast()
            let figure = Repository.tutorials.appendingPathComponent(folder).appendingPathComponent(String(path))
                .standardized
            #expect(
                FileManager.default.fileExists(atPath: figure.path),
                "\(folder): the page shows \(path), which does not exist")
        }
    }

    @Test func chapterTableIsCurrent() throws {
        let url = Repository.tutorials.appendingPathComponent("README.md")
        let readme = try String(contentsOf: url, encoding: .utf8)
        let regenerated = try PageWeaver.replacingIndex(in: readme, with: PageWeaver.index(try Repository.chapters()))
        #expect(
            readme == regenerated,
            "the chapter table of Tutorials/README.md is stale: run swift run -c release tutorial-pages")
        #expect(Repository.chapterFolders.count >= 4)
    }
}

// MARK: - The weaver itself

@Suite struct WeaverTests {
    static let sample = """
        // # Chapter 9 · A sample
        //
        // Intro *prose*.
        import IDL
        let tutorial = Tutorial("sample")

        // Prose of the first step.
        //
        // Second paragraph.
        step("First \\"step\\"")
        let a = 1
        // a code comment stays in the code

        print(a)

        // Prose of the second step.
        step("Second")
        print(2)

        // ## Exercises
        // 1. Do something.

        """

    @Test func readsTheLiterateLayout() throws {
        let source = try ChapterSource(text: Self.sample)
        #expect(source.title == "Chapter 9 · A sample")
        #expect(source.number == 9)
        #expect(source.introduction == ["Intro *prose*."])
        #expect(source.setup == ["import IDL", "let tutorial = Tutorial(\"sample\")"])
        #expect(source.steps.map(\.title) == ["First \"step\"", "Second"])
        #expect(source.steps[0].prose == ["Prose of the first step.", "", "Second paragraph."])
        #expect(source.steps[0].code == ["let a = 1", "// a code comment stays in the code", "", "print(a)"])
        #expect(source.steps[1].code == ["print(2)"])
        #expect(source.closing == ["## Exercises", "1. Do something."])
    }

    @Test func rejectsFilesWithoutTitleOrSteps() {
        #expect(throws: ChapterSource.LayoutError.self) { try ChapterSource(text: "import IDL\nstep(\"x\")\n") }
        #expect(throws: ChapterSource.LayoutError.self) { try ChapterSource(text: "// # Chapter 1 · T\nprint(1)\n") }
        #expect(throws: ChapterSource.LayoutError.self) { try ChapterSource(text: "// # Chapter 1 · T\nstep(title)\n") }
    }

    @Test func splitsMarkedOutputPerStep() {
        let output = [
            "", TutorialMarkers.step(1, "First"), "", TutorialMarkers.heading(1, "First"), "one", "",
            TutorialMarkers.volatile("0.3 s"), TutorialMarkers.figure("a.png"), "Figure written to a.png",
            TutorialMarkers.step(2, "Second"), TutorialMarkers.heading(2, "Second"), "two", "",
        ].joined(separator: "\n")
        let run = ChapterRun(markedOutput: output)
        #expect(run.preamble.isEmpty)
        #expect(run.steps.map(\.title) == ["First", "Second"])
        #expect(run.steps[0].lines == ["one", "", "Figure written to a.png"])
        #expect(run.steps[0].figures == ["a.png"])
        #expect(run.steps[0].volatile == ["0.3 s"])
        #expect(run.steps[1].lines == ["two"])
    }

    @Test func weavesAndMasksPages() throws {
        let source = try ChapterSource(text: Self.sample)
        let run = ChapterRun(
            markedOutput: [
                TutorialMarkers.step(1, "First \"step\""), "1",
                TutorialMarkers.figure("f.png"),
                TutorialMarkers.step(2, "Second"), "2",
            ].joined(separator: "\n"))
        let page = try PageWeaver.page(for: "sample", source: source, run: run)
        #expect(page.contains("## Step 1 · First \"step\"\n\nProse of the first step."))
        #expect(page.contains("```swift\nlet a = 1\n"))
        #expect(page.contains("```text\n1\n```"))
        #expect(page.contains("![f.png](../../results/tutorials/sample/f.png)"))
        #expect(page.hasSuffix("## Exercises\n1. Do something.\n"))
        // Outputs do not count for staleness, prose does.
        let empty = try PageWeaver.page(for: "sample", source: source, run: nil)
        #expect(empty != page)
        #expect(PageWeaver.maskingOutputs(empty) == PageWeaver.maskingOutputs(page))
        let edited = try ChapterSource(
            text: Self.sample.replacingOccurrences(of: "Second paragraph.", with: "Changed."))
        let editedPage = try PageWeaver.page(for: "sample", source: edited, run: nil)
        #expect(PageWeaver.maskingOutputs(editedPage) != PageWeaver.maskingOutputs(page))
    }

    @Test func refusesARunWithOtherSteps() throws {
        let source = try ChapterSource(text: Self.sample)
        let stale = ChapterRun(markedOutput: TutorialMarkers.step(1, "First \"step\""))
        #expect(throws: PageWeaver.MismatchError.self) {
            try PageWeaver.page(for: "sample", source: source, run: stale)
        }
    }

    @Test func readsNumbersFromPrintedLines() {
        #expect(numbers(in: "Epoch [3/10], Loss: 0.1070") == [3, 10, 0.107])
        #expect(numbers(in: "difference: 1.19e-07, next -0.5") == [1.19e-07, -0.5])
    }
}
