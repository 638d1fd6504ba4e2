import IDL

// Assignment 4 · Certified and empirical robustness: the reference solution.

/// The reference solutions of the robustness assignment.
public enum Robustness {
    /// ‖M‖∞, the largest absolute row sum.
    static func infinityNorm(_ m: Matrix<Double>) -> Double {
        (0..<m.rows).reduce(0) { best, i in max(best, (0..<m.cols).reduce(0) { $0 + abs(m[i, $1]) }) }
    }

    /// Task 1: ‖C‖∞‖B‖∞/(1 − ‖A‖∞) + ‖D‖∞.
    public static func lipschitzBound(
        A: Matrix<Double>, B: Matrix<Double>, C: Matrix<Double>, D: Matrix<Double>?
    ) throws -> Double {
        let normA = infinityNorm(A)
        if normA >= 1 { return .infinity }
        return infinityNorm(C) * infinityNorm(B) / (1 - normA) + (D.map(infinityNorm) ?? 0)
    }

    /// Task 2: a sample is certified when its margin exceeds 2Lε.
    public static func certifiedAccuracy(
        scores: Matrix<Double>, labels: [Int], epsilon: Double, lipschitz: Double
    ) throws -> Double {
        if labels.isEmpty { return 0 }
        var certified = 0
        for (j, label) in labels.enumerated() {
            let others = (0..<scores.rows).filter { $0 != label }.map { scores[$0, j] }
            if scores[label, j] - (others.max() ?? -.infinity) > 2 * lipschitz * epsilon { certified += 1 }
        }
        return Double(certified) / Double(labels.count)
    }

    /// Task 3: the input gradient by the library's autodiff, then one signed step, clipped.
    public static func fgsm(
        model: ImplicitModel<Double>, inputs: Matrix<Double>, labels: [Int], epsilon: Double
    ) throws -> Matrix<Double> {
        let u = Tensor(inputs, requiresGrad: true)
        try crossEntropyLoss(model(u), labels, reduction: .sum).backward()
        let g = u.grad ?? Matrix(rows: inputs.rows, cols: inputs.cols)
        return inputs.zip(g) { x, d in min(max(x + epsilon * (d > 0 ? 1 : (d < 0 ? -1 : 0)), 0), 1) }
    }

    /// The share of columns whose largest score is the label.
    static func accuracy(_ scores: Matrix<Double>, _ labels: [Int]) -> Double {
        let predicted = scores.argmaxPerColumn()
        return labels.isEmpty ? 0 : Double(zip(predicted, labels).filter { $0 == $1 }.count) / Double(labels.count)
    }

    /// Task 4: the three accuracies at each radius.
    public static func compare(
        model: ImplicitModel<Double>, inputs: Matrix<Double>, labels: [Int], epsilons: [Double]
    ) throws -> [(epsilon: Double, clean: Double, fgsm: Double, certified: Double)] {
        let p = model.inputDim
        let bound = try lipschitzBound(
            A: model.effectiveA, B: model.B.value.columns(0..<p), C: model.C.value,
            D: model.D.map { $0.value.columns(0..<p) })
        let scores = try model.predict(inputs)
        let clean = accuracy(scores, labels)
        return try epsilons.map { eps in
            let attacked = try fgsm(model: model, inputs: inputs, labels: labels, epsilon: eps)
            return (
                eps, clean, accuracy(try model.predict(attacked), labels),
                try certifiedAccuracy(scores: scores, labels: labels, epsilon: eps, lipschitz: bound)
            )
        }
    }
}
