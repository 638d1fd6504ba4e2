import ArgumentParser
import Foundation
import IDL

// What every subcommand checks before it starts working: its arguments as bytes, its numbers,
// its enumerated choices and the files it reads and writes. New flags use the same pieces.

/// The command line as the system passed it: each argument's bytes, with bytes that are not
/// UTF-8 kept as ``FilePathBytes`` escapes (so a non-UTF-8 file name reaches the file system
/// unchanged), and a negative number after an option joined to it (`--tol -1` → `--tol=-1`) so
/// that it is read as the option's value and judged by its range, not taken for an option.
enum CommandLineArguments {
    static func read() -> [String] {
        let raw = (1..<Int(CommandLine.argc)).map { k -> String in
            guard let p = CommandLine.unsafeArgv[k] else { return "" }
            return FilePathBytes.string(
                fromFileSystemBytes: Array(UnsafeBufferPointer(start: p, count: strlen(p))).map {
                    UInt8(bitPattern: $0)
                })
        }
        return joiningNegativeNumbers(raw)
    }

    /// `--name -3` → `--name=-3` for option-like `--name` without `=` followed by a number.
    static func joiningNegativeNumbers(_ arguments: [String]) -> [String] {
        var out: [String] = []
        var k = 0
        while k < arguments.count {
            let a = arguments[k]
            if a.hasPrefix("--"), a.count > 2, !a.contains("="), k + 1 < arguments.count,
                looksLikeNegativeNumber(arguments[k + 1])
            {
                out.append(a + "=" + arguments[k + 1])
                k += 2
                continue
            }
            out.append(a)
            k += 1
        }
        return out
    }

    static func looksLikeNegativeNumber(_ s: String) -> Bool {
        guard s.hasPrefix("-"), s.count > 1 else { return false }
        let rest = s.dropFirst().lowercased()
        return Double(s) != nil || rest == "inf" || rest == "infinity" || rest == "nan"
    }
}

/// Ranges for numeric flags: a value outside is refused before any work, naming the flag and
/// the value. Non-finite values (nan, inf) are refused by every rule.
enum NumberRule {
    case positive, nonNegative, openUnitInterval

    func check(_ flag: String, _ value: Double) throws {
        guard value.isFinite else {
            throw ValidationError("\(flag) must be a finite number, got \(value)")
        }
        switch self {
        case .positive where value <= 0:
            throw ValidationError("\(flag) must be positive, got \(value)")
        case .nonNegative where value < 0:
            throw ValidationError("\(flag) must be zero or positive, got \(value)")
        case .openUnitInterval where !(value > 0 && value < 1):
            throw ValidationError("\(flag) must lie strictly between 0 and 1, got \(value)")
        default:
            return
        }
    }

    /// Integer sizes and counts: at least `minimum`.
    static func check(_ flag: String, _ value: Int, atLeast minimum: Int) throws {
        guard value >= minimum else { throw ValidationError("\(flag) must be at least \(minimum), got \(value)") }
    }
}

/// The forward fixed-point solver of `--solver` for implicit models; any other value is refused
/// by the parser with the list of choices.
enum FixedPointSolverName: String, CaseIterable, ExpressibleByArgument {
    case picard, anderson

    var solver: any FixedPointSolver { self == .anderson ? Anderson() : Picard() }
    /// n×m work matrices of the solver (for the memory estimate).
    var buffers: Int { self == .anderson ? 15 : 2 }
}

/// `--activation`: the names ``activation(named:)`` knows, with `-` for `_` (leaky-relu).
func parseActivation(_ name: String) throws -> any Activation {
    try activation(named: name.replacingOccurrences(of: "-", with: "_"))
}

extension WellPosedness: ExpressibleByArgument {}

/// A file a run reads or writes, with the flag that named it.
struct RunFile {
    enum Role {
        /// Read by the run.
        case input
        /// Written (replaced atomically, see ``AtomicFile``); missing directories are created.
        case output
        /// A directory the run writes these files into (created if missing).
        case outputDirectory(files: [String])
    }

    var flag: String
    var path: String
    var role: Role

    static func input(_ flag: String, _ path: String?) -> [RunFile] {
        path.map { [RunFile(flag: flag, path: $0, role: .input)] } ?? []
    }
    static func output(_ flag: String, _ path: String?) -> [RunFile] {
        path.map { [RunFile(flag: flag, path: $0, role: .output)] } ?? []
    }
    static func directory(_ flag: String, _ path: String?, files: [String]) -> [RunFile] {
        path.map { [RunFile(flag: flag, path: $0, role: .outputDirectory(files: files))] } ?? []
    }
}

