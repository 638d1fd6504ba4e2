import Dispatch
import Foundation

// One thread policy for every CPU, and results that do not depend on it.

/// How the library uses the cores, chosen so that every result is bitwise independent of the
/// number of threads.
///
/// - **OpenBLAS runs on one thread, always.** It is opened with `OPENBLAS_NUM_THREADS=1`
///   (whatever the environment says), so it starts no threads of its own: no thread spins
///   waiting for work, and no product's rounding depends on how OpenBLAS would split it
///   (its threaded splits, its small-matrix and gemv paths differ with the thread count).
/// - **Large products are split by index.** A product of at least
///   ``parallelMultiplyAdds`` multiply–adds is cut into tiles of the output whose sizes depend
///   only on the product's shape — blocks of columns, or of rows when there are few columns —
///   and ``workers`` threads take tiles until none is left. Each tile is one single-threaded
///   OpenBLAS call, so which worker computes a tile, and how many workers there are, cannot
///   change a bit of the result. Smaller products are one call on the calling thread (on these
///   sizes synchronising threads costs more than it saves).
/// - **The SIM exact solver** runs one lane per worker; each lane iterates a few rows together
///   and takes the next row in index order when one finishes. A row's arithmetic depends on the
///   row alone (see ``SIMExactSolver``), so the lane it lands in changes no bit.
/// - **An implicit model's training batch** of 64 samples or more is cut into fixed blocks of
///   columns, by the batch size only (``batchBlocks(columns:)``); each block's forward and
///   backward fixed points and weight-gradient shares are one task, and the shares are summed in
///   block order (see ``ImplicitModel/callAsFunction(_:)``). The optimizer updates large
///   parameters in fixed chunks of weights (``Adam``).
///
/// ``workers`` is the number of cores by default; the environment variable `IDL_THREADS`
/// (a positive integer) or an assignment to it changes it — and nothing else. Nested parallel
/// work (a product inside a SIM block) runs on its caller's thread, with the same tiles.
public enum ThreadPolicy {
    /// Products with at least this many multiply–adds (m·n·k) are split into tiles: about
    /// 16 million, a few hundred microseconds of one core, far above the cost of waking a
    /// worker.
    public static let parallelMultiplyAdds = 1 << 24

    /// The least work of one tile (multiply–adds): tiles are multiples of 64 columns (or rows)
    /// at least this large.
    static let tileMultiplyAdds = 1 << 23

    /// The number of threads that take tiles of large products and blocks of SIM rows: the
    /// environment's `IDL_THREADS` if it is a positive integer, otherwise the number of
    /// active processors. Setting it (≥ 1) changes the speed, never a result.
    public static var workers: Int {
        get { state.withLock { $0.workers } }
        set { state.withLock { $0.workers = Swift.max(1, newValue) } }
    }

    /// One line for benchmark headers and manifests, e.g. "OpenBLAS 1 thread (SkylakeX kernels);
    /// products ≥ 16.8 M multiply-adds in fixed tiles over 2 workers; implicit-model batches of
    /// ≥ 64 samples in fixed blocks of columns; SIM rows in one lane per worker".
    public static var description: String {
        let size = Double(parallelMultiplyAdds) / 1e6
        let rounded = (size * 10).rounded() / 10
        return
            "OpenBLAS \(blasThreads) thread (\(blasCoreName) kernels); products ≥ \(rounded) M multiply-adds in fixed tiles over \(workers) worker\(workers == 1 ? "" : "s"); implicit-model batches of ≥ \(2 * minimumBlockColumns) samples in fixed blocks of columns; SIM rows in one lane per worker"
    }

    struct State {
        var workers: Int
        var activeRegions = 0
    }

    static let state = LockedValue(
        State(
            workers: {
                if let text = ProcessInfo.processInfo.environment["IDL_THREADS"], let n = Int(text), n > 0 {
                    return n
                }
                return Swift.max(1, ProcessInfo.processInfo.activeProcessorCount)
            }()))

    /// Runs `body(i)` for every i in 0..<count, on up to ``workers`` threads (each takes the next
    /// index until none is left), or in order on the calling thread when there is one worker or
    /// this is already inside such a loop. `body` must write disjoint results for different i.
    ///
    /// - Parameters:
    ///   - count: The number of tasks.
    ///   - body: The task for one index; called exactly once per index.
    public static func forEachTask(_ count: Int, _ body: (Int) -> Void) {
        if count <= 0 { return }
        let threads: Int = state.withLock { s in
            let n = s.activeRegions > 0 ? 1 : Swift.min(s.workers, count)
            if n > 1 { s.activeRegions += 1 }
            return n
        }
        if threads <= 1 {
            for i in 0..<count { body(i) }
            return
        }
        defer { state.withLock { $0.activeRegions -= 1 } }
        let next = LockedValue(0)
        withoutActuallyEscaping(body) { escapable in
            let task = UncheckedTask(body: escapable)
            DispatchQueue.concurrentPerform(iterations: threads) { _ in
                while true {
                    let i = next.withLock { v -> Int in
                        defer { v += 1 }
                        return v
                    }
                    if i >= count { break }
                    task.body(i)
                }
            }
        }
    }

