import Foundation
import IDL
import IDLPlot

// `idl reproduce --verify`: regenerate into a temporary folder and compare with the committed results.

/// How far a regenerated cell may lie from the committed one. The one place where tolerances
/// are declared: by column header, for results made on a different CPU or with different BLAS
/// kernels. On the same CPU and kernels every cell but the timings must be identical.
enum CellTolerance: CustomStringConvertible {
    /// A label or a count fixed by the code (model names, λ, ε, parameter counts): always equal.
    case exact
    /// A timing: never compared.
    case timing
    /// |regenerated − committed| ≤ the bound (e.g. accuracy in points).
    case absolute(Double)
    /// |regenerated − committed| ≤ the fraction × |committed|.
    case relative(Double)
    /// Equal when the committed value is the bound of a constraint (‖A‖∞ = κ), otherwise relative.
    case exactAtBound(Double, otherwise: Double)

    var description: String {
        switch self {
        case .exact: return "exact"
        case .timing: return "timing, skipped"
        case .absolute(let b): return "± \(formatScalar(b))"
        case .relative(let f): return "± \(formatScalar(100 * f)) %"
        case .exactAtBound(let b, let f): return "exact at \(formatScalar(b)), else ± \(formatScalar(100 * f)) %"
        }
    }

    /// The tolerance of a column on another CPU or BLAS (see the type).
    static func acrossMachines(column: String) -> CellTolerance {
        let declared: [String: CellTolerance] = [
            // Accuracies on thousands of test images, in points.
            "test accuracy (%)": .absolute(0.5),
            "ImplicitRNN accuracy (%)": .absolute(2), "LSTM accuracy (%)": .absolute(2),
            // Accuracies under attack, on 200 (quick) to 1 000 images: a few images either way.
            "FGSM (%)": .absolute(2), "PGD-10 (%)": .absolute(2), "certified (%)": .absolute(2),
            "converged (%)": .absolute(2),
            // Sparsity.
            "nonzeros": .relative(0.02), "% of teacher's nonzeros": .relative(0.02),
            // ‖A‖∞ is the constraint κ = 0.99 for the constrained fits; free otherwise.
            "‖A‖∞": .exactAtBound(0.99, otherwise: 0.1),
            "mean forward iterations": .relative(0.1), "mean backward iterations": .relative(0.1),
            "certified L∞ Lipschitz": .relative(0.05),
            // sim-robust: the summary's PGD column, and norms that sit at their cap or near it.
            "PGD-10 (%) at ε = 0.05": .absolute(2), "‖B‖∞": .relative(0.05), "‖C‖∞": .relative(0.05),
            "‖D‖∞": .relative(0.05), "κ": .exact, "B cap": .exact, "C cap": .exact, "D cap": .exact,
            "test R²": .absolute(0.02), "test MAPE": .relative(0.1),
            // The teacher's state scales per layer (sim-baselines' state-scales table).
            "rescaling factor of the states": .relative(0.05), "state RMS": .relative(0.05),
            "state RMS before rescaling": .relative(0.05), "layer": .exact, "states": .exact,
            // Labels and counts fixed by the code.
            "model": .exact, "method": .exact, "solver": .exact, "workload": .exact, "note": .exact,
            "λ_state": .exact, "ε": .exact, "parameters": .exact, "test range factor": .exact,
            // The speed table: all of it timings, ours and the reference's.
            "this package": .timing, "reference (same machine)": .timing, "reference (machine, date)": .timing,
        ]
        if let t = declared[column] { return t }
        // "<quantity> std", the sample standard deviation over seeds of the column "<quantity> (%)"
        // (or "<quantity>"): if each of n ≥ 2 values may move by b, their standard deviation moves
        // by at most b·√(n/(n − 1)) (≤ 1.23 b for n ≥ 3, the seeds of a full run), so 1.25 b.
        if column.hasSuffix(" std") {
            let base = String(column.dropLast(4))
            for name in [base + " (%)", base] {
                if case .absolute(let b) = declared[name] { return .absolute(1.25 * b) }
            }
        }
        // Other standard deviations over seeds (e.g. "PGD-10 std at ε 0.05"): in points of accuracy.
        if column.hasSuffix(" std") || column.contains(" std at ") { return .absolute(2) }
        // Timings by their unit.
        for unit in ["(s)", "ms/step", "s/epoch", "GFLOP/s", "(ms)"] where column.contains(unit) { return .timing }
        return .exact
    }

