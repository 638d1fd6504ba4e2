import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What a result was made with: the code (commit, uncommitted changes, compiler), the machine
/// (operating system, CPU) and the linear algebra (BLAS library, version, kernels, threads).
///
/// `idl reproduce` writes one per experiment into `MANIFEST.json` beside the results, and every
/// ``ResultTable`` prints ``summary`` under its Markdown table. Two results made with the same
/// ``cpuModel``, ``cpuVendor``, ``blasConfiguration``, ``blasKernels`` and ``sparseKernels`` must
/// agree to the bit
/// (every computation is independent of the thread count, see ``ThreadPolicy``); with
/// different ones they differ by rounding (see ``sameArithmetic(as:)``).
public struct RunManifest: Codable, Equatable, Sendable {
    /// The git commit of the working tree (`git rev-parse HEAD`), or "unknown" outside a repository.
    public var commit: String
    /// Whether files outside `results/` differed from the commit (`git status --porcelain`).
    public var dirty: Bool
    /// The Swift compiler that built the program, e.g. "6.3".
    public var swiftVersion: String
    /// The operating system, e.g. "Debian GNU/Linux 12 (bookworm), Linux 6.1.0".
    public var operatingSystem: String
    /// The CPU's model name from /proc/cpuinfo, e.g. "Intel(R) Xeon(R) Processor".
    public var cpuModel: String
    /// The CPU vendor, e.g. "GenuineIntel" or "AuthenticAMD".
    public var cpuVendor: String
    /// The BLAS library, "OpenBLAS".
    public var blasLibrary: String
    /// OpenBLAS's build description, e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY SkylakeX MAX_THREADS=64".
    public var blasConfiguration: String
    /// The OpenBLAS kernels in use, e.g. "SkylakeX".
    public var blasKernels: String
    /// The instruction set of the library's own sparse kernels (``sparseKernelInstructionSet``:
    /// "AVX-512", "AVX2+FMA" or "baseline", chosen from the CPU's feature flags, which a virtual
    /// machine may hide); nil in manifests written before it was recorded.
    public var sparseKernels: String?
    /// OpenBLAS's thread count (always 1, see ``ThreadPolicy``).
    public var blasThreads: Int
    /// The thread policy in words (``ThreadPolicy/description``).
    public var threadPolicy: String
    /// When the run started (UTC, ISO 8601).
    public var date: String
    /// The command that made the results.
    public var command: String
    /// Wall-clock seconds of the run (nil while it is running).
    public var wallSeconds: Double?

    /// The manifest of this process: the code, machine and BLAS it runs with, dated now.
    /// - Parameter command: The command that makes the results (default: this process's arguments).
    public static func current(command: String? = nil) -> RunManifest {
        var m = machine
        m.date = isoDate(Date())
        m.command = command ?? CommandLine.arguments.joined(separator: " ")
        return m
    }

    /// Whether the two runs used the same CPU, the same BLAS kernels and the same instruction set
    /// for the sparse kernels, so that their results must agree to the bit. A manifest that does
    /// not record the sparse kernels (written before they were) is judged by the rest.
    public func sameArithmetic(as other: RunManifest) -> Bool {
        cpuModel == other.cpuModel && cpuVendor == other.cpuVendor && blasConfiguration == other.blasConfiguration
            && blasKernels == other.blasKernels
            && (sparseKernels == nil || other.sparseKernels == nil || sparseKernels == other.sparseKernels)
    }

    /// One line for the foot of a table: date, commit, compiler, CPU, BLAS, threads.
    public var summary: String {
        let shortCommit = String(commit.prefix(10)) + (dirty ? " with uncommitted changes" : "")
        return
            "Made \(date.prefix(10)) from commit \(shortCommit), Swift \(swiftVersion), \(operatingSystem), \(cpuModel) (\(cpuVendor)), \(blasConfiguration.isEmpty ? blasLibrary : blasConfiguration), \(blasKernels) kernels\(sparseKernels.map { ", \($0) sparse kernels" } ?? ""); \(threadPolicy). Details: MANIFEST.json."
    }

    private static let machine: RunManifest = {
        let info = (try? String(contentsOfCPUInfo: ())) ?? ""
        func field(_ name: String) -> String? {
            for line in info.split(separator: "\n") where line.hasPrefix(name) {
                if let colon = line.firstIndex(of: ":") {
                    return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                }
            }
            return nil
        }
        let commit = git(["rev-parse", "HEAD"])?.trimmingCharacters(in: .whitespacesAndNewlines)
        let status = git(["status", "--porcelain", "--", ".", ":(exclude)results"])
        return RunManifest(
            commit: commit ?? "unknown", dirty: !(status ?? "").trimmingCharacters(in: .whitespacesAndNewlines).isEmpty,
            swiftVersion: compilerVersion, operatingSystem: operatingSystemName(),
            cpuModel: field("model name") ?? field("Processor") ?? "unknown",
            cpuVendor: field("vendor_id") ?? field("CPU implementer") ?? "unknown",
            blasLibrary: "OpenBLAS", blasConfiguration: IDL.blasConfiguration, blasKernels: blasCoreName,
            sparseKernels: sparseKernelInstructionSet, blasThreads: IDL.blasThreads,
            threadPolicy: ThreadPolicy.description, date: "", command: "",
            wallSeconds: nil)
    }()

    private static var compilerVersion: String {
        #if compiler(>=6.5)
            return "6.5 or later"
        #elseif compiler(>=6.4)
            return "6.4"
        #elseif compiler(>=6.3)
            return "6.3"
        #elseif compiler(>=6.2)
            return "6.2"
        #elseif compiler(>=6.1)
            return "6.1"
        #else
            return "6.0"
        #endif
    }

    private static func operatingSystemName() -> String {
        var name = "unknown"
        if let text = try? String(contentsOfFile: "/etc/os-release", encoding: .utf8) {
            for line in text.split(separator: "\n") where line.hasPrefix("PRETTY_NAME=") {
                name = String(line.dropFirst("PRETTY_NAME=".count)).trimmingCharacters(
                    in: CharacterSet(charactersIn: "\""))
            }
        } else {
            name = ProcessInfo.processInfo.operatingSystemVersionString
        }
        var u = utsname()
        if uname(&u) == 0 {
            let system = withUnsafeBytes(of: &u.sysname) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            let release = withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            name += ", \(system) \(release)"
        }
        return name
    }

    /// The output of `git arguments…` in the current directory, or nil (no git, not a repository).
    private static func git(_ arguments: [String]) -> String? {
        let candidates = ["/usr/bin/git", "/usr/local/bin/git", "/opt/homebrew/bin/git"]
        guard let path = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            return nil
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = arguments
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return nil }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    /// A date as "2026-12-02T07:49:01Z".
    static func isoDate(_ date: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd'T'HH:mm:ss'Z'"
        return f.string(from: date)
    }
}
