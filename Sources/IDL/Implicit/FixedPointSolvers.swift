import RealModule

/// What a fixed-point solve did: whether it converged, in how many iterations, and the final
/// residual ‖x_{k+1} − x_k‖ (largest absolute entry). Returned with every solve, forward and
/// backward, so a training loop can log and count non-convergence instead of ignoring it.
public struct SolverStatistics: Sendable, Equatable, CustomStringConvertible {
    /// Whether the residual fell below the tolerance within the iteration budget.
    public var converged: Bool
    /// Number of applications of the map.
    public var iterations: Int
    /// The last residual ‖x_{k+1} − x_k‖_max.
    public var residual: Double
    /// The residual after each iteration, when the solver was asked to record it.
    public var residualTrace: [Double]

    /// Statistics of a solve, as a solver reports them.
    ///
    /// - Parameters:
    ///   - converged: Whether the residual met the stopping rule.
    ///   - iterations: The number of applications of the map.
    ///   - residual: The last residual ‖x_{k+1} − x_k‖_max.
    ///   - residualTrace: The residual after each iteration (empty unless recorded).
    public init(converged: Bool, iterations: Int, residual: Double, residualTrace: [Double] = []) {
        self.converged = converged
        self.iterations = iterations
        self.residual = residual
        self.residualTrace = residualTrace
    }

    /// The statistics of two solves of independent parts of one problem (blocks of columns):
    /// converged when both did, the larger iteration count with its trace, the larger residual.
    func combined(with other: SolverStatistics) -> SolverStatistics {
        let slower = other.iterations > iterations ? other : self
        let worst = residual.isNaN || other.residual.isNaN ? Double.nan : max(residual, other.residual)
        return SolverStatistics(
            converged: converged && other.converged, iterations: slower.iterations, residual: worst,
            residualTrace: slower.residualTrace)
    }

    public var description: String {
        "\(converged ? "converged" : "NOT converged") after \(iterations) iterations, residual \(formatScalar(residual, digits: 3))"
    }
}

/// A method for solving x = f(x) for a matrix x, such as Picard iteration or Anderson
/// acceleration. A solver is a value passed to the model (no global settings).
///
/// `map(x, out)` must write f(x) into `out` (same shape as x) without keeping references to
/// either buffer. The solve starts from `initial` and stops when ‖x_{k+1} − x_k‖_max < `tolerance`
/// (or below the element type's rounding floor, see `fixedPointResidual`) or after
/// `maxIterations` applications of f.
public protocol FixedPointSolver: Sendable {
    /// Solves x = f(x); returns the last iterate and the statistics.
    func solve<T: BLASScalar>(
        initial: Matrix<T>, tolerance: Double, maxIterations: Int,
        map: (_ x: Matrix<T>, _ out: inout Matrix<T>) -> Void
    ) -> (solution: Matrix<T>, statistics: SolverStatistics)
}

/// The residual of one fixed-point step, ‖next − current‖_max, and whether it meets the
/// stopping rule: below `tolerance`, or at the rounding floor of the element type,
/// 16·ε·max(1, ‖next‖_max) (ε = 1.2e-7 in Float, 2.2e-16 in Double).
///
/// The floor matters in Float: once the change is as small as the rounding of the entries
/// themselves, further iterations only shuffle rounding noise (torchidl, with an absolute 3e-6
/// in float32, then runs every solve to its iteration cap). In Double the floor is ~1e-15 and
/// torchidl's tolerances apply unchanged.
@inlinable
func fixedPointResidual<T: BLASScalar>(_ next: Matrix<T>, _ current: Matrix<T>, tolerance: Double) -> (
    residual: Double, done: Bool
) {
    let (d, size) = next.storage.withUnsafeBufferPointer { ap in
        current.storage.withUnsafeBufferPointer { bp in T.maxAbsDifference(ap, bp) }
    }
    let residual = Double(d)
    let floor = 16 * Double(T.ulpOfOne) * max(1, Double(size))
    return (residual, residual < max(tolerance, floor))
}

/// Copies the entries of `source` into `destination` (same count) with one memcpy.
@inlinable
func copyEntries<T: BLASScalar>(_ source: UnsafeBufferPointer<T>, into destination: UnsafeMutablePointer<T>) {
    guard let base = source.baseAddress, source.count > 0 else { return }
    UnsafeMutableRawPointer(destination).copyMemory(from: base, byteCount: source.count * MemoryLayout<T>.stride)
}