    /// Whether `regenerated` passes against `committed`.
    func accepts(committed: String, regenerated: String) -> Bool {
        if committed == regenerated { return true }
        switch self {
        case .exact: return false
        case .timing: return true
        default: break
        }
        guard let c = Double(committed), let r = Double(regenerated) else { return false }
        switch self {
        case .absolute(let b): return abs(r - c) <= b + 1e-12
        case .relative(let f): return abs(r - c) <= f * abs(c) + 1e-12
        case .exactAtBound(let bound, let f): return c == bound ? false : abs(r - c) <= f * abs(c) + 1e-12
        default: return false
        }
    }
}

/// The comparison of a regenerated results folder with the committed one.
struct ResultsComparison {
    struct Line {
        var file: String
        var cell: String
        var committed: String
        var regenerated: String
        var tolerance: String
        var verdict: String
        var failed: Bool
    }
    var lines: [Line] = []
    var identicalCells = 0
    var failures: Int { lines.filter(\.failed).count }

    /// Compares every file of `regenerated` (recursively, MANIFEST.json aside) with the file of the
    /// same relative path under `committed`. With `sameArithmetic`, every non-timing cell and every
    /// file must be identical; otherwise tables use ``CellTolerance/acrossMachines(column:)`` and
    /// PNG figures a perceptual comparison.
    mutating func compare(committed: URL, regenerated: URL, sameArithmetic: Bool) throws {
        let files =
            FileManager.default.enumerator(at: regenerated, includingPropertiesForKeys: nil)?
            .compactMap { $0 as? URL }
            .filter { (try? $0.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true } ?? []
        let base = regenerated.standardizedFileURL.resolvingSymlinksInPath().path
        for file in files.sorted(by: { $0.path < $1.path }) {
            let full = file.standardizedFileURL.resolvingSymlinksInPath().path
            let relative = String(full.dropFirst(base.count + 1))
            if relative == "MANIFEST.json" { continue }
            let old = committed.appendingPathComponent(relative)
            guard FileManager.default.fileExists(atPath: old.path) else {
                lines.append(
                    Line(
                        file: relative, cell: "—", committed: "(missing)", regenerated: "written", tolerance: "—",
                        verdict: "FAIL: not in the committed results", failed: true))
                continue
            }
            switch file.pathExtension {
            case "csv": try compareTables(relative, old, file, sameArithmetic: sameArithmetic)
            case "md": continue  // the Markdown renders the CSV's cells (plus the manifest line)
            case "png": try compareImages(relative, old, file, sameArithmetic: sameArithmetic)
            default:
                let same = try Data(contentsOf: old) == Data(contentsOf: file)
                if same {
                    identicalCells += 1
                } else {
                    lines.append(
                        Line(
                            file: relative, cell: "bytes", committed: "—", regenerated: "differ",
                            tolerance: sameArithmetic ? "exact" : "not compared across machines",
                            verdict: sameArithmetic ? "FAIL" : "skipped", failed: sameArithmetic))
                }
            }
        }
    }

    private mutating func compareTables(_ name: String, _ old: URL, _ new: URL, sameArithmetic: Bool) throws {
        let a = try parseCSV(String(contentsOf: old, encoding: .utf8))
        let b = try parseCSV(String(contentsOf: new, encoding: .utf8))
        guard let header = a.first, header == b.first else {
            lines.append(
                Line(
                    file: name, cell: "columns", committed: a.first?.joined(separator: ", ") ?? "(empty)",
                    regenerated: b.first?.joined(separator: ", ") ?? "(empty)", tolerance: "exact", verdict: "FAIL",
                    failed: true))
            return
        }
        if a.count != b.count {
            lines.append(
                Line(
                    file: name, cell: "rows", committed: String(a.count - 1), regenerated: String(b.count - 1),
                    tolerance: "exact", verdict: "FAIL", failed: true))
        }
        for row in 1..<Swift.min(a.count, b.count) {
            for (col, column) in header.enumerated() {
                let c = col < a[row].count ? a[row][col] : ""
                let r = col < b[row].count ? b[row][col] : ""
                let across = CellTolerance.acrossMachines(column: column)
                let tolerance: CellTolerance =
                    if case .timing = across { .timing } else { sameArithmetic ? .exact : across }
                if case .timing = tolerance { continue }
                if c == r {
                    identicalCells += 1
                    continue
                }
                let pass = tolerance.accepts(committed: c, regenerated: r)
                let key = a[row].first ?? ""
                lines.append(
                    Line(
                        file: name, cell: "row \(row) (\(key)), \(column)", committed: c, regenerated: r,
                        tolerance: tolerance.description, verdict: pass ? "within tolerance" : "FAIL", failed: !pass))
            }
        }
    }

    /// Same machine: identical bytes. Across machines: the same size, and at most 2 % of the
    /// pixels differing by more than 64 (of 255) in some channel.
    private mutating func compareImages(_ name: String, _ old: URL, _ new: URL, sameArithmetic: Bool) throws {
        if try Data(contentsOf: old) == Data(contentsOf: new) {
            identicalCells += 1
            return
        }
        if sameArithmetic {
            lines.append(
                Line(
                    file: name, cell: "bytes", committed: "—", regenerated: "differ", tolerance: "exact",
                    verdict: "FAIL", failed: true))
            return
        }
        let a = try PNGImage.read(from: old)
        let b = try PNGImage.read(from: new)
        guard a.width == b.width, a.height == b.height, a.channels == b.channels else {
            lines.append(
                Line(
                    file: name, cell: "size", committed: "\(a.width)×\(a.height)×\(a.channels)",
                    regenerated: "\(b.width)×\(b.height)×\(b.channels)", tolerance: "equal", verdict: "FAIL",
                    failed: true))
            return
        }
        var differing = 0
        let channels = a.channels
        for p in 0..<(a.width * a.height) {
            for ch in 0..<channels where abs(Int(a.pixels[p * channels + ch]) - Int(b.pixels[p * channels + ch])) > 64 {
                differing += 1
                break
            }
        }
        let share = Double(differing) / Double(Swift.max(1, a.width * a.height))
        let pass = share <= 0.02
        lines.append(
            Line(
                file: name, cell: "pixels differing by > 64", committed: "—",
                regenerated: "\(formatFixed(100 * share, decimals: 2)) %", tolerance: "≤ 2 % of the pixels",
                verdict: pass ? "within tolerance" : "FAIL", failed: !pass))
    }

    /// The comparison as a Markdown table (only cells that differ; identical ones are counted).
    func table() -> String {
        var s =
            "| file | cell | committed | regenerated | tolerance | verdict |\n| --- | --- | --- | --- | --- | --- |\n"
        for l in lines {
            s += "| \(l.file) | \(l.cell) | \(l.committed) | \(l.regenerated) | \(l.tolerance) | \(l.verdict) |\n"
        }
        return s
    }
}

/// The manifests of a results folder: MANIFEST.json's experiments by name.
struct ManifestFile: Codable {
    var experiments: [String: RunManifest] = [:]

