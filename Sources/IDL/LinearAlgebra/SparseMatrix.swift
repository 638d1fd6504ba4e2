/// A sparse matrix in compressed sparse row (CSR) form, for inference with the sparse weights
/// SIM produces: only the nonzero entries are stored and multiplied.
public struct SparseMatrix<T: BLASScalar>: Sendable {
    /// Number of rows.
    public let rows: Int
    /// Number of columns.
    public let cols: Int
    /// Row i's entries are at positions rowStarts[i] ..< rowStarts[i + 1].
    public let rowStarts: [Int]
    /// Column of each stored entry.
    public let columnIndices: [Int]
    /// Value of each stored entry.
    public let values: [T]

    /// The nonzero entries of a dense matrix (entries with |x| ≤ `threshold` are dropped).
    public init(_ dense: Matrix<T>, threshold: T = 0) {
        rows = dense.rows
        cols = dense.cols
        var starts = [0]
        var indices = [Int]()
        var vals = [T]()
        for i in 0..<dense.rows {
            for j in 0..<dense.cols {
                let v = dense[i, j]
                if abs(v) > threshold {
                    indices.append(j)
                    vals.append(v)
                }
            }
            starts.append(indices.count)
        }
        rowStarts = starts
        columnIndices = indices
        values = vals
    }

    /// Number of stored (nonzero) entries.
    public var nonzeroCount: Int { values.count }

    /// The dense matrix.
    public var dense: Matrix<T> {
        var m = Matrix<T>(rows: rows, cols: cols)
        for i in 0..<rows { for k in rowStarts[i]..<rowStarts[i + 1] { m[i, columnIndices[k]] = values[k] } }
        return m
    }

    /// y ← self · x + β·y for a dense x (cols × m), touching only the stored entries:
    /// O(nonzeros · m) work instead of O(rows · cols · m).
    ///
    /// The samples (columns of x) are taken in panels of 32 (Float) or 16 (Double), copied
    /// row-interleaved so that each stored entry multiplies one contiguous vector of the panel's
    /// samples; each output entry is the sum over its row's entries in stored order, whatever
    /// the panel, so the result does not depend on m or on where a sample sits in the batch.
    public func multiply(_ x: Matrix<T>, into y: inout Matrix<T>, beta: T = 0) {
        precondition(
            x.rows == cols && y.rows == rows && y.cols == x.cols,
            "sparse multiply: \(rows)×\(cols) times \(x.shapeDescription) into \(y.shapeDescription)")
        if T.self == Float.self {
            multiplyPanels(SIMD32<Float>.self, x, into: &y, beta: beta)
        } else if T.self == Double.self {
            multiplyPanels(SIMD16<Double>.self, x, into: &y, beta: beta)
        } else {
            multiplyColumns(x, into: &y, beta: beta)
        }
    }

    /// The panel kernel of ``multiply(_:into:beta:)`` for an element type with vectors `V`.
    private func multiplyPanels<V: SIMD>(_: V.Type, _ x: Matrix<T>, into y: inout Matrix<T>, beta: T)
    where V.Scalar: BinaryFloatingPoint {
        let w = V.scalarCount
        let (m, r, c) = (x.cols, rows, cols)
        guard m > 0, r > 0, c > 0, !values.isEmpty else {
            multiplyColumns(x, into: &y, beta: beta)
            return
        }
        // Panel buffers: x's rows for w samples (c × w) and the results (r × w), row-interleaved.
        var xPanel = [V](repeating: V(), count: c)
        var yPanel = [V](repeating: V(), count: r)
        values.withUnsafeBufferPointer { vp0 in
            columnIndices.withUnsafeBufferPointer { ci in
                rowStarts.withUnsafeBufferPointer { rs in
                    x.storage.withUnsafeBufferPointer { xs0 in
                        y.storage.withUnsafeMutableBufferPointer { ys0 in
                            xPanel.withUnsafeMutableBufferPointer { xp in
                                yPanel.withUnsafeMutableBufferPointer { yp in
                                    let vp = UnsafeRawPointer(vp0.baseAddress!).assumingMemoryBound(to: V.Scalar.self)
                                    let xs = UnsafeRawPointer(xs0.baseAddress!).assumingMemoryBound(to: V.Scalar.self)
                                    let ys = UnsafeMutableRawPointer(ys0.baseAddress!).assumingMemoryBound(
                                        to: V.Scalar.self)
                                    let b = V.Scalar(beta)
                                    var j = 0
                                    while j < m {
                                        let lanes = Swift.min(w, m - j)
                                        // Gather: xp[k][l] = x[k, j + l].
                                        for k in 0..<c {
                                            var v = V()
                                            for l in 0..<lanes { v[l] = xs[k + (j + l) * c] }
                                            xp[k] = v
                                        }
                                        for i in 0..<r {
                                            var acc = V()
                                            for e in rs[i]..<rs[i + 1] {
                                                acc += V(repeating: vp[e]) * xp[ci[e]]
                                            }
                                            yp[i] = acc
                                        }
                                        // Scatter: y[i, j + l] = yp[i][l] (+ β·y).
                                        for l in 0..<lanes {
                                            let col = ys + (j + l) * r
                                            if b == 0 {
                                                for i in 0..<r { col[i] = yp[i][l] }
                                            } else {
                                                for i in 0..<r { col[i] = yp[i][l] + b * col[i] }
                                            }
                                        }
                                        j += lanes
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// One sample at a time (element types without a vector kernel).
    private func multiplyColumns(_ x: Matrix<T>, into y: inout Matrix<T>, beta: T) {
        let (m, r, c) = (x.cols, rows, cols)
        x.storage.withUnsafeBufferPointer { xp in
            y.storage.withUnsafeMutableBufferPointer { yp in
                for j in 0..<m {
                    let xc = j * c
                    let yc = j * r
                    for i in 0..<r {
                        var s: T = 0
                        for k in rowStarts[i]..<rowStarts[i + 1] { s += values[k] * xp[xc + columnIndices[k]] }
                        yp[yc + i] = beta == 0 ? s : s + beta * yp[yc + i]
                    }
                }
            }
        }
    }
}