    /// Runs `body` on contiguous ranges that cover 0..<count, one range per worker (fewer when
    /// there are fewer items), so that a task can reuse its buffers from item to item. Only
    /// for work whose items are computed the same way whichever range holds them (independent
    /// blocks of samples): then the result does not depend on the number of workers.
    ///
    /// - Parameters:
    ///   - count: The number of items.
    ///   - body: The task for one range of items; the ranges are disjoint.
    static func forEachRange(_ count: Int, _ body: (Range<Int>) -> Void) {
        if count <= 0 { return }
        let chunks = Swift.min(workers, count)
        forEachTask(chunks) { c in body((c * count / chunks)..<((c + 1) * count / chunks)) }
    }

    /// The tiles of an m×n×k product: (along columns?, tile size, tile count). One tile when
    /// the product is below ``parallelMultiplyAdds``. Depends on the shape only.
    static func tiles(m: Int, n: Int, k: Int) -> (alongColumns: Bool, size: Int, count: Int) {
        let (mn, overflowMN) = m.multipliedReportingOverflow(by: n)
        let (work, overflow) = mn.multipliedReportingOverflow(by: k)
        if !overflowMN && !overflow && work < parallelMultiplyAdds { return (true, n, 1) }
        func split(_ length: Int, other: Int) -> (size: Int, count: Int) {
            let perUnit = Swift.max(1, other * k)
            let wanted = (tileMultiplyAdds + perUnit - 1) / perUnit
            let size = Swift.max(64, (wanted + 63) / 64 * 64)
            return (size, (length + size - 1) / size)
        }
        let columns = split(n, other: m)
        if columns.count >= 2 { return (true, columns.size, columns.count) }
        let rows = split(m, other: n)
        if rows.count >= 2 { return (false, rows.size, rows.count) }
        return (true, n, 1)
    }

    /// C ← α·op(A)·op(B) + β·C as fixed tiles of single-threaded `kernel` calls (see the type).
    static func tiledGemm<T>(
        _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
        a: UnsafePointer<T>, lda: Int, b: UnsafePointer<T>, ldb: Int,
        c: UnsafeMutablePointer<T>, ldc: Int,
        kernel: (_ m: Int, _ n: Int, _ a: UnsafePointer<T>, _ b: UnsafePointer<T>, _ c: UnsafeMutablePointer<T>) -> Void
    ) {
        let plan = tiles(m: m, n: n, k: k)
        if plan.count <= 1 {
            kernel(m, n, a, b, c)
            return
        }
        let (aa, bb, cc) = (UncheckedPointer(a), UncheckedPointer(b), UncheckedPointer(UnsafePointer(c)))
        forEachTask(plan.count) { t in
            let start = t * plan.size
            if plan.alongColumns {
                let width = Swift.min(plan.size, n - start)
                let bt = transB == .none ? bb.pointer + start * ldb : bb.pointer + start
                kernel(m, width, aa.pointer, bt, UnsafeMutablePointer(mutating: cc.pointer) + start * ldc)
            } else {
                let height = Swift.min(plan.size, m - start)
                let at = transA == .none ? aa.pointer + start : aa.pointer + start * lda
                kernel(height, n, at, bb.pointer, UnsafeMutablePointer(mutating: cc.pointer) + start)
            }
        }
    }
}

/// A pointer handed to the workers of ``ThreadPolicy/forEachTask(_:_:)``, which write disjoint parts.
struct UncheckedPointer<T>: @unchecked Sendable {
    let pointer: UnsafePointer<T>
    init(_ pointer: UnsafePointer<T>) { self.pointer = pointer }
}

/// A mutable pointer handed to the workers of ``ThreadPolicy``, which write disjoint parts.
struct UncheckedMutablePointer<T>: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<T>
    init(_ pointer: UnsafeMutablePointer<T>) { self.pointer = pointer }
}

/// The task of ``ThreadPolicy/forEachTask(_:_:)``, which its caller promises may run concurrently.
struct UncheckedTask: @unchecked Sendable {
    let body: (Int) -> Void
}

/// A value behind a lock.
final class LockedValue<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }
    func withLock<R>(_ body: (inout Value) -> R) -> R {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
}