    static func read(_ url: URL) -> ManifestFile? {
        guard let data = try? Data(contentsOf: url) else { return nil }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try? decoder.decode(ManifestFile.self, from: data)
    }

    func write(to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        var data = try encoder.encode(self)
        data.append(contentsOf: Array("\n".utf8))
        try AtomicFile.write(data, to: url)
    }
}

extension Reproduce {
    /// Where an experiment's results go: quick results of programs without a quick mode under
    /// `<folder>/quick` (programs with one add `quick/` themselves).
    static func directory(for e: Experiment, quick: Bool, in folder: String) -> String {
        quick && !e.hasQuickMode ? folder + "/quick" : folder
    }

    /// The folder holding MANIFEST.json for a run: `<folder>` or, in quick mode, `<folder>/quick`.
    static func manifestFolder(quick: Bool, in folder: String) -> URL {
        let base = URL(fileURLWithPath: folder)
        return quick ? base.appendingPathComponent("quick") : base
    }

    /// The program's arguments for writing its results under `folder`: quick or full, the output
    /// folder, and the figure formats (`--formats`, checked) for the programs that draw figures.
    func arguments(for e: Experiment, into folder: String) throws -> [String] {
        var arguments = (quick ? e.quick : e.full) + ["--output", Self.directory(for: e, quick: quick, in: folder)]
        if e.drawsFigures {
            arguments += ["--formats", try figureFormats.map(\.rawValue).joined(separator: ",")]
        }
        return arguments
    }

