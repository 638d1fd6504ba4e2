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
    /// The rows as the columns of the transpose, in the form of the vector kernel.
    let rowsAsColumns: SparseColumns<T>

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
        precondition(
            vals.count < Int(Int32.max) && dense.cols < Int(Int32.max),
            "SparseMatrix: at most 2³¹ − 1 stored entries and columns, got \(vals.count) entries, \(dense.cols) columns"
        )
        var columns = SparseColumns<T>(rows: dense.cols, capacity: vals.count)
        columns.starts = starts.map { Int32(truncatingIfNeeded: $0) }
        columns.index = indices.map { Int32(truncatingIfNeeded: $0) }
        columns.values = vals
        rowsAsColumns = columns
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
    /// Computed as yᵀ = xᵀ·selfᵀ (``multiplyTransposed(_:into:beta:)``) with the two transposes
    /// made here; each output entry is the sum over its row's entries in stored order, whatever
    /// m, so a sample's column is the same bits alone or inside a batch.
    public func multiply(_ x: Matrix<T>, into y: inout Matrix<T>, beta: T = 0) {
        precondition(
            x.rows == cols && y.rows == rows && y.cols == x.cols,
            "sparse multiply: \(rows)×\(cols) times \(x.shapeDescription) into \(y.shapeDescription)")
        var yt = beta == 0 ? Matrix<T>(rows: x.cols, cols: rows) : y.transposed
        multiplyTransposed(x.transposed, into: &yt, beta: beta)
        y = yt.transposed
    }

    /// yᵀ ← xᵀ·selfᵀ + β·yᵀ with the samples as rows: xᵀ is m × cols and yᵀ is m × rows (the
    /// layout in which a sample's values for one feature are contiguous across samples). Work
    /// O(nonzeros · m); no copy of xᵀ.
    ///
    /// Each entry yᵀ[s, i] is one accumulator over row i's stored entries in order, computed by
    /// the vector kernel of the CPU (AVX-512, AVX2 with FMA, or the baseline; see
    /// ``sparseKernelInstructionSet``) with samples in register panels: its bits depend on
    /// sample s and row i only, not on m or on the other samples.
    ///
    /// - Parameters:
    ///   - xt: The transposed input, m × cols.
    ///   - yt: The transposed output, m × rows, overwritten (β = 0) or accumulated into.
    ///   - beta: The factor of the old yᵀ.
    public func multiplyTransposed(_ xt: Matrix<T>, into yt: inout Matrix<T>, beta: T = 0) {
        precondition(
            xt.cols == cols && yt.cols == rows && yt.rows == xt.rows,
            "sparse multiplyTransposed: \(xt.shapeDescription) times (\(rows)×\(cols))ᵀ into \(yt.shapeDescription)")
        let m = xt.rows
        if m == 0 || rows == 0 { return }
        xt.storage.withUnsafeBufferPointer { xp in
            yt.storage.withUnsafeMutableBufferPointer { yp in
                denseTimesSparseColumns(
                    rows: m, xp.baseAddress!, ldm: m, rowsAsColumns, beta: beta, into: yp.baseAddress!, ldy: m)
            }
        }
    }
}
