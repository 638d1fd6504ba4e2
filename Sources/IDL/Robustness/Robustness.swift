/// The certified ℓ∞ Lipschitz constant of an implicit model (El Ghaoui et al., section on
/// robustness): for a 1-Lipschitz φ and ‖A‖∞ < 1,
///
///     ‖x(u₁) − x(u₂)‖∞ ≤ ‖B‖∞ / (1 − ‖A‖∞) · ‖u₁ − u₂‖∞
///     ‖ŷ(u₁) − ŷ(u₂)‖∞ ≤ (‖C‖∞‖B‖∞ / (1 − ‖A‖∞) + ‖D‖∞) · ‖u₁ − u₂‖∞.
///
/// Only the input columns of B and D count (a constant bias row does not move).
///
/// A sharper bound holds under the paper's general condition λ_pf(|A|) < 1, which also covers
/// triangular (feedforward) A of any norm: entrywise |Δx| ≤ |A||Δx| + |B||Δu|, so
/// |Δx| ≤ (I − |A|)⁻¹|B||Δu| and ‖Δŷ‖∞ ≤ ‖ |C|(I − |A|)⁻¹|B| + |D| ‖∞ ‖Δu‖∞.
/// ``outputConstant`` is the smaller of the two bounds.
public struct LipschitzCertificate: Sendable, CustomStringConvertible {
    /// ‖A‖∞ of the effective A.
    public var normA: Double
    /// ‖B‖∞ over the input columns.
    public var normB: Double
    /// ‖C‖∞.
    public var normC: Double
    /// ‖D‖∞ over the input columns (0 without D).
    public var normD: Double
    /// The state bound ‖B‖∞ / (1 − ‖A‖∞) (∞ when ‖A‖∞ ≥ 1).
    public var stateConstant: Double { normA < 1 ? normB / (1 - normA) : .infinity }
    /// The norm bound ‖C‖∞‖B‖∞ / (1 − ‖A‖∞) + ‖D‖∞ of DESIGN.md (∞ when ‖A‖∞ ≥ 1).
    public var normBound: Double { normA < 1 ? normC * stateConstant + normD : .infinity }
    /// λ_pf(|A|).
    public var perronFrobenius: Double
    /// The entrywise bound ‖ |C|(I − |A|)⁻¹|B| + |D| ‖∞ (∞ when λ_pf(|A|) ≥ 1).
    public var entrywiseBound: Double
    /// The certified ℓ∞ Lipschitz constant L: the smaller of the two bounds.
    public var outputConstant: Double { min(normBound, entrywiseBound) }

    /// The certificate of a model with matrices A, B, C, D (B, D restricted to input columns).
    public init<T: BLASScalar>(A: Matrix<T>, B: Matrix<T>, C: Matrix<T>, D: Matrix<T>?) {
        normA = Double(A.infinityNorm)
        normB = Double(B.infinityNorm)
        normC = Double(C.infinityNorm)
        normD = D.map { Double($0.infinityNorm) } ?? 0
        perronFrobenius = perronFrobeniusEigenvalue(A)
        entrywiseBound = .infinity
        if perronFrobenius < 1 {
            let absA = A.absolute.converted(to: Double.self)
            let system = Matrix<Double>.identity(A.rows) - absA
            if let m = try? system.solve(B.absolute.converted(to: Double.self)) {
                var bound = matmul(C.absolute.converted(to: Double.self), m)
                if let D { bound += D.absolute.converted(to: Double.self) }
                entrywiseBound = Double(bound.infinityNorm)
            }
        }
    }

    /// The certificate of a trained implicit model. A bias column (constant input) is excluded.
    public init<T: BLASScalar>(_ model: ImplicitModel<T>) {
        let p = model.inputDim
        self.init(
            A: model.effectiveA, B: model.B.value.columns(0..<p), C: model.C.value,
            D: model.D.map { $0.value.columns(0..<p) })
    }

    public var description: String {
        "‖A‖∞ = \(formatScalar(normA, digits: 4)), λ_pf(|A|) = \(formatScalar(perronFrobenius, digits: 4)), ‖B‖∞ = \(formatScalar(normB, digits: 4)), ‖C‖∞ = \(formatScalar(normC, digits: 4)), ‖D‖∞ = \(formatScalar(normD, digits: 4)); certified ℓ∞ Lipschitz constant \(formatScalar(outputConstant, digits: 4))"
    }

