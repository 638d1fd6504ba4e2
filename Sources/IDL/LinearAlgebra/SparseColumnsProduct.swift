import CKernels

// Dense matrix times a matrix given by its nonzero entries column by column: the product whose
// work falls with the nonzeros, shared by the SIM exact solver (G·W for sparse iterates) and
// sparse SIM inference (Xᵀ·Aᵀ for a sparse A).

/// The nonzero entries of a k-column matrix, column by column (compressed sparse columns):
/// column c's entries are `starts[c] ..< starts[c + 1]`, with their row indices in `index` and
/// their values in `values`, in increasing row order.
struct SparseColumns<T: BLASScalar>: Sendable {
    /// Rows of the matrix (the inner dimension of the product).
    var rows: Int
    /// Column c's entries are starts[c] ..< starts[c + 1]; k + 1 entries.
    var starts: [Int32]
    /// Row of each stored entry.
    var index: [Int32]
    /// Value of each stored entry.
    var values: [T]

    /// Room for `capacity` entries of a `rows`-row matrix with no columns yet.
    init(rows: Int, capacity: Int) {
        self.rows = rows
        starts = [0]
        index = []
        values = []
        index.reserveCapacity(capacity)
        values.reserveCapacity(capacity)
        starts.reserveCapacity(64)
    }

    /// Number of columns.
    var columnCount: Int { starts.count - 1 }

    /// Empties the matrix (keeping its storage) for columns of `rows` rows.
    mutating func removeAll(rows: Int) {
        self.rows = rows
        starts.removeAll(keepingCapacity: true)
        starts.append(0)
        index.removeAll(keepingCapacity: true)
        values.removeAll(keepingCapacity: true)
    }

    /// Appends the nonzero entries of the dense column `column` (`rows` contiguous values).
    mutating func appendColumn(_ column: UnsafePointer<T>) {
        for i in 0..<rows where column[i] != 0 {
            index.append(Int32(truncatingIfNeeded: i))
            values.append(column[i])
        }
        starts.append(Int32(truncatingIfNeeded: values.count))
    }
}

/// Y ← M·S + β·Y for a dense M (`rows` × S.rows, column-major, leading dimension `ldm`) and a
/// sparse S (``SparseColumns``), Y `rows` × (columns used) with leading dimension `ldy`: work
/// O(rows · nonzeros of S), no packing, no copy of M.
///
/// Each entry Y[i, c] is one accumulator summed over column c's entries in stored order (then
/// β·Y added), so its bits depend on M's row i and S's column c only — not on the other columns
/// of S, on `rows`, or on how many threads compute other columns. The kernel (C, in CKernels)
/// takes the rows in panels held in vector registers while column c's entries stream the
/// panel's slices of M's columns, which stay in the cache from one column of S to the next; it
/// uses AVX-512 or AVX2 with FMA where the CPU has them (``sparseKernelInstructionSet``), the
/// same choice for every call of a process.
///
/// - Parameters:
///   - rows: Rows of M and of Y.
///   - m: M's entries.
///   - ldm: M's leading dimension (≥ rows).
///   - s: The sparse factor; its row indices must lie in 0 ..< (columns of M).
///   - columns: The columns of S to multiply (a sub-range, default all); Y's column 0 is the
///     range's first.
///   - beta: The factor of the old Y (0: Y is only written).
///   - y: Y's entries.
///   - ldy: Y's leading dimension (≥ rows).
func denseTimesSparseColumns<T: BLASScalar>(
    rows: Int, _ m: UnsafePointer<T>, ldm: Int, _ s: SparseColumns<T>, columns: Range<Int>? = nil,
    beta: T = 0, into y: UnsafeMutablePointer<T>, ldy: Int
) {
    let range = columns ?? 0..<s.columnCount
    if range.isEmpty || rows <= 0 { return }
    s.starts.withUnsafeBufferPointer { sp in
        s.index.withUnsafeBufferPointer { ip in
            s.values.withUnsafeBufferPointer { vp in
                let starts = sp.baseAddress!
                let index = ip.baseAddress ?? UnsafePointer(bitPattern: 8)!
                let values = UnsafeRawPointer(vp.baseAddress ?? UnsafePointer(bitPattern: 8)!)
                if T.self == Double.self {
                    idl_dense_times_sparse_columns_f64(
                        rows, UnsafeRawPointer(m).assumingMemoryBound(to: Double.self), ldm, starts, index,
                        values.assumingMemoryBound(to: Double.self), range.lowerBound, range.upperBound,
                        Double(beta), UnsafeMutableRawPointer(y).assumingMemoryBound(to: Double.self), ldy)
                } else if T.self == Float.self {
                    idl_dense_times_sparse_columns_f32(
                        rows, UnsafeRawPointer(m).assumingMemoryBound(to: Float.self), ldm, starts, index,
                        values.assumingMemoryBound(to: Float.self), range.lowerBound, range.upperBound,
                        Float(beta), UnsafeMutableRawPointer(y).assumingMemoryBound(to: Float.self), ldy)
                } else {
                    let vals = values.assumingMemoryBound(to: T.self)
                    for (c, col) in range.enumerated() {
                        for i in 0..<rows {
                            var acc: T = 0
                            for e in Int(starts[col])..<Int(starts[col + 1]) {
                                acc += vals[e] * m[i + Int(index[e]) * ldm]
                            }
                            y[i + c * ldy] = beta == 0 ? acc : acc + beta * y[i + c * ldy]
                        }
                    }
                }
            }
        }
    }
}

/// The instruction set of the sparse-columns kernel on this CPU: "AVX-512", "AVX2+FMA" or
/// "baseline" (chosen from the CPU's feature flags, never from its vendor).
public var sparseKernelInstructionSet: String { String(cString: idl_kernel_instruction_set()) }
