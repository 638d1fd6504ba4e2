/// Evaluation metrics on plain matrices (columns are samples).
public enum Metrics {
    /// Share of samples whose largest score is the label (ties go to the first class).
    ///
    /// - Parameters:
    ///   - scores: Classes × samples.
    ///   - labels: The true class of each sample.
    /// - Returns: The share in [0, 1] (0 for no samples).
    /// - Throws: ``IDLError/shapeMismatch(_:)`` if there is not one label per column of scores.
    public static func accuracy<T>(_ scores: Matrix<T>, _ labels: [Int]) throws -> Double {
        guard scores.cols == labels.count else {
            throw IDLError.shapeMismatch("accuracy: \(scores.cols) samples of scores but \(labels.count) labels")
        }
        guard !labels.isEmpty else { return 0 }
        let predicted = scores.argmaxPerColumn()
        return Double(zip(predicted, labels).filter { $0 == $1 }.count) / Double(labels.count)
    }

    private static func check<T>(_ p: Matrix<T>, _ y: Matrix<T>, _ what: String) throws {
        guard p.rows == y.rows, p.cols == y.cols else {
            throw IDLError.shapeMismatch(
                "\(what): prediction is \(p.shapeDescription) but target is \(y.shapeDescription)")
        }
    }

    /// Mean squared error over all entries (0 for empty matrices).
    /// - Throws: ``IDLError/shapeMismatch(_:)`` if the two matrices differ in shape.
    public static func mse<T>(_ prediction: Matrix<T>, _ target: Matrix<T>) throws -> Double {
        try check(prediction, target, "MSE")
        let d = prediction - target
        return Double((d * d).sum()) / Double(max(1, d.count))
    }

    /// Mean absolute error over all entries (0 for empty matrices).
    /// - Throws: ``IDLError/shapeMismatch(_:)`` if the two matrices differ in shape.
    public static func mae<T>(_ prediction: Matrix<T>, _ target: Matrix<T>) throws -> Double {
        try check(prediction, target, "MAE")
        return Double((prediction - target).absolute.sum()) / Double(max(1, prediction.count))
    }

    /// Coefficient of determination R² = 1 − Σ(y − ŷ)² / Σ(y − ȳ)², over all entries
    /// (scikit-learn's `r2_score` for a single output). For a constant target it is 1 when the
    /// prediction is exact and 0 otherwise.
    /// - Throws: ``IDLError/shapeMismatch(_:)`` if the two matrices differ in shape.
    public static func r2<T>(_ prediction: Matrix<T>, _ target: Matrix<T>) throws -> Double {
        try check(prediction, target, "R²")
        let mean = Double(target.mean())
        var ssRes = 0.0
        var ssTot = 0.0
        for k in 0..<target.count {
            let (y, p) = (Double(target.storage[k]), Double(prediction.storage[k]))
            ssRes += (y - p) * (y - p)
            ssTot += (y - mean) * (y - mean)
        }
        if ssTot == 0 { return ssRes == 0 ? 1 : 0 }
        return 1 - ssRes / ssTot
    }

    /// Mean absolute percentage error, as a fraction (scikit-learn's
    /// `mean_absolute_percentage_error`: |y − ŷ| / max(|y|, ε) averaged, ε = machine epsilon).
    /// - Throws: ``IDLError/shapeMismatch(_:)`` if the two matrices differ in shape.
    public static func mape<T>(_ prediction: Matrix<T>, _ target: Matrix<T>) throws -> Double {
        try check(prediction, target, "MAPE")
        var s = 0.0
        for k in 0..<target.count {
            let (y, p) = (Double(target.storage[k]), Double(prediction.storage[k]))
            s += abs(y - p) / max(abs(y), Double.ulpOfOne)
        }
        return s / Double(max(1, target.count))
    }
}