    /// Share of samples certified robust at radius ε for this model's constant; see
    /// ``certifiedRobustAccuracy(scores:labels:epsilon:lipschitz:)``.
    ///
    /// - Parameters:
    ///   - scores: The model's outputs, classes × samples.
    ///   - labels: The true class of each sample.
    ///   - epsilon: The ℓ∞ radius ε of the input perturbations.
    /// - Returns: The certified share in [0, 1] (0 for no samples).
    /// - Throws: ``IDLError/shapeMismatch(_:)`` if there is not one label per column of scores.
    public func certifiedAccuracy<T: BLASScalar>(scores: Matrix<T>, labels: [Int], epsilon: Double) throws -> Double {
        try certifiedRobustAccuracy(scores: scores, labels: labels, epsilon: epsilon, lipschitz: outputConstant)
    }
}

/// Share of samples certified robust at radius ε for a classifier whose scores are
/// L-Lipschitz in ℓ∞: correctly classified with a margin ŷ_label − max_{j≠label} ŷ_j > 2·L·ε (each
/// score moves by at most L·ε, so no other class can overtake the label within the ℓ∞ ball).
///
/// - Parameters:
///   - scores: The classifier's outputs, classes × samples.
///   - labels: The true class of each sample, in 0..<classes.
///   - epsilon: The ℓ∞ radius ε of the input perturbations.
///   - lipschitz: The ℓ∞ Lipschitz constant L of the scores with respect to the inputs.
/// - Returns: The certified share in [0, 1] (0 for no samples).
/// - Throws: ``IDLError/shapeMismatch(_:)`` if there is not one label per column of scores;
///   ``IDLError/invalidArgument(_:)`` for a label outside 0..<classes, or a negative or
///   non-finite ε or L.
/// - Complexity: O(classes · samples).
public func certifiedRobustAccuracy<T: BLASScalar>(scores: Matrix<T>, labels: [Int], epsilon: Double, lipschitz: Double)
    throws -> Double
{
    guard scores.cols == labels.count else {
        throw IDLError.shapeMismatch("certified accuracy: \(scores.cols) samples of scores but \(labels.count) labels")
    }
    if let bad = labels.firstIndex(where: { !(0..<scores.rows).contains($0) }) {
        throw IDLError.invalidArgument(
            "certified accuracy: label \(labels[bad]) of sample \(bad) is outside 0..<\(scores.rows) (one score row per class); labels must count classes from 0"
        )
    }
    guard epsilon >= 0, epsilon.isFinite, lipschitz >= 0, lipschitz.isFinite else {
        throw IDLError.invalidArgument(
            "certified accuracy: ε and the Lipschitz constant must be finite and ≥ 0, got ε = \(epsilon), L = \(lipschitz)"
        )
    }
    let needed = 2 * lipschitz * epsilon
    var certified = 0
    for j in 0..<scores.cols {
        let label = labels[j]
        var runnerUp = -Double.infinity
        for i in 0..<scores.rows where i != label { runnerUp = max(runnerUp, Double(scores[i, j])) }
        if Double(scores[label, j]) - runnerUp > needed { certified += 1 }
    }
    return labels.isEmpty ? 0 : Double(certified) / Double(labels.count)
}

/// Adversarial examples in the ℓ∞ ball, for empirical robustness.
public enum Attack {
    /// Fast gradient sign method (Goodfellow et al.): u' = clip(u + ε·sign(∇_u L)), with L the
    /// cross-entropy of the model's scores against the labels.
    /// - Parameters:
    ///   - model: the classifier under attack (any layer: explicit, implicit, SIM).
    ///   - inputs: the clean inputs, one column per sample.
    ///   - labels: the true label of each column.
    ///   - epsilon: the radius ε of the ℓ∞ ball.
    ///   - range: the valid input range to clip to (e.g. −1...1 or 0...1), or nil.
    /// - Returns: the adversarial inputs, the shape of `inputs`.
    /// - Throws: ``IDLError/invalidArgument(_:)`` for ε < 0 or a label outside the classes;
    ///   ``IDLError/shapeMismatch(_:)`` if the labels do not match the samples; whatever the
    ///   model's forward pass throws.
    /// - Complexity: One forward and one backward pass of the model.
    public static func fgsm<Model: Layer>(
        _ model: Model, inputs: Matrix<Model.Scalar>, labels: [Int], epsilon: Double,
        range: ClosedRange<Double>? = nil
    ) throws -> Matrix<Model.Scalar> {
        try pgd(model, inputs: inputs, labels: labels, epsilon: epsilon, stepSize: epsilon, steps: 1, range: range)
    }

