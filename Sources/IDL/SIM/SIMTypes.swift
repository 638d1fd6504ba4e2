import RealModule

// The data, options and results of state-driven implicit modeling (SIM).

/// The states of a trained explicit network, collected for SIM. Columns are samples.
///
/// - `inputs` U (p×m), `states` X (n×m, post-activations), `preActivations` Z (n×m),
///   `outputs` Y (q×m).
///
/// SIM fits A, B, C, D with Z ≈ A X + B U and Y ≈ C X + D U, and the fitted model computes
/// X = φ(A X + B U) with the network's activation φ (``activation``). The states of a network
/// with biases carry a constant-one last row in U (``constantInputRow``): a bias b of a layer
/// is then the column of B (or D) that multiplies it, so Z = A X + B U holds exactly as for a
/// bias-free network.
public struct SIMStates<T: BLASScalar>: Sendable {
    /// U, p×m.
    public let inputs: Matrix<T>
    /// X, n×m: the post-activation states, stacked last layer first.
    public let states: Matrix<T>
    /// Z, n×m: the pre-activations, stacked like X.
    public let preActivations: Matrix<T>
    /// Y, q×m: the network's outputs.
    public let outputs: Matrix<T>
    /// φ, the activation that maps Z to X (the one the fitted model iterates).
    public let activation: any Activation
    /// Whether the last row of U is the constant 1 that carries the network's biases (it is not
    /// one of the raw input features: models fitted to these states append it to raw inputs).
    public let constantInputRow: Bool

    /// Number of samples m.
    public var sampleCount: Int { inputs.cols }
    /// Number of hidden states n.
    public var stateCount: Int { states.rows }
    /// Input dimension p.
    public var inputCount: Int { inputs.rows }
    /// Output dimension q.
    public var outputCount: Int { outputs.rows }

    /// Validates and stores the four matrices.
    ///
    /// - Parameters:
    ///   - inputs: U, p×m.
    ///   - states: X = φ(Z), n×m.
    ///   - preActivations: Z, n×m.
    ///   - outputs: Y, q×m.
    ///   - activation: φ (ReLU unless the network used another).
    ///   - constantInputRow: Whether the last row of U is the constant 1 carrying the biases.
    /// - Throws: ``IDLError/shapeMismatch(_:)`` when the sample counts (columns) differ, when Z
    ///   and X have different row counts, or when there are no samples;
    ///   ``IDLError/nonFinite(_:)`` when any entry is NaN or ±∞ (naming the matrix);
    ///   ``IDLError/invalidArgument(_:)`` when `constantInputRow` is set but the last row of U
    ///   is not all ones.
    public init(
        inputs: Matrix<T>, states: Matrix<T>, preActivations: Matrix<T>, outputs: Matrix<T>,
        activation: any Activation = ReLU(), constantInputRow: Bool = false
    ) throws {
        let m = inputs.cols
        for (name, mat) in [("states X", states), ("pre-activations Z", preActivations), ("outputs Y", outputs)]
        where mat.cols != m {
            throw IDLError.shapeMismatch(
                "SIM needs the same number of samples (columns) in U, X, Z and Y: inputs U is \(inputs.shapeDescription) (m = \(m)) but \(name) is \(mat.shapeDescription)"
            )
        }
        guard m > 0 else {
            throw IDLError.shapeMismatch("SIM needs at least one sample, got matrices with 0 columns")
        }
        guard preActivations.rows == states.rows else {
            throw IDLError.shapeMismatch(
                "pre-activations Z (\(preActivations.shapeDescription)) and states X (\(states.shapeDescription)) must have the same number of rows n"
            )
        }
        for (name, mat) in [
            ("inputs U", inputs), ("states X", states), ("pre-activations Z", preActivations), ("outputs Y", outputs),
        ]
        where !mat.isFinite {
            let bad = mat.storage.firstIndex { !$0.isFinite }!
            throw IDLError.nonFinite(
                "SIM \(name) (\(mat.shapeDescription)) holds \(mat.storage[bad]) at row \(bad % mat.rows), column \(bad / mat.rows); all states must be finite"
            )
        }
        if constantInputRow {
            guard inputs.rows >= 1, (0..<m).allSatisfy({ inputs[inputs.rows - 1, $0] == 1 }) else {
                throw IDLError.invalidArgument(
                    "constantInputRow says the last row of U (\(inputs.shapeDescription)) is the constant 1 of the biases, but it is not all ones"
                )
            }
        }
        self.inputs = inputs
        self.states = states
        self.preActivations = preActivations
        self.outputs = outputs
        self.activation = activation
        self.constantInputRow = constantInputRow
    }
}

