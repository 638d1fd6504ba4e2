import RealModule

// Matrix products (BLAS) and dense solvers (LAPACK).

/// op(A)·op(B), with op = identity or transpose, computed by BLAS gemm.
@inlinable
public func matmul<T>(_ a: Matrix<T>, _ b: Matrix<T>, transposeA: Bool = false, transposeB: Bool = false) -> Matrix<T> {
    let m = transposeA ? a.cols : a.rows
    let n = transposeB ? b.rows : b.cols
    // gemm with β = 0 writes every entry without reading it: no zero-fill first.
    var c = Matrix<T>(uninitializedRows: m, cols: n)
    gemm(a, b, into: &c, transposeA: transposeA, transposeB: transposeB, alpha: 1, beta: 0)
    return c
}

/// C ← α·op(A)·op(B) + β·C in place (BLAS gemm): products with accumulation and no allocation.
@inlinable
public func gemm<T>(
    _ a: Matrix<T>, _ b: Matrix<T>, into c: inout Matrix<T>,
    transposeA: Bool = false, transposeB: Bool = false, alpha: T = 1, beta: T = 0
) {
    let m = transposeA ? a.cols : a.rows
    let k = transposeA ? a.rows : a.cols
    let kb = transposeB ? b.cols : b.rows
    let n = transposeB ? b.rows : b.cols
    precondition(
        k == kb,
        "matmul: inner dimensions differ, op(A) is \(m)×\(k) and op(B) is \(kb)×\(n) (A \(a.shapeDescription), B \(b.shapeDescription))"
    )
    precondition(c.rows == m && c.cols == n, "matmul: the result is \(m)×\(n) but the output is \(c.shapeDescription)")
    if m == 0 || n == 0 { return }
    if k == 0 {
        if beta == 0 { c.apply { _ in 0 } } else { c.apply { $0 * beta } }
        return
    }
    a.storage.withUnsafeBufferPointer { ap in
        b.storage.withUnsafeBufferPointer { bp in
            c.storage.withUnsafeMutableBufferPointer { cp in
                if n == 1 && !transposeB {
                    // A matrix–vector product: gemv is faster than a one-column gemm.
                    T.gemv(
                        transposeA ? .transpose : .none, m: a.rows, n: a.cols, alpha: alpha,
                        a: ap.baseAddress!, lda: Swift.max(1, a.rows), x: bp.baseAddress!, incx: 1,
                        beta: beta, y: cp.baseAddress!, incy: 1)
                } else {
                    T.gemm(
                        transposeA ? .transpose : .none, transposeB ? .transpose : .none,
                        m: m, n: n, k: k, alpha: alpha,
                        a: ap.baseAddress!, lda: Swift.max(1, a.rows),
                        b: bp.baseAddress!, ldb: Swift.max(1, b.rows),
                        beta: beta, c: cp.baseAddress!, ldc: Swift.max(1, m))
                }
            }
        }
    }
}

extension Matrix {
    /// self · other (BLAS gemm).
    @inlinable public func matmul(_ other: Matrix) -> Matrix { IDL.matmul(self, other) }

    /// Minimum-norm least-squares solution X of min ‖A X − B‖_F (LAPACK gelsd, SVD based, so
    /// rank-deficient and under-determined systems are handled). `rcond`: singular values below
    /// rcond·σ_max are treated as zero (default: machine epsilon × max(m, n)).
    /// - Returns: the solution (cols(A)×cols(B)) and the effective rank of A.
    /// - Throws: ``IDLError/shapeMismatch(_:)`` if A and B have different row counts,
    ///   ``IDLError/numerical(_:)`` if the SVD fails to converge.
    public func leastSquares(_ b: Matrix, rcond: T? = nil) throws -> (solution: Matrix, rank: Int) {
        guard rows == b.rows else {
            throw IDLError.shapeMismatch(
                "least squares needs A and B with the same number of rows, got A \(shapeDescription) and B \(b.shapeDescription)"
            )
        }
        let (m, n, nrhs) = (rows, cols, b.cols)
        if n == 0 || nrhs == 0 { return (Matrix(rows: n, cols: nrhs), 0) }
        if m == 0 { return (Matrix(rows: n, cols: nrhs), 0) }
        var a = self
        let ldb = Swift.max(m, n)
        var rhs = Matrix(rows: ldb, cols: nrhs)
        rhs.setRows(0, to: b)
        let rc = rcond ?? T.ulpOfOne * T(Swift.max(m, n))
        let (info, rank) = a.storage.withUnsafeMutableBufferPointer { ap in
            rhs.storage.withUnsafeMutableBufferPointer { bp in
                T.gelsd(m: m, n: n, nrhs: nrhs, a: ap.baseAddress!, lda: m, b: bp.baseAddress!, ldb: ldb, rcond: rc)
            }
        }
        guard info == 0 else {
            throw IDLError.numerical("least squares (gelsd) failed with info = \(info): the SVD did not converge")
        }
        return (rhs.rows(0..<n), rank)
    }

