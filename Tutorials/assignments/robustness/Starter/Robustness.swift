import IDL

// Assignment 4 · Certified and empirical robustness. The handout is robustness/README.md.
// Write the bodies; keep the signatures (the grader calls them). Grade with
//     swift run -c release grade robustness

/// Your functions for the robustness assignment.
public enum Robustness {
    /// Task 1. The certified ℓ∞ Lipschitz constant ‖C‖∞‖B‖∞/(1 − ‖A‖∞) + ‖D‖∞ of the model
    /// X = relu(AX + BU), Ŷ = CX + DU: +∞ when ‖A‖∞ ≥ 1, no D term when D is nil.
    public static func lipschitzBound(
        A: Matrix<Double>, B: Matrix<Double>, C: Matrix<Double>, D: Matrix<Double>?
    ) throws -> Double {
        throw NotImplemented()
    }

    /// Task 2. The share of samples (columns of `scores`, one row per class) whose score of the
    /// true label beats every other class by more than 2·L·ε; 0 when there are no samples.
    public static func certifiedAccuracy(
        scores: Matrix<Double>, labels: [Int], epsilon: Double, lipschitz: Double
    ) throws -> Double {
        throw NotImplemented()
    }

    /// Task 3. FGSM: u + ε·sign(∇_u L) clipped to [0, 1], with L the cross-entropy of the model's
    /// scores on `inputs` (one column per sample) against `labels`.
    public static func fgsm(
        model: ImplicitModel<Double>, inputs: Matrix<Double>, labels: [Int], epsilon: Double
    ) throws -> Matrix<Double> {
        throw NotImplemented()
    }

    /// Task 4. For each ε (in order): the clean accuracy, the accuracy on your FGSM inputs at
    /// radius ε, and the certified accuracy at ε with task 1's bound for the model's effective
    /// A (`model.effectiveA`), B, C and D.
    public static func compare(
        model: ImplicitModel<Double>, inputs: Matrix<Double>, labels: [Int], epsilons: [Double]
    ) throws -> [(epsilon: Double, clean: Double, fgsm: Double, certified: Double)] {
        throw NotImplemented()
    }
}