/// Checks, before any work, that every output can be written and that no output is an input
/// or another output of the same run.
enum RunFiles {
    static func check(_ files: [RunFile]) throws {
        var outputs: [(flag: String, shown: String, url: URL)] = []
        var inputs: [(flag: String, shown: String, url: URL)] = []
        for file in files {
            guard !file.path.isEmpty else {
                throw CommandError("\(file.flag) was given an empty path; name a file")
            }
            if file.path == "-" {
                let stream: String
                if case .input = file.role { stream = "/dev/stdin" } else { stream = "/dev/stdout" }
                throw CommandError(
                    "\(file.flag) was given '-', which idl does not read as a standard stream; name a file, or \(stream) for the stream (./- for a file named '-')"
                )
            }
            let url = URL(fileURLWithPath: file.path)
            switch file.role {
            case .input:
                inputs.append((file.flag, file.path, url))
            case .output:
                outputs.append((file.flag, file.path, url))
            case .outputDirectory(let names):
                for name in names {
                    let inside = url.appendingPathComponent(name)
                    outputs.append((file.flag, inside.path, inside))
                }
            }
        }
        // First: no output may be an input or another output (nothing is created before this).
        var seen: [(flag: String, shown: String, identity: FileIdentity)] = []
        for input in inputs {
            if let identity = FileIdentity(input.url, existingOnly: true) {
                seen.append((input.flag, input.shown, identity))
            }
        }
        for output in outputs {
            guard let identity = FileIdentity(output.url, existingOnly: false), !identity.isStream else { continue }
            if let other = seen.first(where: { $0.identity == identity }) {
                throw CommandError(
                    "\(output.flag) \(FilePathBytes.display(output.shown)) is the same file as \(other.flag) \(FilePathBytes.display(other.shown)); writing it would destroy what the run \(other.flag == output.flag ? "writes twice" : "uses"): choose another output path"
                )
            }
            seen.append((output.flag, output.shown, identity))
        }
        // Then: each output can be written (its directories are created, as the run would; if
        // a later output fails, the directories created here are removed again).
        var missing: [[UInt8]] = []
        for file in files {
            if case .input = file.role { continue }
            var path = FilePathBytes.fileSystemBytes(URL(fileURLWithPath: file.path).path)
            if case .output = file.role, let slash = path.lastIndex(of: UInt8(ascii: "/")) {
                path = Array(path[..<slash])
            }
            var st = stat()
            while !path.isEmpty, withCPath(path, { lstat($0, &st) }) != 0 {
                missing.append(path)
                guard let slash = path.lastIndex(of: UInt8(ascii: "/")) else { break }
                path = Array(path[..<slash])
            }
        }
        func removeCreatedDirectories() {
            for path in missing.sorted(by: { $0.count > $1.count }) { _ = withCPath(path) { rmdir($0) } }
        }
        for file in files {
            let url = URL(fileURLWithPath: file.path)
            do {
                switch file.role {
                case .input:
                    continue
                case .output:
                    try AtomicFile.checkWritable(url, creatingDirectories: true)
                case .outputDirectory(let names):
                    try AtomicFile.checkDirectoryWritable(url)
                    for name in names { try AtomicFile.checkWritable(url.appendingPathComponent(name)) }
                }
            } catch let error as IDLError {
                removeCreatedDirectories()
                throw CommandError(
                    "\(file.flag) \(FilePathBytes.display(file.path)) cannot be written, checked before any work: \(error)"
                )
            }
        }
    }
}

/// What makes two paths the same file: device and inode when it exists, else the absolute
/// path with its existing directories resolved.
struct FileIdentity: Equatable {
    var device: UInt64 = 0
    var inode: UInt64 = 0
    var path: [UInt8] = []
    /// A character device or pipe: written through, may be named by several outputs.
    var isStream = false

    init?(_ url: URL, existingOnly: Bool) {
        let bytes = FilePathBytes.fileSystemBytes(url.path)
        var st = stat()
        if withCPath(bytes, { stat($0, &st) }) == 0 {
            device = UInt64(st.st_dev)
            inode = UInt64(st.st_ino)
            let kind = st.st_mode & S_IFMT
            isStream = kind == S_IFCHR || kind == S_IFIFO
            return
        }
        guard !existingOnly else { return nil }
        // Not there yet: resolve the nearest existing directory, keep the rest as named.
        var rest: [[UInt8]] = []
        var current = bytes
        while true {
            if let resolved = withCPath(current, { realpath($0, nil) }) {
                var full = Array(UnsafeBufferPointer(start: resolved, count: strlen(resolved))).map {
                    UInt8(bitPattern: $0)
                }
                free(resolved)
                for component in rest.reversed() { full += [UInt8(ascii: "/")] + component }
                path = full
                return
            }
            guard let slash = current.lastIndex(of: UInt8(ascii: "/")), slash > 0 else {
                path = bytes
                return
            }
            rest.append(Array(current[(slash + 1)...]))
            current = Array(current[..<slash])
        }
    }
}

/// Calls `body` with a byte path as a C string.
func withCPath<R>(_ path: [UInt8], _ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
    try (path + [0]).withUnsafeBufferPointer { buffer in
        try buffer.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) }
    }
}

/// Creates the directory that will hold `path` (and its parents), with a one-line error.
func createParentDirectory(of path: String) throws {
    try AtomicFile.createDirectories(URL(fileURLWithPath: path).deletingLastPathComponent())
}

/// A note on standard error (kept out of standard output, which may carry results).
func note(_ text: String) {
    FileHandle.standardError.write(Data("note: \(text)\n".utf8))
}
