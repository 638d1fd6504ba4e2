import RealModule

/// How a loss combines the per-sample (or per-entry) terms, as PyTorch's `reduction`.
public enum Reduction: Sendable {
    /// The average (PyTorch's default).
    case mean
    /// The sum.
    case sum
}

/// Mean squared error between a prediction and a target of the same shape:
/// Σ (ŷ − y)² divided by the number of entries (`.mean`, as `torch.nn.MSELoss`) or not (`.sum`).
/// - Throws: ``IDLError/shapeMismatch(_:)`` when the shapes differ.
public func mseLoss<T>(_ prediction: Tensor<T>, _ target: Matrix<T>, reduction: Reduction = .mean) throws -> Tensor<T> {
    guard prediction.value.rows == target.rows, prediction.value.cols == target.cols else {
        throw IDLError.shapeMismatch(
            "MSE loss: prediction is \(prediction.value.shapeDescription) but target is \(target.shapeDescription)")
    }
    let diff = prediction.value - target
    let scale: T = reduction == .mean ? 1 / T(Swift.max(1, diff.count)) : 1
    let loss = (diff * diff).sum() * scale
    return Tensor(value: Matrix(rows: 1, cols: 1, repeating: loss), inputs: [prediction]) { g in
        prediction.accumulateGradient(diff * (2 * scale * g[0, 0]))
    }
}

/// Cross-entropy of class scores (logits, classes × batch: one column per sample) against
/// integer labels, through a numerically stable log-softmax: −log softmax(ŷ)_label, averaged
/// over the batch (`.mean`, as `torch.nn.CrossEntropyLoss`) or summed.
/// - Throws: ``IDLError/shapeMismatch(_:)`` when the label count differs from the batch size,
///   ``IDLError/invalidArgument(_:)`` for a label outside 0..<classes.
public func crossEntropyLoss<T>(_ logits: Tensor<T>, _ labels: [Int], reduction: Reduction = .mean) throws -> Tensor<T>
{
    let z = logits.value
    guard labels.count == z.cols else {
        throw IDLError.shapeMismatch("cross-entropy: \(z.cols) samples of scores but \(labels.count) labels")
    }
    if let bad = labels.first(where: { $0 < 0 || $0 >= z.rows }) {
        throw IDLError.invalidArgument("cross-entropy: label \(bad) outside 0..<\(z.rows) (the number of classes)")
    }
    let (q, m) = (z.rows, z.cols)
    var probabilities = z
    var total: T = 0
    probabilities.storage.withUnsafeMutableBufferPointer { p in
        for j in 0..<m {
            var mx = -T.infinity
            for i in 0..<q { mx = Swift.max(mx, p[i + j * q]) }
            var s: T = 0
            for i in 0..<q {
                let e = T.exp(p[i + j * q] - mx)
                p[i + j * q] = e
                s += e
            }
            // −log softmax_label = log Σ e^(z − max) − (z_label − max)
            total += T.log(s) - (z[labels[j], j] - mx)
            let inv = 1 / s
            for i in 0..<q { p[i + j * q] *= inv }
        }
    }
    let scale: T = reduction == .mean ? 1 / T(Swift.max(1, m)) : 1
    return Tensor(value: Matrix(rows: 1, cols: 1, repeating: total * scale), inputs: [logits]) { g in
        // ∂/∂z = softmax(z) − onehot(label), per sample.
        var grad = probabilities
        for j in 0..<m { grad[labels[j], j] -= 1 }
        logits.accumulateGradient(grad * (scale * g[0, 0]))
    }
}
