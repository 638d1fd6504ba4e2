// Documentation coverage of the library products IDL and IDLPlot.
//
// The compiler, not a text search, decides what is public: the test runs
// `swift-symbolgraph-extract` on the IDL and IDLPlot modules that `swift test` has just built
// (beside this test binary) and reads the symbol graphs, which list every public or open symbol
// (members of public extensions, including extensions of Float/Double and other outside types;
// protocol requirements; enum cases; implicitly public members) with its source location and
// its doc comment. It fails, listing `file:line: kind name`, when
//
//   - a public symbol has no doc comment (or only an empty one);
//   - a public throwing function, initialiser or subscript has a doc comment without a
//     `- Throws:` section.
//
// Rules for symbols that do not carry a doc comment of their own:
//
//   - Documentation inherited from this package's own protocols counts. The symbol graph gives
//     an undocumented implementation of a requirement of, say, `Activation` or `BLASScalar` the
//     requirement's doc comment (its `docComment.module` is IDL or IDLPlot), which is also what
//     DocC shows for it; the requirement itself is checked where it is declared.
//   - Implementations of standard-library and Foundation protocol requirements are exempt:
//     their inherited doc comment comes from module Swift, _Concurrency, Foundation or
//     FoundationEssentials (e.g. `CustomStringConvertible.description`, `Equatable.==`,
//     `Hashable.hash(into:)`, `Comparable.<`, `Sequence.makeIterator()`,
//     `IteratorProtocol.next()`, `Codable`'s `init(from:)`/`encode(to:)`,
//     `RandomNumberGenerator.next()`). Inherited documentation from any other module does not
//     count.
//   - Members the symbol graph copies onto a type from a protocol extension or superclass
//     (identifiers containing `::SYNTHESIZED::`) are skipped: the original declaration is
//     checked where it is written (or belongs to the standard library).
//   - Compiler-synthesised members have no source location; they are exempt only when their
//     name is one the compiler synthesises (`init(rawValue:)`, `rawValue`, `hashValue`,
//     `hash(into:)`, `==`, `init(from:)`, `encode(to:)`, `allCases`, ...). Any other symbol
//     without a source location is reported, so a build without `.swiftsourceinfo` cannot make
//     the check pass vacuously.
//
// Symbols whose names start with an underscore are left out of symbol graphs (and of DocC) by
// the compiler, as implementation details; this package has none in its public API.
//
// Run it alone with `swift test -c release --filter DocumentationCoverage` (about 5 seconds
// after the build). It needs `swift-symbolgraph-extract` from the Swift toolchain: found on PATH, or
// beside the `swift` found on PATH (symbolic links resolved), or through `xcrun` on macOS.

import Foundation
import Testing

/// The repository root, found from this file's path (Tests/DocumentationTests/<this file>).
private let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// The modules whose public API must be documented: the package's library products.
private let documentedModules = ["IDL", "IDLPlot"]

/// Modules whose protocol requirements may lend their doc comment to an implementation here.
private let standardModules: Set<String> = ["Swift", "_Concurrency", "Foundation", "FoundationEssentials"]

/// Names of the members the compiler synthesises (they have no source location).
private let compilerSynthesisedNames: Set<String> = [
    "init(rawValue:)", "rawValue", "RawValue", "hashValue", "hash(into:)", "==(_:_:)", "<(_:_:)",
    "init(from:)", "encode(to:)", "allCases", "AllCases", "CodingKeys",
]

/// One public symbol that fails the check.
private struct Finding: CustomStringConvertible {
    let file: String
    let line: Int
    let kind: String
    let name: String
    let problem: String
    var description: String { "\(file):\(line): \(kind) \(name): \(problem)" }
}

/// Counts reported beside the findings, so a run shows what the check covered.
private struct Coverage {
    var checked = 0
    var ownDocumentation = 0
    var inheritedFromPackage = 0
    var exemptStandardLibrary = 0
    var exemptCompilerSynthesised = 0
    var skippedCopies = 0
}

/// A failure to set the check up (tool or build products missing).
private struct SetupError: Error, CustomStringConvertible {
    let description: String
}