    /// `--formats` read as figure formats; an unknown one is a command error naming the flag.
    var figureFormats: [FigureFormat] {
        get throws {
            do { return try FigureFormat.list(formats) } catch { throw CommandError("--formats: \(error)") }
        }
    }

    /// Runs the experiment and records its manifest in MANIFEST.json.
    func regenerate(_ e: Experiment, into folder: String) throws {
        var manifest = RunManifest.current(
            command:
                "idl reproduce \(quick ? "--quick " : "")\(e.name)  (\(e.program) \(((quick ? e.quick : e.full)).joined(separator: " ")))"
        )
        let start = Date()
        try SiblingPrograms.run(e.program, try arguments(for: e, into: folder))
        manifest.wallSeconds = (Date().timeIntervalSince(start) * 10).rounded() / 10
        let url = Self.manifestFolder(quick: quick, in: folder).appendingPathComponent("MANIFEST.json")
        var file = ManifestFile.read(url) ?? ManifestFile()
        file.experiments[e.name] = manifest
        try file.write(to: url)
    }

    /// `--verify`: regenerates each experiment into a temporary folder, compares, prints the
    /// table, and throws when a cell falls outside its tolerance.
    func verify(_ selected: [Experiment]) throws {
        let committedRoot = Self.manifestFolder(quick: quick, in: output)
        let committedManifests = ManifestFile.read(committedRoot.appendingPathComponent("MANIFEST.json"))
        let here = RunManifest.current()
        var comparison = ResultsComparison()
        var explanations = [String]()
        var anyDifferentMachine = false
        var anyUnknown = false
        for e in selected {
            let temporary = FileManager.default.temporaryDirectory.appendingPathComponent(
                "idl-verify-\(ProcessInfo.processInfo.processIdentifier)-\(e.name)")
            try? FileManager.default.removeItem(at: temporary)
            defer { try? FileManager.default.removeItem(at: temporary) }
            print("== \(e.name)\(quick ? " (quick)" : ""): regenerating into \(temporary.path)")
            try SiblingPrograms.run(e.program, try arguments(for: e, into: temporary.path))
            let regeneratedRoot = Self.manifestFolder(quick: quick, in: temporary.path)
            let committed = committedManifests?.experiments[e.name]
            let same = committed.map { $0.sameArithmetic(as: here) } ?? false
            if let committed {
                if !same {
                    anyDifferentMachine = true
                    explanations.append(
                        "\(e.name): committed on \(committed.cpuModel) (\(committed.cpuVendor)), \(committed.blasConfiguration), \(committed.blasKernels) kernels; regenerated on \(here.cpuModel) (\(here.cpuVendor)), \(here.blasConfiguration), \(here.blasKernels) kernels — cross-machine tolerances apply."
                    )
                } else {
                    explanations.append(
                        "\(e.name): same CPU and BLAS kernels as the committed results (\(here.cpuModel), \(here.blasKernels)) — every non-timing cell must be identical."
                    )
                }
            } else {
                anyUnknown = true
                explanations.append(
                    "\(e.name): no manifest in \(committedRoot.path)/MANIFEST.json — the machine of the committed results is unknown; cross-machine tolerances apply."
                )
            }
            try comparison.compare(committed: committedRoot, regenerated: regeneratedRoot, sameArithmetic: same)
        }
        print("")
        for line in explanations { print(line) }
        print("")
        if comparison.lines.isEmpty {
            print("All \(comparison.identicalCells) compared cells and files are identical.")
        } else {
            print(comparison.table())
            print(
                "\(comparison.identicalCells) cells and files identical; \(comparison.lines.count) differ, \(comparison.failures) outside their tolerance."
            )
        }
        guard comparison.failures == 0 else {
            let cause =
                anyDifferentMachine || anyUnknown
                ? "The manifests differ (another CPU or BLAS, or an unknown machine): these differences exceed the rounding the tolerances allow for."
                : "The manifests agree (same CPU and BLAS kernels): the results should be identical, so this is a bug (or results committed from other code)."
            throw CommandError("verification failed: \(comparison.failures) cell(s) outside their tolerance. \(cause)")
        }
        print("verified: every compared cell is within its tolerance")
    }
}