    /// Solves the square system A X = B by LU with partial pivoting (LAPACK gesv).
    /// - Throws: ``IDLError/numerical(_:)`` if A is singular.
    public func solve(_ b: Matrix) throws -> Matrix {
        guard rows == cols else { throw IDLError.shapeMismatch("solve needs a square matrix, got \(shapeDescription)") }
        guard b.rows == rows else {
            throw IDLError.shapeMismatch("solve: A is \(shapeDescription) but B is \(b.shapeDescription)")
        }
        if rows == 0 || b.cols == 0 { return b }
        var a = self
        var x = b
        let n = rows
        let info = a.storage.withUnsafeMutableBufferPointer { ap in
            x.storage.withUnsafeMutableBufferPointer { xp in
                T.gesv(n: n, nrhs: b.cols, a: ap.baseAddress!, lda: n, b: xp.baseAddress!, ldb: n)
            }
        }
        guard info == 0 else {
            throw IDLError.numerical(
                info > 0
                    ? "solve: the matrix is singular (U[\(info - 1),\(info - 1)] = 0)"
                    : "solve: gesv argument \(-info) was illegal")
        }
        return x
    }

    /// Solves A X = B for symmetric positive definite A by Cholesky (LAPACK posv; only the lower
    /// triangle of A is read).
    /// - Throws: ``IDLError/numerical(_:)`` if A is not positive definite.
    public func choleskySolve(_ b: Matrix) throws -> Matrix {
        guard rows == cols else {
            throw IDLError.shapeMismatch("Cholesky solve needs a square matrix, got \(shapeDescription)")
        }
        guard b.rows == rows else {
            throw IDLError.shapeMismatch("Cholesky solve: A is \(shapeDescription) but B is \(b.shapeDescription)")
        }
        if rows == 0 || b.cols == 0 { return b }
        var a = self
        var x = b
        let n = rows
        let info = a.storage.withUnsafeMutableBufferPointer { ap in
            x.storage.withUnsafeMutableBufferPointer { xp in
                T.posv(n: n, nrhs: b.cols, a: ap.baseAddress!, lda: n, b: xp.baseAddress!, ldb: n)
            }
        }
        guard info == 0 else {
            throw IDLError.numerical(
                info > 0
                    ? "Cholesky solve: the matrix is not positive definite (leading minor \(info))"
                    : "Cholesky solve: posv argument \(-info) was illegal")
        }
        return x
    }

    /// Eigenvalues in ascending order, and the orthonormal eigenvectors as columns, of a symmetric
    /// matrix (LAPACK syevd; the lower triangle is read).
    ///
    /// - Parameter vectors: Whether to compute the eigenvectors too (`false` returns `nil` for
    ///   them and is faster).
    /// - Returns: The n eigenvalues in ascending order and, if asked for, the n×n matrix whose
    ///   column k is the unit eigenvector of `values[k]`.
    /// - Throws: ``IDLError/shapeMismatch(_:)`` for a non-square matrix;
    ///   ``IDLError/numerical(_:)`` if LAPACK reports a failure (e.g. NaN entries).
    /// - Complexity: O(n³) for an n×n matrix.
    public func symmetricEigen(vectors: Bool = true) throws -> (values: [T], vectors: Matrix?) {
        guard rows == cols else {
            throw IDLError.shapeMismatch("symmetric eigendecomposition needs a square matrix, got \(shapeDescription)")
        }
        if rows == 0 { return ([], vectors ? self : nil) }
        var a = self
        var w = [T](repeating: 0, count: rows)
        let n = rows
        let info = a.storage.withUnsafeMutableBufferPointer { ap in
            w.withUnsafeMutableBufferPointer { wp in
                T.syevd(vectors: vectors, n: n, a: ap.baseAddress!, lda: n, w: wp.baseAddress!)
            }
        }
        guard info == 0 else {
            throw IDLError.numerical("symmetric eigendecomposition (syevd) failed with info = \(info)")
        }
        return (w, vectors ? a : nil)
    }
}