/// How the equilibrium X = φ(A X + B U) of a fitted model is computed when a SIM fit
/// regenerates its states (torchidl's `atol` and the iteration budget of its
/// `fixpoint_iteration`).
///
/// Picard iteration stops when the largest entry change ‖X_{k+1} − X_k‖_max falls below the
/// tolerance, or after `maxIterations`. (torchidl's `atol` bounds `torch.linalg.norm(·, inf)`
/// of the n×m change, the largest row sum over the samples, so its test is stricter by up to a
/// factor m for the same number.)
public struct SIMEquilibriumSettings: Sendable, Equatable {
    /// The absolute stopping threshold on the largest entry change; nil: 1e-10 × max(1, largest
    /// |entry| of the recorded states).
    public var tolerance: Double?
    /// The Picard iteration budget.
    public var maxIterations: Int

    /// Settings with the given tolerance (nil: relative to the states' scale) and budget.
    public init(tolerance: Double? = nil, maxIterations: Int = 2000) {
        self.tolerance = tolerance
        self.maxIterations = maxIterations
    }
}

/// How stage 1 keeps the fitted implicit model well posed.
public enum SIMWellPosedness: Sendable, Equatable {
    /// ‖A‖∞ ≤ κ with 0 < κ < 1: every row a of A lies in the ℓ1 ball of radius κ.
    case infinityNorm(kappa: Double)
    /// A strictly upper triangular: row i of A may only use states j > i (a feedforward
    /// structure, well posed whatever the norm). No norm constraint.
    case strictlyUpperTriangular
    /// No constraint at all (the fit may not be well posed).
    case unconstrained

    /// The constraint as the row solvers apply it: the ℓ1-ball radius on each row's a-block
    /// (∞ when there is none) and whether row i may only use states j > i.
    func rowConstraint<T: BLASScalar>(as _: T.Type = T.self) -> (radius: T, triangular: Bool) {
        switch self {
        case .infinityNorm(let kappa): return (T(kappa), false)
        case .strictlyUpperTriangular: return (T.infinity, true)
        case .unconstrained: return (T.infinity, false)
        }
    }

    /// Checks κ ∈ (0, 1).
    /// - Throws: ``IDLError/invalidArgument(_:)`` otherwise.
    public func validate() throws {
        if case .infinityNorm(let kappa) = self {
            guard kappa > 0, kappa < 1, kappa.isFinite else {
                throw IDLError.invalidArgument(
                    "the well-posedness bound κ must lie in (0, 1) so that ‖A‖∞ ≤ κ < 1, got κ = \(kappa)")
            }
        }
    }
}

/// Per-row ℓ1 caps on B, C and D, for SIM fits aimed at robustness (``SIMExactSolver/caps``).
///
/// The certified ℓ∞ Lipschitz constant of an implicit model with a 1-Lipschitz φ is
/// L ≤ ‖C‖∞‖B‖∞/(1 − ‖A‖∞) + ‖D‖∞ (``LipschitzCertificate``), and ‖M‖∞ is the largest ℓ1 norm of
/// a row of M. Capping every row's ℓ1 norm (‖bᵢ‖₁ ≤ b in stage 1, ‖cᵢ‖₁ ≤ c and ‖dᵢ‖₁ ≤ d in
/// stage 2) beside ‖A‖∞ ≤ κ keeps each row problem convex and bounds L by c·b/(1 − κ) + d.
public struct SIMRowCaps: Sendable, Equatable {
    /// ‖bᵢ‖₁ ≤ b for every row of B (so ‖B‖∞ ≤ b); nil: no cap.
    public var b: Double?
    /// ‖cᵢ‖₁ ≤ c for every row of C (so ‖C‖∞ ≤ c); nil: no cap.
    public var c: Double?
    /// ‖dᵢ‖₁ ≤ d for every row of D (so ‖D‖∞ ≤ d); nil: no cap.
    public var d: Double?

    /// Caps with the given radii (nil: no cap).
    public init(b: Double? = nil, c: Double? = nil, d: Double? = nil) {
        self.b = b
        self.c = c
        self.d = d
    }

    /// Checks that every cap given is finite and positive.
    /// - Throws: ``IDLError/invalidArgument(_:)`` otherwise.
    public func validate() throws {
        for (name, cap) in [("B", b), ("C", c), ("D", d)] {
            if let cap, !(cap > 0 && cap.isFinite) {
                throw IDLError.invalidArgument(
                    "the row ℓ1 cap on \(name) must be finite and positive, got \(cap); leave it out for no cap")
            }
        }
    }
}