/// The folder that holds the test binary and the built modules (`<scratch>/<triple>/<config>`).
private func buildProductsDirectory() throws -> URL {
    var candidates = [
        URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    ]
    for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
        candidates.append(bundle.bundleURL.deletingLastPathComponent())
    }
    for directory in candidates {
        let modules = directory.appendingPathComponent("Modules")
        if documentedModules.allSatisfy({
            FileManager.default.fileExists(atPath: modules.appendingPathComponent("\($0).swiftmodule").path)
        }) {
            return directory
        }
    }
    throw SetupError(
        description:
            "no built IDL/IDLPlot modules in \(candidates.map(\.path)); run the check through `swift test`, which builds them"
    )
}

/// `swift-symbolgraph-extract` and the arguments that precede its own (e.g. `xcrun`).
private func extractorCommand() throws -> (URL, [String]) {
    let fm = FileManager.default
    let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
    for directory in path.split(separator: ":").map(String.init) where !directory.isEmpty {
        let tool = URL(fileURLWithPath: directory).appendingPathComponent("swift-symbolgraph-extract")
        if fm.isExecutableFile(atPath: tool.path) { return (tool, []) }
        let swift = URL(fileURLWithPath: directory).appendingPathComponent("swift")
        if fm.isExecutableFile(atPath: swift.path) {
            let beside = swift.resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent(
                "swift-symbolgraph-extract")
            if fm.isExecutableFile(atPath: beside.path) { return (beside, []) }
        }
    }
    #if os(macOS)
        let xcrun = URL(fileURLWithPath: "/usr/bin/xcrun")
        if fm.isExecutableFile(atPath: xcrun.path) { return (xcrun, ["--sdk", "macosx", "swift-symbolgraph-extract"]) }
    #endif
    throw SetupError(
        description:
            "swift-symbolgraph-extract (part of the Swift toolchain) is neither on PATH nor beside `swift`; add the toolchain's usr/bin to PATH"
    )
}

/// Every `module.modulemap` of a C target: the package's system libraries (Sources/C*), the
/// C shims of checked-out dependencies (<scratch>/checkouts/*/Sources/*/include), and the maps
/// SwiftPM writes for the package's own C targets (<products>/<Target>.build/module.modulemap,
/// e.g. CKernels). The extractor has to load the modules IDL imports.
private func moduleMaps(products: URL) -> [URL] {
    let fm = FileManager.default
    var generated: [URL] = []
    for entry in ((try? fm.contentsOfDirectory(atPath: products.path)) ?? []).sorted() where entry.hasSuffix(".build") {
        let map = products.appendingPathComponent(entry).appendingPathComponent("module.modulemap")
        if fm.fileExists(atPath: map.path) { generated.append(map) }
    }
    var roots = [repositoryRoot.appendingPathComponent("Sources")]
    var directory = products
    while directory.path != "/" {
        let checkouts = directory.appendingPathComponent("checkouts")
        if fm.fileExists(atPath: checkouts.path) {
            for package in (try? fm.contentsOfDirectory(atPath: checkouts.path)) ?? [] {
                roots.append(checkouts.appendingPathComponent(package).appendingPathComponent("Sources"))
            }
            break
        }
        directory = directory.deletingLastPathComponent()
    }
    var maps: [URL] = []
    for root in roots {
        for target in ((try? fm.contentsOfDirectory(atPath: root.path)) ?? []).sorted() {
            for candidate in ["module.modulemap", "include/module.modulemap"] {
                let map = root.appendingPathComponent(target).appendingPathComponent(candidate)
                if fm.fileExists(atPath: map.path) { maps.append(map) }
            }
        }
    }
    return maps + generated
}

/// The `-I` directories `pkg-config --cflags-only-I` names for `packages` (none without pkg-config).
private func pkgConfigIncludePaths(_ packages: [String]) -> [String] {
    let tool = URL(fileURLWithPath: "/usr/bin/pkg-config")
    guard FileManager.default.isExecutableFile(atPath: tool.path) else { return [] }
    let process = Process()
    process.executableURL = tool
    process.arguments = ["--cflags-only-I"] + packages
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return [] }
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { return [] }
    return String(decoding: data, as: UTF8.self).split(whereSeparator: \.isWhitespace)
        .filter { $0.hasPrefix("-I") }.map { String($0.dropFirst(2)) }
}

