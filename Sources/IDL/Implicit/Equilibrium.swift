/// Counts of fixed-point solves, forward and backward, so that a training loop can report how
/// many did not converge (per epoch: call ``reset()`` at the start of each).
public final class SolveLog {
    /// Forward (equilibrium) solves since the last reset.
    public private(set) var forwardSolves = 0
    /// Forward solves that reached the tolerance.
    public private(set) var forwardConverged = 0
    /// Total forward iterations.
    public private(set) var forwardIterations = 0
    /// Backward (adjoint) solves since the last reset.
    public private(set) var backwardSolves = 0
    /// Backward solves that reached the tolerance.
    public private(set) var backwardConverged = 0
    /// Total backward iterations.
    public private(set) var backwardIterations = 0
    /// The statistics of the most recent forward solve.
    public private(set) var lastForward: SolverStatistics?
    /// The statistics of the most recent backward solve.
    public private(set) var lastBackward: SolverStatistics?

    /// An empty log: all counts zero, no last solve.
    public init() {}

    /// Forgets all counts (e.g. at the start of an epoch).
    public func reset() {
        forwardSolves = 0
        forwardConverged = 0
        forwardIterations = 0
        backwardSolves = 0
        backwardConverged = 0
        backwardIterations = 0
    }

    func recordForward(_ s: SolverStatistics) {
        forwardSolves += 1
        forwardIterations += s.iterations
        if s.converged { forwardConverged += 1 }
        lastForward = s
    }

    func recordBackward(_ s: SolverStatistics) {
        backwardSolves += 1
        backwardIterations += s.iterations
        if s.converged { backwardConverged += 1 }
        lastBackward = s
    }

    /// Mean forward iterations per solve.
    public var meanForwardIterations: Double {
        forwardSolves == 0 ? 0 : Double(forwardIterations) / Double(forwardSolves)
    }
    /// Mean backward iterations per solve.
    public var meanBackwardIterations: Double {
        backwardSolves == 0 ? 0 : Double(backwardIterations) / Double(backwardSolves)
    }
    /// Forward solves that did not converge.
    public var forwardFailures: Int { forwardSolves - forwardConverged }
    /// Backward solves that did not converge.
    public var backwardFailures: Int { backwardSolves - backwardConverged }

    /// A one-line summary, with advice when solves failed to converge.
    public var summary: String {
        var s =
            "forward: \(forwardSolves) solves, mean \(formatFixed(meanForwardIterations, decimals: 1)) it, \(forwardFailures) not converged; "
        s +=
            "backward: \(backwardSolves) solves, mean \(formatFixed(meanBackwardIterations, decimals: 1)) it, \(backwardFailures) not converged"
        if forwardFailures + backwardFailures > 0 {
            s +=
                " (try the Anderson solver, a larger iteration budget, a looser tolerance in Float, or a smaller kappa)"
        }
        return s
    }
}

/// How to solve one fixed-point equation: the solver, its tolerance and iteration budget.
public struct FixedPointSettings: Sendable {
    /// The solver (Picard by default, as torchidl).
    public var solver: any FixedPointSolver
    /// Stop when ‖x_{k+1} − x_k‖_max < tolerance.
    public var tolerance: Double
    /// Iteration budget.
    public var maxIterations: Int

    /// - Parameters:
    ///   - solver: The fixed-point method (``Picard`` by default, as torchidl).
    ///   - tolerance: The stopping threshold on ‖x_{k+1} − x_k‖_max (torchidl's 3e-6).
    ///   - maxIterations: The largest number of applications of the map (torchidl's 300).
    public init(solver: any FixedPointSolver = Picard(), tolerance: Double = 3e-6, maxIterations: Int = 300) {
        self.solver = solver
        self.tolerance = tolerance
        self.maxIterations = maxIterations
    }
}