/// Statistics of one row problem of a SIM stage.
public struct SIMRowStatistics: Sendable, Equatable {
    /// Iterations the solver spent on the row.
    public var iterations: Int
    /// Primal objective λ(‖a‖₁+‖b‖₁) + ½‖z − Xᵀa − Uᵀb‖² (+ ½λ₂‖w‖²) of the returned row.
    public var objective: Double
    /// The duality gap certified for the returned row (≥ 0; an upper bound on objective − optimum),
    /// or NaN when the solver does not certify (e.g. λ = 0 least squares).
    public var gap: Double
    /// Whether the solver's stopping rule was met (gap ≤ tol·max(1, |objective|) for the exact solver).
    public var converged: Bool

    /// Statistics with the given values.
    public init(iterations: Int, objective: Double, gap: Double, converged: Bool) {
        self.iterations = iterations
        self.objective = objective
        self.gap = gap
        self.converged = converged
    }
}

/// The outcome of one SIM stage: one row of coefficients per target row.
public struct SIMStageResult<T: BLASScalar>: Sendable {
    /// The coefficients, rows×(n+p): row i is (aᵢ, bᵢ) for stage 1, (cᵢ, dᵢ) for stage 2.
    public var weights: Matrix<T>
    /// Per-row statistics (empty when the solver does not report per row).
    public var rows: [SIMRowStatistics]
    /// Warnings, e.g. a constraint the solver ignores.
    public var warnings: [String]
    /// The stage's objective after each iteration, when the solver records it (e.g.
    /// ``SIMADMMSolver/recordObjective``); empty otherwise.
    public var objectiveTrace: [Double]

    /// A stage result (for solvers written outside the library, too).
    public init(weights: Matrix<T>, rows: [SIMRowStatistics], warnings: [String] = [], objectiveTrace: [Double] = []) {
        self.weights = weights
        self.rows = rows
        self.warnings = warnings
        self.objectiveTrace = objectiveTrace
    }
}

/// What a SIM fit reports besides the matrices.
public struct SIMReport: Sendable {
    /// Wall-clock seconds of stage 1 (A, B).
    public var stage1Seconds: Double = 0
    /// Wall-clock seconds of regenerating the states (0 when not regenerated).
    public var regenerationSeconds: Double = 0
    /// Wall-clock seconds of stage 2 (C, D).
    public var stage2Seconds: Double = 0
    /// Rows solved in stage 1 and in stage 2.
    public var rowsSolved: (stage1: Int, stage2: Int) = (0, 0)
    /// The largest duality gap over all rows of both stages (NaN if the solver does not certify).
    public var maxGap: Double = .nan
    /// Rows whose stopping rule was not met.
    public var unconvergedRows: Int = 0
    /// ‖A‖∞, the largest absolute row sum of the fitted A.
    public var infinityNormA: Double = 0
    /// Whether the requested well-posedness holds for the fitted A (‖A‖∞ ≤ κ, or A strictly
    /// upper triangular; always true for `.unconstrained`).
    public var wellPosednessMet: Bool = true
    /// Exact zeros in A, B, C, D.
    public var zeros: (a: Int, b: Int, c: Int, d: Int) = (0, 0, 0, 0)
    /// Entries of A, B, C, D together.
    public var totalEntries: Int = 0
    /// Picard iterations of the state regeneration (0 when not regenerated).
    public var regenerationIterations: Int = 0
    /// Per-row statistics of stage 1 (rows of A, B).
    public var stage1Rows: [SIMRowStatistics] = []
    /// Per-row statistics of stage 2 (rows of C, D).
    public var stage2Rows: [SIMRowStatistics] = []
    /// Warnings from the solver (ignored constraints, unconverged rows).
    public var warnings: [String] = []
    /// The objective per iteration of stage 1 and of stage 2, when the solver records it
    /// (``SIMStageResult/objectiveTrace``).
    public var objectiveTraces: (stage1: [Double], stage2: [Double]) = ([], [])

    /// Share of exact zeros over all entries of A, B, C, D (0 for empty matrices).
    public var sparsity: Double {
        totalEntries == 0 ? 0 : Double(zeros.a + zeros.b + zeros.c + zeros.d) / Double(totalEntries)
    }

    /// An empty report (all zeros, `maxGap` NaN).
    public init() {}
}

/// A fitted state-driven implicit model: X = φ(A X + B U), Ŷ = C X + D U.
public struct SIMFit<T: BLASScalar>: Sendable {
    /// A (n×n): state to state.
    public var A: Matrix<T>
    /// B (n×p): input to state.
    public var B: Matrix<T>
    /// C (q×n): state to output.
    public var C: Matrix<T>
    /// D (q×p): input to output.
    public var D: Matrix<T>
    /// Times, gaps, norms and sparsity of the fit.
    public var report: SIMReport

