/// Per-feature standardisation: x ↦ (x − μ)/σ, with μ and σ of each feature (row) fitted on
/// training data and then applied unchanged to test data.
///
/// σ is the population standard deviation (divide by m, as scikit-learn's `StandardScaler`).
/// A feature that is (nearly) constant on the training data, σ ≤ `minimumScale` (FashionMNIST's
/// corner pixels, say), keeps σ = 1: it is centred but not divided, so nothing is divided by
/// zero and such features stay 0 on training data.
public struct Standardizer<T: BLASScalar>: Sendable, Equatable {
    /// Mean of each feature (row), length = number of features.
    public let mean: [T]
    /// The divisor of each feature: its standard deviation, or 1 for constant features.
    public let scale: [T]

    /// Fits means and standard deviations to the rows of a features × samples matrix.
    /// - Parameters:
    ///   - data: training inputs, one sample per column.
    ///   - minimumScale: standard deviations at or below this count as constant (scale 1).
    /// - Throws: ``IDLError/invalidArgument(_:)`` if `data` has no columns;
    ///   ``IDLError/nonFinite(_:)`` if it contains NaN or ±∞.
    public init(fitting data: Matrix<T>, minimumScale: T = 1e-7) throws {
        guard data.cols > 0 else {
            throw IDLError.invalidArgument(
                "cannot fit a standardiser to a \(data.shapeDescription) matrix with no samples")
        }
        guard data.isFinite else {
            throw IDLError.nonFinite("the training data for the standardiser contains NaN or infinite values")
        }
        let p = data.rows
        let m = data.cols
        var sum = [Double](repeating: 0, count: p)
        var sumSq = [Double](repeating: 0, count: p)
        data.storage.withUnsafeBufferPointer { x in
            // First pass: means. Second pass: squared deviations (stable for large offsets).
            for j in 0..<m { for i in 0..<p { sum[i] += Double(x[i + j * p]) } }
            for i in 0..<p { sum[i] /= Double(m) }
            for j in 0..<m {
                for i in 0..<p {
                    let d = Double(x[i + j * p]) - sum[i]
                    sumSq[i] += d * d
                }
            }
        }
        mean = sum.map { T($0) }
        scale = sumSq.map { s in
            let sd = (s / Double(m)).squareRoot()
            return sd <= Double(minimumScale) ? 1 : T(sd)
        }
    }

    /// A standardiser with given means and scales.
    /// - Throws: ``IDLError/shapeMismatch(_:)`` if the lengths differ,
    ///   ``IDLError/invalidArgument(_:)`` for a scale that is not positive and finite.
    public init(mean: [T], scale: [T]) throws {
        guard mean.count == scale.count else {
            throw IDLError.shapeMismatch("\(mean.count) means but \(scale.count) scales")
        }
        if let bad = scale.firstIndex(where: { !($0 > 0) || !$0.isFinite }) {
            throw IDLError.invalidArgument("scale \(scale[bad]) of feature \(bad) must be positive and finite")
        }
        self.mean = mean
        self.scale = scale
    }

    /// Number of features.
    public var featureCount: Int { mean.count }

    /// (x − μ)/σ for every column of `data`.
    /// - Throws: ``IDLError/shapeMismatch(_:)`` if `data` has a different number of features
    ///   (rows) than the standardiser was fitted to.
    public func transform(_ data: Matrix<T>) throws -> Matrix<T> {
        try check(data)
        var out = data
        let p = data.rows
        let inverse = scale.map { 1 / $0 }
        out.storage.withUnsafeMutableBufferPointer { x in
            for j in 0..<data.cols {
                for i in 0..<p { x[i + j * p] = (x[i + j * p] - mean[i]) * inverse[i] }
            }
        }
        return out
    }

    /// x·σ + μ for every column: undoes ``transform(_:)``.
    /// - Throws: ``IDLError/shapeMismatch(_:)`` if the number of rows differs.
    public func inverseTransform(_ data: Matrix<T>) throws -> Matrix<T> {
        try check(data)
        var out = data
        let p = data.rows
        out.storage.withUnsafeMutableBufferPointer { x in
            for j in 0..<data.cols {
                for i in 0..<p { x[i + j * p] = x[i + j * p] * scale[i] + mean[i] }
            }
        }
        return out
    }

    private func check(_ data: Matrix<T>) throws {
        guard data.rows == mean.count else {
            throw IDLError.shapeMismatch(
                "the standardiser was fitted to \(mean.count) features (rows) but the data is \(data.shapeDescription)")
        }
    }
}
