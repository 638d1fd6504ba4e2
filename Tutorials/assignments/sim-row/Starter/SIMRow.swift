import IDL

// Assignment 3 · The SIM row problem. The handout is sim-row/README.md.
// Write the bodies; keep the signatures (the grader calls them). Grade with
//     swift run -c release grade sim-row

/// Your functions for the sim-row assignment. The row problem, with X n×m (states), U p×m
/// (inputs) and z a target row of m values:
///
///     minimize P(a, b) = λ(‖a‖₁ + ‖b‖₁) + ½‖z − Xᵀa − Uᵀb‖²   subject to ‖a‖₁ ≤ κ
public enum SIMRow {
    /// Task 1. The Euclidean projection of v onto {x : ‖x‖₁ ≤ radius} (radius ≥ 0): v itself
    /// when it is already inside.
    public static func projectOntoL1Ball(_ v: [Double], radius: Double) throws -> [Double] {
        throw NotImplemented()
    }

    /// Task 2. P(a, b) and the duality gap P(a, b) − D(ρ) at the dual point the handout gives
    /// (ρ = s·r, r = z − Xᵀa − Uᵀb, s = min(1, λ/‖U r‖∞)).
    public static func objectiveAndGap(
        X: Matrix<Double>, U: Matrix<Double>, z: [Double], a: [Double], b: [Double], lambda: Double, kappa: Double
    ) throws -> (objective: Double, gap: Double) {
        throw NotImplemented()
    }

    /// Task 3. Solve the row problem by FISTA (or ADMM) from a = b = 0; stop when the duality gap
    /// of task 2 is ≤ tolerance·max(1, |P|) (return that gap) or after `maxIterations`.
    public static func solveRow(
        X: Matrix<Double>, U: Matrix<Double>, z: [Double], lambda: Double, kappa: Double, tolerance: Double,
        maxIterations: Int
    ) throws -> (a: [Double], b: [Double], gap: Double, iterations: Int) {
        throw NotImplemented()
    }
}