    /// A fit from its matrices and report.
    public init(A: Matrix<T>, B: Matrix<T>, C: Matrix<T>, D: Matrix<T>, report: SIMReport) {
        self.A = A
        self.B = B
        self.C = C
        self.D = D
        self.report = report
    }
}

/// Progress of a SIM fit: `(rowsDone, totalRows)` over both stages. Called from worker
/// threads, so it must be thread safe.
public typealias SIMProgress = @Sendable (_ rowsDone: Int, _ totalRows: Int) -> Void

/// A SIM solver: fits (A, B, C, D) to the states of a trained network.
///
/// Implement ``fitStage(features:targets:stateCount:lambda:constraint:progress:)`` to solve one
/// stage's rows, and the default ``fit(_:progress:)`` runs the two stages: (A, B) from Z with the
/// solver's well-posedness constraint, optionally regenerates X with the fitted (A, B), then
/// (C, D) from Y without constraint. Override `fit` for a solver that works differently.
public protocol SIMSolver: Sendable {
    /// A short name for reports ("exact (FISTA)", "least squares", …).
    var name: String { get }
    /// λ, the weight of the ℓ₁ penalty, in stage 1 (the rows of A, B).
    var lambdaState: Double { get }
    /// λ, the weight of the ℓ₁ penalty, in stage 2 (the rows of C, D).
    var lambdaOutput: Double { get }
    /// The stage-1 constraint.
    var wellPosedness: SIMWellPosedness { get }
    /// Entries with |w| < zeroThreshold are set to exact zero.
    var zeroThreshold: Double { get }
    /// Whether stage 2 uses states regenerated with the fitted (A, B).
    var regenerateStates: Bool { get }
    /// The tolerance and budget of that regeneration (default: ``SIMEquilibriumSettings/init(tolerance:maxIterations:)``).
    var equilibrium: SIMEquilibriumSettings { get }

    /// Solves, for every row t of `targets` (rows×m), the row problem over w = (a, b):
    /// minimize λ‖w‖₁ + ½‖t − Mᵀw‖² with M = `features` = [X; U] ((n+p)×m), a = w[0..<n],
    /// subject to `constraint` on a.
    ///
    /// - Parameters:
    ///   - features: M = [X; U], (n+p) × m.
    ///   - targets: One row problem per row, rows × m (Z in stage 1, Y in stage 2).
    ///   - stateCount: n, the number of leading entries of w that form a (the constrained part).
    ///   - lambda: The ℓ₁ weight λ ≥ 0.
    ///   - constraint: The well-posedness constraint on a.
    ///   - progress: Called with the number of rows finished so far, or nil.
    /// - Returns: The weights W (rows × (n+p)) and per-row diagnostics.
    /// - Throws: ``IDLError/shapeMismatch(_:)`` when the sample counts differ or n exceeds the
    ///   rows of M; ``IDLError/invalidArgument(_:)`` for λ < 0 or an invalid hyperparameter;
    ///   ``IDLError/nonFinite(_:)`` for NaN or ±∞ data; other ``IDLError`` cases as each solver
    ///   documents (e.g. ``IDLError/numerical(_:)`` when a factorisation fails).
    func fitStage<T: BLASScalar>(
        features: Matrix<T>, targets: Matrix<T>, stateCount: Int, lambda: Double,
        constraint: SIMWellPosedness, progress: (@Sendable (Int) -> Void)?
    ) throws -> SIMStageResult<T>

    /// Fits the whole model: (A, B) from Z = AX + BU, then (C, D) from Y = CX + DU.
    ///
    /// - Parameters:
    ///   - states: The recorded U, X, Z and Y.
    ///   - progress: Called with (rows done, rows in total) as rows finish, or nil.
    /// - Returns: The four matrices and the fit's report.
    /// - Throws: ``IDLError/invalidArgument(_:)`` for a negative or non-finite λ or zero
    ///   threshold, or an invalid hyperparameter of the solver; ``IDLError/shapeMismatch(_:)``,
    ///   ``IDLError/nonFinite(_:)``, ``IDLError/numerical(_:)`` or ``IDLError/unsupported(_:)``
    ///   from a stage, as ``fitStage(features:targets:stateCount:lambda:constraint:progress:)``
    ///   documents for the solver.
    func fit<T: BLASScalar>(_ states: SIMStates<T>, progress: SIMProgress?) throws -> SIMFit<T>
}
