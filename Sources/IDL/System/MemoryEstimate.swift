import Foundation

/// How much memory a piece of work needs, estimated up front so that a size the machine cannot
/// hold is refused with a clear error instead of ending in an out-of-memory kill halfway through.
///
/// The estimates count the large buffers (matrices that grow with the dimensions and the batch),
/// not the small constant overheads, and err on the generous side. ``check(available:)`` compares the
/// total with ``SystemMemory/availableBytes`` and throws when it does not fit.
public struct MemoryEstimate: Sendable, CustomStringConvertible {
    /// What the memory is for, e.g. "training ImplicitModel(p=784, q=10, n=100), batch 64".
    public var purpose: String
    /// The parts of the estimate, in bytes, by name (parameters, activations, …).
    public var parts: [(name: String, bytes: Double)]
    /// What to reduce to need less memory (said in the error).
    public var advice: String

    /// A custom estimate.
    /// - Parameters:
    ///   - purpose: what the memory is for (said in the error).
    ///   - parts: the large buffers, by name, in bytes.
    ///   - advice: what to reduce to need less (said in the error).
    public init(purpose: String, parts: [(name: String, bytes: Double)], advice: String) {
        self.purpose = purpose
        self.parts = parts
        self.advice = advice
    }

    /// The total in bytes (a Double, so that absurd sizes do not overflow).
    public var bytes: Double { parts.reduce(0) { $0 + $1.bytes } }

    /// The total and its parts in GiB, e.g. "6.2 GiB (parameters 1.5 GiB, activations 4.7 GiB)".
    public var description: String {
        "\(MemoryEstimate.gibibytes(bytes)) ("
            + parts.map { "\($0.name) \(MemoryEstimate.gibibytes($0.bytes))" }.joined(separator: ", ") + ")"
    }

    /// Throws when the estimate exceeds the memory available now.
    /// - Parameter available: the available bytes; by default ``SystemMemory/availableBytes``
    ///   (when that cannot be read, nothing is checked).
    /// - Throws: ``IDLError/invalidArgument(_:)`` starting "not enough memory:", naming the
    ///   estimate in GiB, the memory available and what to reduce.
    public func check(available: Double? = SystemMemory.availableBytes.map(Double.init)) throws {
        guard let available else { return }
        let total = bytes
        guard total.isFinite, total <= available else {
            throw IDLError.invalidArgument(
                "not enough memory: \(purpose) needs about \(description), but only \(MemoryEstimate.gibibytes(available)) is available; \(advice)"
            )
        }
    }

    /// Bytes as GiB with one or two significant decimals ("0.004 GiB", "12.5 GiB").
    public static func gibibytes(_ bytes: Double) -> String {
        let g = bytes / 1_073_741_824
        guard g.isFinite else { return "∞ GiB" }
        // formatFixed, not Int(g): a user-given size can make g larger than Int.max.
        if g >= 100 { return formatFixed(g, decimals: 0) + " GiB" }
        if g >= 1 { return formatFixed(g, decimals: 1) + " GiB" }
        return formatScalar(g, digits: 2) + " GiB"
    }

    /// Training or running an ``ImplicitModel``: parameters with their gradients, two Adam
    /// moments and the transformed copy of A (5 copies), plus per batch of m samples the input,
    /// the injection BU, the state, Φ′, the adjoint and the output's three buffers, plus the
    /// fixed-point solver's work buffers (`solverBuffers` n×m matrices: 2 for Picard, 3 per
    /// Anderson memory slot).
    ///
    /// - Parameters:
    ///   - p: the input dimension (`inputDim`).
    ///   - q: the output dimension (`outputDim`).
    ///   - n: the hidden dimension (`hiddenDim`).
    ///   - rank: r for A = L Rᵀ (two n×r factors instead of n×n), or nil.
    ///   - bias: whether a constant row is appended to the input.
    ///   - m: the batch size (`batchSize`), samples per forward pass.
    ///   - scalarSize: bytes per number (4 for Float, 8 for Double).
    ///   - solverBuffers: the solver's n×m work matrices.
    public static func implicitModel(
        inputDim p: Int, outputDim q: Int, hiddenDim n: Int, rank: Int? = nil, bias: Bool = false,
        batchSize m: Int, scalarSize: Int, solverBuffers: Int = 15
    ) -> MemoryEstimate {
        let (pd, qd, nd, md, s) = (
            Double(p) + (bias ? 1 : 0), Double(q), Double(n), Double(max(m, 1)), Double(scalarSize)
        )
        let a = rank.map { 2 * nd * Double($0) + nd * nd } ?? nd * nd  // low rank still forms the n×n product
        let parameters = (a + nd * pd + qd * nd + qd * pd) * s
        let activations = (pd + 6 * nd + 3 * qd) * md * s
        let solver = Double(solverBuffers) * nd * md * s
        return MemoryEstimate(
            purpose: "ImplicitModel(p=\(p), q=\(q), n=\(n)\(rank.map { ", rank \($0)" } ?? "")) with batch \(m)",
            parts: [
                ("parameters, gradients and optimizer state", 5 * parameters), ("activations", activations),
                ("fixed-point solver buffers", solver),
            ],
            advice:
                "reduce the hidden dimension n\(rank == nil ? " (or use a low-rank A)" : ""), the batch size or the input dimension"
        )
    }

