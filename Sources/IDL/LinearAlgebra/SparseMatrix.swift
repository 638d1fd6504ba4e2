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
    public func multiply(_ x: Matrix<T>, into y: inout Matrix<T>, beta: T = 0) {
        precondition(
            x.rows == cols && y.rows == rows && y.cols == x.cols,
            "sparse multiply: \(rows)×\(cols) times \(x.shapeDescription) into \(y.shapeDescription)")
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