extension FixedPointSettings {
    /// Solves x = f(x) for a rows×cols matrix from x₀ = 0 with these settings.
    ///
    /// - Parameters:
    ///   - rows: Rows of x.
    ///   - cols: Columns of x.
    ///   - map: Writes f(x) into its second argument.
    /// - Returns: The solution and the solve's statistics.
    func solveFromZero<T: BLASScalar>(rows: Int, cols: Int, map: (_ x: Matrix<T>, _ out: inout Matrix<T>) -> Void)
        -> (solution: Matrix<T>, statistics: SolverStatistics)
    {
        solver.solve(
            initial: Matrix<T>(rows: rows, cols: cols), tolerance: tolerance, maxIterations: maxIterations, map: map)
    }
}

/// The implicit layer: X solving X = φ(A X + Z₀), as a node of the autodiff graph.
///
/// Forward: the fixed point is found by `forward.solver` from `initial` (zeros by default).
/// Backward (implicit differentiation, nothing unrolled): with Φ′ = φ′(A X + Z₀) and
/// G = ∂L/∂X, the adjoint V solves V = Φ′ ∘ (Aᵀ V) + Φ′ ∘ G (by `backward.solver`, from zero);
/// then ∂L/∂A = V Xᵀ and ∂L/∂Z₀ = V. Memory holds X and the inputs only, whatever the
/// number of iterations.
///
/// - Parameters:
///   - a: the n×n matrix A (already made well-posed by the caller).
///   - injection: Z₀ = B U, n×m.
///   - activation: the activation φ.
///   - forward: solver, tolerance and budget of the forward (state) solve.
///   - backward: solver, tolerance and budget of the backward (adjoint) solve.
///   - initial: the starting state X₀ (n×m), or nil for zeros.
///   - log: where to record the statistics of both solves.
public func equilibrium<T>(
    a: Tensor<T>, injection: Tensor<T>, activation: any Activation,
    forward: FixedPointSettings, backward: FixedPointSettings,
    initial: Matrix<T>? = nil, log: SolveLog? = nil
) -> Tensor<T> {
    let aValue = a.value
    let z0 = injection.value
    let start = initial ?? Matrix<T>(rows: z0.rows, cols: z0.cols)
    let (x, stats) = forward.solver.solve(
        initial: start, tolerance: forward.tolerance, maxIterations: forward.maxIterations
    ) { x, out in
        equilibriumMap(aValue, x, z0, activation, into: &out)
    }
    log?.recordForward(stats)
    return Tensor.custom(inputs: [a, injection], value: x) { g in
        // Φ′ at the fixed point.
        var dphi = z0
        gemm(aValue, x, into: &dphi, alpha: 1, beta: 1)
        activation.derivative(dphi, into: &dphi)
        let (v, bstats) = backward.solveFromZero(rows: g.rows, cols: g.cols) { v, out in
            adjointMap(aValue, v, g, dphi, into: &out)
        }
        log?.recordBackward(bstats)
        let ga = a.requiresGrad ? matmul(v, x, transposeB: true) : nil
        return [ga, v]
    }
}

/// out = φ(A x + z₀), without allocating.
@inlinable
func equilibriumMap<T>(
    _ a: Matrix<T>, _ x: Matrix<T>, _ z0: Matrix<T>, _ phi: any Activation, into out: inout Matrix<T>
) {
    out.storage.withUnsafeMutableBufferPointer { o in
        z0.storage.withUnsafeBufferPointer { z in copyEntries(z, into: o.baseAddress!) }
    }
    gemm(a, x, into: &out, alpha: 1, beta: 1)
    out.storage.withUnsafeMutableBufferPointer { o in
        phi.apply(UnsafeBufferPointer(o), into: o)
    }
}

/// out = Φ′ ∘ (Aᵀ v + g), without allocating.
@inlinable
func adjointMap<T>(_ a: Matrix<T>, _ v: Matrix<T>, _ g: Matrix<T>, _ dphi: Matrix<T>, into out: inout Matrix<T>) {
    out.storage.withUnsafeMutableBufferPointer { o in
        g.storage.withUnsafeBufferPointer { gp in copyEntries(gp, into: o.baseAddress!) }
    }
    gemm(a, v, into: &out, transposeA: true, alpha: 1, beta: 1)
    out.storage.withUnsafeMutableBufferPointer { o in
        dphi.storage.withUnsafeBufferPointer { d in T.multiplyInPlace(o, by: d) }
    }
}