    /// A SIM fit on m samples with n states, p inputs and q outputs: the states U, X, Z, Y, the
    /// stacked features [X; U] of both stages and a transposed copy, the (n+p)×(n+p) Gram
    /// matrix and its factor, the fitted weights (twice), and per-row work vectors for each thread.
    public static func sim(
        stateCount n: Int, inputCount p: Int, outputCount q: Int, sampleCount m: Int,
        scalarSize: Int, threads: Int = ProcessInfo.processInfo.activeProcessorCount
    ) -> MemoryEstimate {
        let (nd, pd, qd, md, s) = (Double(n), Double(p), Double(q), Double(m), Double(scalarSize))
        let d = nd + pd
        return MemoryEstimate(
            purpose: "a SIM fit with n=\(n) states, p=\(p) inputs, q=\(q) outputs and m=\(m) samples",
            parts: [
                ("states U, X, Z, Y", (pd + 2 * nd + qd) * md * s), ("features [X; U] and copies", 3 * d * md * s),
                ("Gram matrix and factor", 2 * d * d * s), ("weights", 2 * (nd + qd) * d * s),
                ("per-row work", Double(max(threads, 1)) * 6 * (d + md) * s),
            ],
            advice: "use fewer samples (m), fewer or smaller hidden layers in the teacher (n), or fewer inputs")
    }

    /// Decoding a data set of `elements` numbers of `scalarSize` bytes, plus `fileBytes` of file
    /// contents still to be read (0 when they are already in memory).
    public static func decodedData(_ what: String, elements: Int, scalarSize: Int, fileBytes: Int = 0) -> MemoryEstimate
    {
        var parts: [(name: String, bytes: Double)] = [("decoded values", Double(elements) * Double(scalarSize))]
        if fileBytes > 0 { parts.insert(("file contents", Double(fileBytes)), at: 0) }
        return MemoryEstimate(
            purpose: "loading \(what)", parts: parts,
            advice: "load a subset of the samples, or use Float instead of Double")
    }
}

/// The memory of the machine, as the operating system reports it.
public enum SystemMemory {
    /// Bytes that can be allocated now without swapping: Linux's `MemAvailable` from
    /// /proc/meminfo (lowered to the cgroup limit when the process runs in a container with a
    /// smaller one), else the free physical pages from `sysconf`; nil when neither is readable.
    public static var availableBytes: Int? {
        var best: Int? = nil
        if let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("MemAvailable:") })
        {
            let fields = line.split(separator: " ")
            if fields.count >= 2, let kib = Int(fields[1]) { best = kib * 1024 }
        }
        if best == nil {
            let pages = sysconf(Int32(_SC_AVPHYS_PAGES))
            let size = sysconf(Int32(_SC_PAGESIZE))
            if pages > 0, size > 0 { best = pages * size }
        }
        if let limit = cgroupHeadroom { best = min(best ?? limit, limit) }
        return best
    }

    /// Total physical memory in bytes (`sysconf`), or nil.
    public static var physicalBytes: Int? {
        let pages = sysconf(Int32(_SC_PHYS_PAGES))
        let size = sysconf(Int32(_SC_PAGESIZE))
        return pages > 0 && size > 0 ? pages * size : nil
    }

    /// The cgroup v2 limit minus the current usage, when a limit is set.
    static var cgroupHeadroom: Int? {
        guard let limitText = try? String(contentsOfFile: "/sys/fs/cgroup/memory.max", encoding: .utf8),
            let limit = Int(limitText.trimmingCharacters(in: .whitespacesAndNewlines))
        else { return nil }
        let usedText = (try? String(contentsOfFile: "/sys/fs/cgroup/memory.current", encoding: .utf8)) ?? "0"
        let used = Int(usedText.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        return max(0, limit - used)
    }
}