/// Runs the extractor for `module`; returns the decoded symbol graphs it wrote (the module's
/// own and one per outside module whose types it extends, e.g. IDL@Swift).
private func symbolGraphs(of module: String, products: URL, output: URL) throws -> [(
    file: String, graph: [String: Any]
)] {
    let (tool, prefix) = try extractorCommand()
    let directory = output.appendingPathComponent(module)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    var arguments =
        prefix + [
            "-module-name", module,
            "-I", products.appendingPathComponent("Modules").path,
            "-module-cache-path", output.appendingPathComponent("ModuleCache").path,
            "-minimum-access-level", "public",
            "-output-dir", directory.path,
        ]
    for map in moduleMaps(products: products) {
        arguments += ["-Xcc", "-fmodule-map-file=\(map.path)"]
    }
    // The header search paths SwiftPM takes from the system libraries' pkg-config files (Cairo's
    // headers include FreeType's from /usr/include/freetype2).
    for path in pkgConfigIncludePaths(["cairo"]) { arguments += ["-Xcc", "-I\(path)"] }
    let process = Process()
    process.executableURL = tool
    process.arguments = arguments
    let errors = Pipe()
    process.standardError = errors
    process.standardOutput = errors
    try process.run()
    let message = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw SetupError(
            description:
                "swift-symbolgraph-extract failed for \(module) (status \(process.terminationStatus)):\n\(String(decoding: message, as: UTF8.self))"
        )
    }
    var graphs: [(String, [String: Any])] = []
    for name in try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
    where name == "\(module).symbols.json" || (name.hasPrefix("\(module)@") && name.hasSuffix(".symbols.json")) {
        let data = try Data(contentsOf: directory.appendingPathComponent(name))
        guard let graph = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw SetupError(description: "\(name) is not a JSON object")
        }
        graphs.append((name, graph))
    }
    guard graphs.contains(where: { $0.0 == "\(module).symbols.json" }) else {
        throw SetupError(description: "swift-symbolgraph-extract wrote no \(module).symbols.json")
    }
    return graphs
}

/// `file:///…/Sources/IDL/X.swift` as a path relative to the repository root.
private func relativePath(_ uri: String) -> String {
    let path = URL(string: uri)?.path ?? uri
    let root = repositoryRoot.path.hasSuffix("/") ? repositoryRoot.path : repositoryRoot.path + "/"
    return path.hasPrefix(root) ? String(path.dropFirst(root.count)) : path
}

/// Whether the declaration itself throws (or rethrows), from its declaration fragments: a
/// `throws` keyword outside the parameter list's parentheses and before the result arrow (a
/// throwing closure parameter or a throwing function type as result does not count).
private func isThrowing(_ symbol: [String: Any]) -> Bool {
    var depth = 0
    for fragment in symbol["declarationFragments"] as? [[String: Any]] ?? [] {
        let spelling = fragment["spelling"] as? String ?? ""
        if fragment["kind"] as? String == "keyword" {
            if depth == 0 && (spelling == "throws" || spelling == "rethrows") { return true }
            continue
        }
        var previous: Character = " "
        for character in spelling {
            if character == "(" { depth += 1 }
            if character == ")" { depth -= 1 }
            if depth == 0 && previous == "-" && character == ">" { return false }
            previous = character
        }
    }
    return false
}

