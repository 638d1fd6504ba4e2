#if canImport(Glibc)
    @preconcurrency import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Progress of long work (epochs and batches, SIM rows), printed to standard error: a bar with
/// rate and ETA redrawn in place on a terminal, plain periodic lines otherwise (logs, CI), or
/// nothing when quiet.
public final class ProgressReporter: @unchecked Sendable {
    /// How progress is shown.
    public enum Style: Sendable {
        /// Decide from whether standard error is a terminal.
        case automatic
        /// A bar redrawn in place.
        case bar
        /// One line every `linePeriod` seconds and at the end.
        case lines
        /// Nothing.
        case quiet
    }

    private let label: String
    private let total: Int
    private let style: Style
    private let linePeriod: Double
    private var done = 0
    private let start: Double
    private var lastPrint: Double = -1e9
    private let lock = PosixMutex()

    /// Starts reporting `total` units of work named `label` (e.g. "epoch 3", "rows").
    public init(_ label: String, total: Int, style: Style = .automatic, linePeriod: Double = 10) {
        self.label = label
        self.total = max(1, total)
        switch style {
        case .automatic: self.style = isatty(STDERR_FILENO) != 0 ? .bar : .lines
        default: self.style = style
        }
        self.linePeriod = linePeriod
        self.start = monotonicSeconds()
    }

    /// Records `count` more units done (thread-safe) and redraws when due.
    public func advance(by count: Int = 1) {
        lock.withLock { record(min(total, done + count)) }
    }

    /// Records that `completed` units are done in all (for callbacks that report totals).
    public func update(completed: Int) {
        lock.withLock { record(min(total, max(done, completed))) }
    }

    /// Sets the count (the caller holds the lock) and redraws when due.
    private func record(_ newDone: Int) {
        done = newDone
        let now = monotonicSeconds()
        let due: Bool
        switch style {
        case .bar: due = now - lastPrint >= 0.1 || done == total
        case .lines: due = now - lastPrint >= linePeriod && done < total
        default: due = false
        }
        if due {
            lastPrint = now
            print(line(now: now), terminator: style == .bar ? "\r" : "\n")
        }
    }

    /// Ends the report with a final line (the bar is completed and a newline written).
    public func finish(_ message: String = "") {
        lock.withLock {
            guard style != .quiet else { return }
            let now = monotonicSeconds()
            print(line(now: now) + (message.isEmpty ? "" : "  " + message), terminator: "\n")
        }
    }

    private func line(now: Double) -> String {
        let elapsed = now - start
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let fraction = Double(done) / Double(total)
        var s = label + " "
        if style == .bar {
            let width = 24
            let filled = Int(fraction * Double(width))
            s += "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] "
        }
        s +=
            "\(done)/\(total) (\(formatFixed(100 * fraction, decimals: 0)) %), \(formatFixed(rate, decimals: rate < 10 ? 1 : 0))/s, "
        s += done == total ? "\(formatFixed(elapsed, decimals: 1)) s" : "ETA \(formatFixed(eta, decimals: 0)) s"
        return s
    }

    private func print(_ text: String, terminator: String) {
        var out = Array((text + terminator).utf8)
        out.withUnsafeMutableBytes { p in _ = write(STDERR_FILENO, p.baseAddress, p.count) }
    }
}

/// Seconds on a monotonic clock.
public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// A minimal mutex (pthread), so the core library does not need Foundation for locking.
final class PosixMutex: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    init() { pthread_mutex_init(&mutex, nil) }
    deinit { pthread_mutex_destroy(&mutex) }
    func withLock<R>(_ body: () throws -> R) rethrows -> R {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return try body()
    }
}

/// Makes standard output line-buffered, so a program's printed progress appears line by line
/// even when redirected to a file or a pipe (benchmarks and experiments call this first).
public func useLineBufferedStandardOutput() {
    setvbuf(stdout, nil, _IOLBF, 0)
}