/// Picard (fixed-point) iteration x_{k+1} = f(x_k), torchidl's solver. Converges linearly for
/// a contraction; for an implicit model with ‖A‖∞ ≤ κ < 1 and 1-Lipschitz φ the rate is κ.
public struct Picard: FixedPointSolver {
    /// Whether to keep every residual in the statistics (for plots).
    public var recordTrace: Bool
    /// - Parameter recordTrace: Whether to keep every residual in the statistics.
    public init(recordTrace: Bool = false) { self.recordTrace = recordTrace }

    /// Iterates x_{k+1} = f(x_k) from `initial` until the residual meets the stopping rule
    /// (see ``FixedPointSolver``) or `maxIterations` (at least 1) maps have been applied.
    ///
    /// - Parameters:
    ///   - initial: The starting point x₀.
    ///   - tolerance: The stopping threshold on ‖x_{k+1} − x_k‖_max.
    ///   - maxIterations: The iteration budget.
    ///   - map: Writes f(x) into its second argument.
    /// - Returns: The last iterate and the statistics; `converged` is false when the budget ran
    ///   out or the residual became NaN (the solve stops at once then).
    /// - Complexity: Per iteration one application of `map` plus O(N) for the residual, N the
    ///   number of entries of x; memory for two copies of x.
    public func solve<T: BLASScalar>(
        initial: Matrix<T>, tolerance: Double, maxIterations: Int,
        map: (_ x: Matrix<T>, _ out: inout Matrix<T>) -> Void
    ) -> (solution: Matrix<T>, statistics: SolverStatistics) {
        var x = initial
        var next = initial
        var trace = [Double]()
        var residual = Double.infinity
        for k in 1...max(1, maxIterations) {
            map(x, &next)
            let (r, done) = fixedPointResidual(next, x, tolerance: tolerance)
            residual = r
            if recordTrace { trace.append(residual) }
            swap(&x, &next)
            if done {
                return (x, SolverStatistics(converged: true, iterations: k, residual: residual, residualTrace: trace))
            }
            if residual.isNaN {
                return (x, SolverStatistics(converged: false, iterations: k, residual: residual, residualTrace: trace))
            }
        }
        return (
            x,
            SolverStatistics(
                converged: false, iterations: max(1, maxIterations), residual: residual, residualTrace: trace)
        )
    }
}

/// Anderson acceleration (type II) of the fixed-point map: each step mixes the last `memory`
/// iterates with weights α minimising ‖Σ αᵢ gᵢ‖² subject to Σ αᵢ = 1, where gᵢ = f(xᵢ) − xᵢ,
/// then x_{k+1} = (1 − β) Σ αᵢ xᵢ + β Σ αᵢ f(xᵢ). The small least-squares problem is solved through
/// its regularised normal equations (ridge `regularization` relative to the Gram matrix's scale).
/// Typically needs several times fewer iterations than Picard when κ is close to 1.
public struct Anderson: FixedPointSolver {
    /// Number of past iterates mixed (m).
    public var memory: Int
    /// Mixing parameter β (1 = undamped).
    public var beta: Double
    /// Relative ridge regularisation of the mixing problem.
    public var regularization: Double
    /// Whether to keep every residual in the statistics.
    public var recordTrace: Bool

    /// - Parameters:
    ///   - memory: The number m of past iterates mixed; values below 1 are treated as 1.
    ///   - beta: The mixing parameter β (1 = undamped).
    ///   - regularization: The ridge of the mixing problem, relative to the largest diagonal
    ///     entry of its Gram matrix.
    ///   - recordTrace: Whether to keep every residual in the statistics.
    public init(memory: Int = 5, beta: Double = 1.0, regularization: Double = 1e-8, recordTrace: Bool = false) {
        self.memory = max(1, memory)
        self.beta = beta
        self.regularization = regularization
        self.recordTrace = recordTrace
    }