/// Applies the rules in the header to one symbol graph.
private func check(graph: [String: Any], module: String, coverage: inout Coverage) -> [Finding] {
    var findings: [Finding] = []
    for symbol in graph["symbols"] as? [[String: Any]] ?? [] {
        let identifier = (symbol["identifier"] as? [String: Any])?["precise"] as? String ?? ""
        if identifier.contains("::SYNTHESIZED::") {
            coverage.skippedCopies += 1
            continue
        }
        coverage.checked += 1
        let kind = ((symbol["kind"] as? [String: Any])?["identifier"] as? String ?? "?").replacingOccurrences(
            of: "swift.", with: "")
        let path = (symbol["pathComponents"] as? [String] ?? []).joined(separator: ".")
        let title = (symbol["names"] as? [String: Any])?["title"] as? String ?? path
        let location = symbol["location"] as? [String: Any]
        let file = (location?["uri"] as? String).map(relativePath) ?? "<no location>"
        // The symbol graph's positions are zero-based.
        let line = ((location?["position"] as? [String: Any])?["line"] as? Int ?? -1) + 1
        func report(_ problem: String) {
            findings.append(Finding(file: file, line: line, kind: kind, name: "\(module).\(path)", problem: problem))
        }
        let doc = symbol["docComment"] as? [String: Any]
        let docModule = doc?["module"] as? String
        let text = (doc?["lines"] as? [[String: Any]] ?? []).compactMap { $0["text"] as? String }.joined(
            separator: "\n")
        if location == nil {
            if compilerSynthesisedNames.contains(title) {
                coverage.exemptCompilerSynthesised += 1
            } else {
                report("no source location (is the module's .swiftsourceinfo missing?)")
            }
            continue
        }
        if let docModule, standardModules.contains(docModule) {
            coverage.exemptStandardLibrary += 1
            continue
        }
        guard doc != nil, !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            report("no doc comment")
            continue
        }
        if let docModule, !documentedModules.contains(docModule) {
            report("no doc comment of its own (inherits one from \(docModule))")
            continue
        }
        // Its own comment ends just above the declaration (attributes may sit in between); an
        // inherited one belongs to the requirement, declared elsewhere.
        let docFile = (doc?["uri"] as? String).map(relativePath)
        let docEnd =
            ((doc?["lines"] as? [[String: Any]])?.last?["range"] as? [String: Any])
            .flatMap { ($0["end"] as? [String: Any])?["line"] as? Int } ?? -100
        if docFile == file && (1...4).contains(line - 1 - docEnd) {
            coverage.ownDocumentation += 1
        } else {
            coverage.inheritedFromPackage += 1
        }
        if isThrowing(symbol) && !text.contains("- Throws") {
            report("throws, but its doc comment has no `- Throws:` section")
        }
    }
    return findings
}

@Suite struct DocumentationCoverageTests {
    @Test func everyPublicSymbolOfTheLibrariesHasADocComment() throws {
        let products = try buildProductsDirectory()
        let output = FileManager.default.temporaryDirectory
            .appendingPathComponent("idl-symbolgraphs-\(UInt64.random(in: 0..<UInt64.max))")
        defer { try? FileManager.default.removeItem(at: output) }
        var findings: [Finding] = []
        var coverage = Coverage()
        for module in documentedModules {
            let before = coverage.checked
            for (_, graph) in try symbolGraphs(of: module, products: products, output: output) {
                findings += check(graph: graph, module: module, coverage: &coverage)
            }
            // A module with (almost) nothing public means the extraction went wrong, not that
            // the API is documented.
            #expect(
                coverage.checked - before > 50, "only \(coverage.checked - before) public symbols found in \(module)")
        }
        findings.sort { ($0.file, $0.line, $0.name) < ($1.file, $1.line, $1.name) }
        let summary =
            "\(coverage.checked) public symbols checked: \(coverage.ownDocumentation) with their own doc comment, "
            + "\(coverage.inheritedFromPackage) inheriting one from this package's protocols, "
            + "\(coverage.exemptStandardLibrary) implementing standard-library requirements, "
            + "\(coverage.exemptCompilerSynthesised) compiler-synthesised; \(coverage.skippedCopies) copies of inherited members skipped"
        print("Documentation coverage: \(summary)")
        if !findings.isEmpty {
            Issue.record(
                """
                \(findings.count) public symbol(s) of \(documentedModules.joined(separator: "/")) need documentation \
                (add a /// comment saying what it does, its parameters, what it throws):
                \(findings.map(\.description).joined(separator: "\n"))
                """)
        }
    }
}
