import Foundation

/// Finding the chapters and running their programs (shared by the weaver and the tests).
public enum TutorialChapters {
    /// The chapters under `tutorials` (the repository's `Tutorials/` folder): every subfolder
    /// whose `main.swift` starts with a `// # Chapter` title line, sorted by chapter number.
    /// - Throws: ``ChapterSource/LayoutError`` for a chapter file that cannot be read as one.
    public static func discover(in tutorials: URL) throws -> [(folder: String, source: ChapterSource)] {
        let fm = FileManager.default
        let folders = try fm.contentsOfDirectory(atPath: tutorials.path).sorted()
        var chapters: [(folder: String, source: ChapterSource)] = []
        for folder in folders {
            let file = tutorials.appendingPathComponent(folder).appendingPathComponent("main.swift")
            guard let text = try? String(contentsOf: file, encoding: .utf8), text.hasPrefix("// # Chapter") else {
                continue
            }
            chapters.append((folder, try ChapterSource(text: text)))
        }
        return chapters.sorted { ($0.source.number ?? .max, $0.folder) < ($1.source.number ?? .max, $1.folder) }
    }

    /// The executable of a chapter folder: `tutorial-<folder>`.
    public static func executableName(_ folder: String) -> String { "tutorial-\(folder)" }

    /// What a process printed and how it ended.
    public struct ProcessResult: Sendable {
        public var status: Int32
        public var standardOutput: String
        public var standardError: String
    }

    /// Runs `executable` with `arguments`, the current environment plus `environment`, in
    /// `directory`, and collects both output streams (through temporary files, so a chatty
    /// program can never block on a full pipe).
    public static func run(
        _ executable: URL, arguments: [String] = [], environment: [String: String] = [:],
        in directory: URL
    ) throws -> ProcessResult {
        let fm = FileManager.default
        let scratch = fm.temporaryDirectory.appendingPathComponent("tutorial-run-\(UUID().uuidString)")
        try fm.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? fm.removeItem(at: scratch) }
        let outURL = scratch.appendingPathComponent("stdout")
        let errURL = scratch.appendingPathComponent("stderr")
        _ = fm.createFile(atPath: outURL.path, contents: nil)
        _ = fm.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL)
        let err = try FileHandle(forWritingTo: errURL)
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.currentDirectoryURL = directory
        process.standardOutput = out
        process.standardError = err
        try process.run()
        process.waitUntilExit()
        try out.close()
        try err.close()
        return ProcessResult(
            status: process.terminationStatus,
            standardOutput: try String(contentsOf: outURL, encoding: .utf8),
            standardError: try String(contentsOf: errURL, encoding: .utf8))
    }
}