    /// Solves x = f(x) from `initial` with Anderson mixing of the last `memory` iterates; the
    /// first step, and any step whose mixing problem is singular or degenerate, is a plain
    /// Picard step. Stops as ``FixedPointSolver`` describes.
    ///
    /// - Parameters:
    ///   - initial: The starting point x₀.
    ///   - tolerance: The stopping threshold on ‖f(x_k) − x_k‖_max.
    ///   - maxIterations: The iteration budget (at least 1).
    ///   - map: Writes f(x) into its second argument.
    /// - Returns: The image f(x_k) of the last iterate and the statistics; `converged` is false
    ///   when the budget ran out or the residual became NaN.
    /// - Complexity: Per iteration one application of `map`, O(N·m²) for the Gram matrix of the
    ///   residual history, O(m³) for its Cholesky solve and O(N·m) for the mixing, with N the
    ///   number of entries of x and m = `memory`; memory for 3m + 2 copies of x.
    public func solve<T: BLASScalar>(
        initial: Matrix<T>, tolerance: Double, maxIterations: Int,
        map: (_ x: Matrix<T>, _ out: inout Matrix<T>) -> Void
    ) -> (solution: Matrix<T>, statistics: SolverStatistics) {
        let size = initial.count
        let mem = memory
        // History as column-major N×m matrices: iterates X and their images F = f(X).
        var xs = Matrix<T>(rows: size, cols: mem)
        var fs = Matrix<T>(rows: size, cols: mem)
        var gs = Matrix<T>(rows: size, cols: mem)  // residuals f(x) − x
        var x = initial
        var fx = initial
        var trace = [Double]()
        var residual = Double.infinity
        var gram = Matrix<T>(rows: mem, cols: mem)
        let iterations = max(1, maxIterations)
        for k in 0..<iterations {
            map(x, &fx)
            let (r, done) = fixedPointResidual(fx, x, tolerance: tolerance)
            residual = r
            if recordTrace { trace.append(residual) }
            if done || residual.isNaN {
                return (
                    fx, SolverStatistics(converged: done, iterations: k + 1, residual: residual, residualTrace: trace)
                )
            }
            // Store column k mod m.
            let slot = k % mem
            let filled = min(k + 1, mem)
            x.storage.withUnsafeBufferPointer { xp in
                fx.storage.withUnsafeBufferPointer { fp in
                    xs.storage.withUnsafeMutableBufferPointer { xsp in
                        fs.storage.withUnsafeMutableBufferPointer { fsp in
                            gs.storage.withUnsafeMutableBufferPointer { gsp in
                                let base = slot * size
                                copyEntries(xp, into: xsp.baseAddress! + base)
                                copyEntries(fp, into: fsp.baseAddress! + base)
                                copyEntries(fp, into: gsp.baseAddress! + base)
                                T.axpy(n: size, alpha: -1, x: xp.baseAddress!, y: gsp.baseAddress! + base)
                            }
                        }
                    }
                }
            }
            if filled == 1 {
                swap(&x, &fx)  // plain Picard step to start
                continue
            }
            // Gram matrix H = GᵀG over the filled columns (columns 0..<filled of the ring buffer).
            let gFilled = filled == mem ? gs : gs.columns(0..<filled)
            var h = filled == mem ? gram : Matrix<T>(rows: filled, cols: filled)
            gemm(gFilled, gFilled, into: &h, transposeA: true)
            if filled == mem { gram = h }
            // Solve (H + λI) w = 1, α = w / Σw.
            var scale: T = 0
            for i in 0..<filled { scale = max(scale, h[i, i]) }
            let ridge = T(regularization) * max(scale, T.leastNormalMagnitude)
            for i in 0..<filled { h[i, i] += ridge }
            let ones = Matrix<T>(rows: filled, cols: 1, repeating: 1)
            guard let w = try? h.choleskySolve(ones) else {
                swap(&x, &fx)
                continue
            }
            let total = w.sum()
            guard total != 0, total.isFinite else {
                swap(&x, &fx)
                continue
            }
            let alpha = w * (1 / total)
            // x_{k+1} = β F α + (1 − β) X α, written straight into x's storage.
            let b = T(beta)
            alpha.storage.withUnsafeBufferPointer { ap in
                x.storage.withUnsafeMutableBufferPointer { xp in
                    fs.storage.withUnsafeBufferPointer { fsp in
                        T.gemv(
                            .none, m: size, n: filled, alpha: b, a: fsp.baseAddress!, lda: size,
                            x: ap.baseAddress!, incx: 1, beta: 0, y: xp.baseAddress!, incy: 1)
                    }
                    if beta != 1 {
                        xs.storage.withUnsafeBufferPointer { xsp in
                            T.gemv(
                                .none, m: size, n: filled, alpha: 1 - b, a: xsp.baseAddress!, lda: size,
                                x: ap.baseAddress!, incx: 1, beta: 1, y: xp.baseAddress!, incy: 1)
                        }
                    }
                }
            }
        }
        return (
            fx, SolverStatistics(converged: false, iterations: iterations, residual: residual, residualTrace: trace)
        )
    }
}