    /// Projected gradient descent (Madry et al.), from the clean input: `steps` signed-gradient
    /// steps of `stepSize`, each followed by projection onto the ℓ∞ ball of radius ε around the
    /// clean input (and onto `range`).
    ///
    /// - Parameters:
    ///   - model: The classifier under attack (run in its current training mode).
    ///   - inputs: The clean inputs, features × samples.
    ///   - labels: The true class of each sample.
    ///   - epsilon: The ℓ∞ radius ε (≥ 0).
    ///   - stepSize: The size of each signed-gradient step (≥ 0).
    ///   - steps: The number of steps (≥ 1).
    ///   - range: The valid input range to clip to, or nil.
    /// - Returns: The perturbed inputs, same shape as `inputs`.
    /// - Throws: ``IDLError/invalidArgument(_:)`` for ε or step size < 0, fewer than one step, or
    ///   a label outside the classes; ``IDLError/shapeMismatch(_:)`` if the labels do not match
    ///   the samples; whatever the model's forward pass throws.
    /// - Complexity: `steps` forward and backward passes of the model.
    public static func pgd<Model: Layer>(
        _ model: Model, inputs: Matrix<Model.Scalar>, labels: [Int], epsilon: Double,
        stepSize: Double, steps: Int, range: ClosedRange<Double>? = nil
    ) throws -> Matrix<Model.Scalar> {
        typealias T = Model.Scalar
        guard epsilon >= 0, stepSize >= 0, steps >= 1 else {
            throw IDLError.invalidArgument(
                "attacks need ε ≥ 0, step size ≥ 0 and at least one step, got ε=\(epsilon), step \(stepSize), steps \(steps)"
            )
        }
        var x = inputs
        let (eps, alpha) = (T(epsilon), T(stepSize))
        for _ in 0..<steps {
            let u = Tensor(x, requiresGrad: true)
            let loss = try crossEntropyLoss(model(u), labels, reduction: .sum)
            loss.backward()
            guard let g = u.grad else { break }
            for k in 0..<x.count {
                let s: T = g.storage[k] > 0 ? 1 : (g.storage[k] < 0 ? -1 : 0)
                var v = x.storage[k] + alpha * s
                let c = inputs.storage[k]
                v = min(max(v, c - eps), c + eps)
                if let range { v = min(max(v, T(range.lowerBound)), T(range.upperBound)) }
                x.storage[k] = v
            }
        }
        return x
    }
}

/// A certified ℓ∞ Lipschitz constant of an explicit network of Linear layers and 1-Lipschitz
/// activations: ‖ |W_L| ⋯ |W_1||W_0| ‖∞ (entrywise absolute values; never larger than the
/// product of the layers' ∞-norms). Biases do not count.
/// - Throws: ``IDLError/invalidArgument(_:)`` for a layer other than Linear, a 1-Lipschitz
///   activation, or a nested Sequential.
public func lipschitzBound<T>(_ network: Sequential<T>) throws -> Double {
    var product: Matrix<Double>? = nil
    func visit(_ layer: any Layer<T>) throws {
        if let s = layer as? Sequential<T> {
            for l in s.layers { try visit(l) }
            return
        }
        if let linear = layer as? Linear<T> {
            let w = linear.weight.value.absolute.converted(to: Double.self)
            product = product.map { matmul(w, $0) } ?? w
            return
        }
        if let a = layer as? ActivationLayer<T>,
            [ReLU().name, LeakyReLU().name, Tanh().name, Sigmoid().name, Identity().name].contains(a.activation.name)
        {
            return
        }
        throw IDLError.invalidArgument(
            "the Lipschitz bound covers Linear layers and 1-Lipschitz activations (relu, leaky_relu, tanh, sigmoid), found \(type(of: layer))"
        )
    }
    try visit(network)
    return product.map { Double($0.infinityNorm) } ?? 1
}
