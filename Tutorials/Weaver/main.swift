// tutorial-pages: regenerates each tutorial chapter's README.md from its main.swift and the
// output of a full run, and the chapter table of Tutorials/README.md.
//
//     swift run -c release tutorial-pages                  all chapters
//     swift run -c release tutorial-pages feedforward      some chapters
//     swift run -c release tutorial-pages --check          only check that the pages are current
//
// Run it from the repository root. It first builds the chapter programs (swift build -c release
// --product tutorial-<chapter>; skip with --no-build), runs each with IDL_TUTORIAL_MARKERS=1
// so that every step announces itself, and weaves prose, code, output and figures into the page.
// --check runs nothing: it compares the prose and code of every committed page with its source
// (the staleness test does the same) and exits with status 1 when one is out of date.
import Foundation
import TutorialPages

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("tutorial-pages: \(message)\n".utf8))
    exit(1)
}

let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.contains("--help") || arguments.contains("-h") {
    print("usage: tutorial-pages [--check] [--no-build] [chapter ...]   (run from the repository root)")
    exit(0)
}
let checkOnly = arguments.contains("--check")
let build = !arguments.contains("--no-build")
let requested = arguments.filter { !$0.hasPrefix("--") }

let root = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
let tutorials = root.appendingPathComponent("Tutorials")
guard FileManager.default.fileExists(atPath: root.appendingPathComponent("Package.swift").path),
    FileManager.default.fileExists(atPath: tutorials.path)
else {
    fail("run me from the repository root (the folder with Package.swift and Tutorials/), not \(root.path)")
}

let all: [(folder: String, source: ChapterSource)]
do { all = try TutorialChapters.discover(in: tutorials) } catch { fail("\(error)") }
if let unknown = requested.first(where: { name in !all.contains { $0.folder == name } }) {
    fail("no chapter \"\(unknown)\"; the chapters are \(all.map(\.folder).joined(separator: ", "))")
}
let chapters = requested.isEmpty ? all : all.filter { requested.contains($0.folder) }

// The chapter programs are built next to this program (.build/<triple>/release/).
let binaries = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()

func pageURL(_ folder: String) -> URL { tutorials.appendingPathComponent(folder).appendingPathComponent("README.md") }
func read(_ url: URL) -> String? { try? String(contentsOf: url, encoding: .utf8) }

var stale: [String] = []
if !checkOnly && build {
    let products = chapters.flatMap { ["--product", TutorialChapters.executableName($0.folder)] }
    for pair in stride(from: 0, to: products.count, by: 2) {
        print("building \(products[pair + 1]) …")
        let swift = URL(fileURLWithPath: "/usr/bin/env")
        let result: TutorialChapters.ProcessResult
        do {
            result = try TutorialChapters.run(
                swift, arguments: ["swift", "build", "-c", "release", products[pair], products[pair + 1]], in: root)
        } catch { fail("could not run swift build: \(error)") }
        if result.status != 0 {
            fail("swift build --product \(products[pair + 1]) failed:\n\(result.standardOutput)\(result.standardError)")
        }
    }
}

for (folder, source) in chapters {
    let url = pageURL(folder)
    if checkOnly {
        let expected = try PageWeaver.page(for: folder, source: source, run: nil)
        guard let committed = read(url), PageWeaver.maskingOutputs(committed) == PageWeaver.maskingOutputs(expected)
        else {
            stale.append("Tutorials/\(folder)/README.md")
            continue
        }
        print("\(folder): page is current")
        continue
    }
    let executable = binaries.appendingPathComponent(TutorialChapters.executableName(folder))
    guard FileManager.default.isExecutableFile(atPath: executable.path) else {
        fail(
            "\(executable.path) is missing; build it with swift build -c release --product \(TutorialChapters.executableName(folder))"
        )
    }
    print("running \(TutorialChapters.executableName(folder)) …")
    let started = Date()
    let result: TutorialChapters.ProcessResult
    do {
        // Markers on; figures in the default results/tutorials/ whatever the caller's environment says.
        result = try TutorialChapters.run(
            executable,
            environment: [
                TutorialMarkers.environmentVariable: "1",
                TutorialMarkers.resultsVariable: "",
            ], in: root)
    } catch { fail("could not run \(executable.path): \(error)") }
    guard result.status == 0 else {
        fail("\(executable.lastPathComponent) exited with status \(result.status):\n\(result.standardError)")
    }
    let run = ChapterRun(markedOutput: result.standardOutput)
    let page: String
    do { page = try PageWeaver.page(for: folder, source: source, run: run) } catch { fail("\(error)") }
    if read(url) != page {
        do { try page.write(to: url, atomically: true, encoding: .utf8) } catch {
            fail("cannot write \(url.path): \(error)")
        }
    }
    let figures = run.steps.flatMap(\.figures)
    print(
        "\(folder): \(run.steps.count) steps, \(figures.count) figures, ran in \(String(format: "%.1f", Date().timeIntervalSince(started))) s → Tutorials/\(folder)/README.md"
    )
}

// The chapter table of Tutorials/README.md.
let indexURL = tutorials.appendingPathComponent("README.md")
guard let readme = read(indexURL) else { fail("cannot read \(indexURL.path)") }
let updated: String
do { updated = try PageWeaver.replacingIndex(in: readme, with: PageWeaver.index(all)) } catch { fail("\(error)") }
if updated != readme {
    if checkOnly {
        stale.append("Tutorials/README.md (chapter table)")
    } else {
        do { try updated.write(to: indexURL, atomically: true, encoding: .utf8) } catch {
            fail("cannot write \(indexURL.path): \(error)")
        }
        print("updated the chapter table of Tutorials/README.md")
    }
}

if !stale.isEmpty {
    fail("out of date (run swift run -c release tutorial-pages): \(stale.joined(separator: ", "))")
}
