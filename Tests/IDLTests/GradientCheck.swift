import IDL

/// Compares the engine's gradients with central finite differences.
///
/// `f` maps leaf tensors to any output; the scalar checked is L = Σ output ∘ R for a fixed
/// random R, so every entry of the output's gradient is exercised. Returns the largest relative
/// error over all entries of all inputs: |analytic − numeric| / max(1, |analytic|, |numeric|).
func gradientCheckError(
    _ inputs: [Matrix<Double>], seed: UInt64 = 99, step: Double = 1e-6,
    _ f: ([Tensor<Double>]) throws -> Tensor<Double>
) throws -> Double {
    var g = SeededGenerator(seed: seed)
    let leaves = inputs.map { Tensor($0, requiresGrad: true) }
    let out = try f(leaves)
    let weights = Matrix<Double>.randomNormal(out.value.rows, out.value.cols, using: &g)
    out.backward(seed: weights)
    func scalar(_ values: [Matrix<Double>]) throws -> Double {
        (try f(values.map { Tensor($0) }).value * weights).sum()
    }
    var worst = 0.0
    for (k, x) in inputs.enumerated() {
        let analytic = leaves[k].grad ?? Matrix(rows: x.rows, cols: x.cols)
        for e in 0..<x.count {
            var plus = inputs
            var minus = inputs
            plus[k].storage[e] += step
            minus[k].storage[e] -= step
            let numeric = (try scalar(plus) - scalar(minus)) / (2 * step)
            let a = analytic.storage[e]
            worst = max(worst, abs(a - numeric) / max(1, abs(a), abs(numeric)))
        }
    }
    return worst
}
