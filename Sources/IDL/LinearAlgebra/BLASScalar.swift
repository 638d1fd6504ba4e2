import CBLAS
import RealModule

/// Whether a matrix operand of a product is used as stored or transposed.
public enum Transpose: Sendable {
    /// The operand as stored (BLAS `N`).
    case none
    /// The operand's transpose (BLAS `T`); no copy is made.
    case transpose

    @usableFromInline var cblas: CBLAS_TRANSPOSE {
        self == .none ? CblasNoTrans : CblasTrans
    }
}

/// The element types a ``Matrix`` can hold: `Float` and `Double`.
///
/// Everything generic in the library is written once against this protocol; the
/// requirements below are the only places where the two precisions differ, each a thin
/// call into the single- or double-precision routine of OpenBLAS (BLAS and LAPACK).
/// All matrices are column-major, leading dimension = number of rows.
public protocol BLASScalar: Real, BinaryFloatingPoint, Sendable, Codable
where RawSignificand: FixedWidthInteger {
    /// Name used in error messages and file headers ("float32" / "float64").
    static var typeName: String { get }

    /// C ← α·op(A)·op(B) + β·C (BLAS gemm), column-major.
    ///
    /// - Parameters:
    ///   - transA: Whether op(A) is A or Aᵀ.
    ///   - transB: Whether op(B) is B or Bᵀ.
    ///   - m: Rows of op(A) and of C.
    ///   - n: Columns of op(B) and of C.
    ///   - k: Columns of op(A), rows of op(B).
    ///   - alpha: The factor α of the product.
    ///   - a: A's entries, column-major.
    ///   - lda: The leading dimension (column stride) of A: at least its stored row count
    ///     (m, or k when transposed).
    ///   - b: B's entries, column-major.
    ///   - ldb: The leading dimension of B: at least its stored row count (k, or n when transposed).
    ///   - beta: The factor β of the old C (0: C is only written and may hold anything, even NaN).
    ///   - c: C's m×n entries, overwritten.
    ///   - ldc: The leading dimension of C (≥ m).
    /// - Complexity: O(m·n·k); large products are split into fixed tiles over the workers of
    ///   ``ThreadPolicy`` (the result does not depend on their number).
    static func gemm(
        _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
        alpha: Self, a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int,
        beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)

    /// y ← α·op(A)·x + β·y (BLAS gemv), column-major.
    ///
    /// - Parameters:
    ///   - trans: Whether op(A) is A or Aᵀ.
    ///   - m: Rows of the stored A.
    ///   - n: Columns of the stored A.
    ///   - alpha: The factor α of the product.
    ///   - a: A's entries, column-major.
    ///   - lda: The leading dimension of A (≥ m).
    ///   - x: The vector: n entries (m when transposed), `incx` apart.
    ///   - incx: The stride of x.
    ///   - beta: The factor β of the old y (0: y is only written).
    ///   - y: The result: m entries (n when transposed), `incy` apart.
    ///   - incy: The stride of y.
    /// - Complexity: O(m·n).
    static func gemv(
        _ trans: Transpose, m: Int, n: Int, alpha: Self, a: UnsafePointer<Self>, lda: Int,
        x: UnsafePointer<Self>, incx: Int, beta: Self, y: UnsafeMutablePointer<Self>, incy: Int)

    /// y ← α·x + y (BLAS axpy) over `n` contiguous entries.
    ///
    /// - Parameters:
    ///   - n: The number of entries.
    ///   - alpha: The factor α.
    ///   - x: The added vector.
    ///   - y: The vector updated in place.
    /// - Complexity: O(n).
    static func axpy(n: Int, alpha: Self, x: UnsafePointer<Self>, y: UnsafeMutablePointer<Self>)

    /// x·y (BLAS dot).
    ///
    /// - Parameters:
    ///   - n: The number of products summed.
    ///   - x: The first vector, entries `incx` apart.
    ///   - incx: The stride of x.
    ///   - y: The second vector, entries `incy` apart.
    ///   - incy: The stride of y.
    /// - Returns: Σ xᵢ·yᵢ (0 for n = 0).
    /// - Complexity: O(n).
    static func dot(n: Int, x: UnsafePointer<Self>, incx: Int, y: UnsafePointer<Self>, incy: Int) -> Self

    /// Minimum-norm least squares by SVD (LAPACK gelsd); returns `info` and the rank.
    ///
    /// Solves min ‖A X − B‖ for every column of B, with the least-norm X when A is rank deficient.
    ///
    /// - Parameters:
    ///   - m: Rows of A.
    ///   - n: Columns of A.
    ///   - nrhs: Columns of B.
    ///   - a: A's entries; destroyed.
    ///   - lda: The leading dimension of A (≥ m).
    ///   - b: On entry B in the first m rows; on exit X in the first n rows (so b needs
    ///     max(m, n) rows).
    ///   - ldb: The leading dimension of b (≥ max(m, n)).
    ///   - rcond: Singular values below rcond·σ_max count as zero (negative: machine precision).
    /// - Returns: LAPACK's `info` (0 on success, > 0 if the SVD did not converge) and the
    ///   effective rank of A.
    /// - Complexity: O(m·n·min(m, n) + max(m, n)·min(m, n)·nrhs); workspace allocated per call.
    static func gelsd(
        m: Int, n: Int, nrhs: Int, a: UnsafeMutablePointer<Self>, lda: Int,
        b: UnsafeMutablePointer<Self>, ldb: Int, rcond: Self
    ) -> (info: Int, rank: Int)

    /// Solves A X = B by LU with partial pivoting (LAPACK gesv); returns `info`.
    ///
    /// - Parameters:
    ///   - n: The order of the square matrix A.
    ///   - nrhs: Columns of B.
    ///   - a: A's entries; overwritten by its LU factors.
    ///   - lda: The leading dimension of A (≥ n).
    ///   - b: On entry B (n×nrhs), on exit X.
    ///   - ldb: The leading dimension of B (≥ n).
    /// - Returns: LAPACK's `info`: 0 on success, i > 0 if U(i, i) is exactly zero (A singular).
    /// - Complexity: O(n³ + n²·nrhs).
    static func gesv(
        n: Int, nrhs: Int, a: UnsafeMutablePointer<Self>, lda: Int,
        b: UnsafeMutablePointer<Self>, ldb: Int
    ) -> Int

    /// Solves A X = B for symmetric positive definite A by Cholesky (LAPACK posv); returns `info`.
    ///
    /// - Parameters:
    ///   - n: The order of A.
    ///   - nrhs: Columns of B.
    ///   - a: A's entries (the lower triangle is read); overwritten by the Cholesky factor.
    ///   - lda: The leading dimension of A (≥ n).
    ///   - b: On entry B (n×nrhs), on exit X.
    ///   - ldb: The leading dimension of B (≥ n).
    /// - Returns: LAPACK's `info`: 0 on success, i > 0 if the leading minor of order i is not
    ///   positive definite.
    /// - Complexity: O(n³/3 + n²·nrhs).
    static func posv(
        n: Int, nrhs: Int, a: UnsafeMutablePointer<Self>, lda: Int,
        b: UnsafeMutablePointer<Self>, ldb: Int
    ) -> Int

    /// Eigenvalues (ascending) and, if `vectors`, eigenvectors of a symmetric matrix
    /// (LAPACK syevd, lower triangle used); returns `info`.
    ///
    /// - Parameters:
    ///   - vectors: Whether to compute the eigenvectors.
    ///   - n: The order of A.
    ///   - a: A's entries; on exit the orthonormal eigenvectors as columns if `vectors`,
    ///     otherwise destroyed.
    ///   - lda: The leading dimension of A (≥ n).
    ///   - w: Receives the n eigenvalues in ascending order.
    /// - Returns: LAPACK's `info`: 0 on success, > 0 if the algorithm failed to converge.
    /// - Complexity: O(n³) (divide and conquer); workspace allocated per call.
    static func syevd(
        vectors: Bool, n: Int, a: UnsafeMutablePointer<Self>, lda: Int,
        w: UnsafeMutablePointer<Self>
    ) -> Int

    // Elementwise kernels used on the fixed-point hot paths. They are requirements (not generic
    // helpers) so that code reached through an existential, such as `any FixedPointSolver`, still
    // runs the loop compiled for the concrete type.

    /// max |aᵢ − bᵢ| (NaN if any difference is NaN) and max |aᵢ|, in one pass.
    ///
    /// - Parameters:
    ///   - a: The first buffer.
    ///   - b: The second buffer, at least as long as `a`.
    /// - Returns: The largest absolute difference and the largest magnitude in `a` (both 0 for
    ///   empty buffers).
    /// - Complexity: O(a.count).
    static func maxAbsDifference(_ a: UnsafeBufferPointer<Self>, _ b: UnsafeBufferPointer<Self>) -> (
        difference: Self, magnitude: Self
    )

    /// aᵢ ← aᵢ·bᵢ for every index of `a`; `b` must be at least as long.
    ///
    /// - Complexity: O(a.count).
    static func multiplyInPlace(_ a: UnsafeMutableBufferPointer<Self>, by b: UnsafeBufferPointer<Self>)
}

/// The largest |aᵢ − bᵢ| (NaN if any difference is NaN) and the largest |aᵢ|, as integer
/// max-reductions over the bit patterns with the sign bit cleared: for non-negative floats the
/// integer order is the numeric order, and NaN has the largest patterns of all. No select on
/// floats and no branch per entry, so the compiler vectorises the loop (a floating-point
/// max-reduction it may not reorder). A NaN entry of `a` also makes the magnitude NaN.
@inline(__always)
@usableFromInline
func maxAbsDifferenceKernel<T: BinaryFloatingPoint, Bits: FixedWidthInteger & UnsignedInteger>(
    _ a: UnsafeBufferPointer<T>, _ b: UnsafeBufferPointer<T>, signMask: Bits, infinity: Bits,
    bits: (T) -> Bits, value: (Bits) -> T
) -> (difference: T, magnitude: T) {
    var top: Bits = 0
    var size: Bits = 0
    for i in 0..<a.count {
        top = Swift.max(top, bits(a[i] - b[i]) & signMask)
        size = Swift.max(size, bits(a[i]) & signMask)
    }
    return (top > infinity ? .nan : value(top), size > infinity ? .nan : value(size))
}

@inline(__always)
@usableFromInline
func multiplyKernel<T: BLASScalar>(_ a: UnsafeMutableBufferPointer<T>, _ b: UnsafeBufferPointer<T>) {
    for i in 0..<a.count { a[i] *= b[i] }
}

extension Float: BLASScalar {
    public static func maxAbsDifference(_ a: UnsafeBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>) -> (
        difference: Float, magnitude: Float
    ) {
        maxAbsDifferenceKernel(
            a, b, signMask: UInt32(0x7FFF_FFFF), infinity: Float.infinity.bitPattern, bits: { $0.bitPattern },
            value: { Float(bitPattern: $0) })
    }

    public static func multiplyInPlace(_ a: UnsafeMutableBufferPointer<Float>, by b: UnsafeBufferPointer<Float>) {
        multiplyKernel(a, b)
    }

    public static var typeName: String { "float32" }

    public static func gemm(
        _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
        alpha: Float, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        ThreadPolicy.tiledGemm(
            transA, transB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc
        ) { tm, tn, ta, tb, tc in
            openBLAS.sgemm(
                CblasColMajor, transA.cblas, transB.cblas, Int32(tm), Int32(tn), Int32(k),
                alpha, ta, Int32(lda), tb, Int32(ldb), beta, tc, Int32(ldc))
        }
    }

    @inlinable
    public static func gemv(
        _ trans: Transpose, m: Int, n: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
        x: UnsafePointer<Float>, incx: Int, beta: Float, y: UnsafeMutablePointer<Float>, incy: Int
    ) {
        openBLAS.sgemv(
            CblasColMajor, trans.cblas, Int32(m), Int32(n), alpha, a, Int32(lda),
            x, Int32(incx), beta, y, Int32(incy))
    }

    @inlinable
    public static func axpy(n: Int, alpha: Float, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>) {
        openBLAS.saxpy(Int32(n), alpha, x, 1, y, 1)
    }

    @inlinable
    public static func dot(n: Int, x: UnsafePointer<Float>, incx: Int, y: UnsafePointer<Float>, incy: Int) -> Float {
        openBLAS.sdot(Int32(n), x, Int32(incx), y, Int32(incy))
    }

    public static func gelsd(
        m: Int, n: Int, nrhs: Int, a: UnsafeMutablePointer<Float>, lda: Int,
        b: UnsafeMutablePointer<Float>, ldb: Int, rcond: Float
    ) -> (info: Int, rank: Int) {
        var (m32, n32, r32, lda32, ldb32) = (Int32(m), Int32(n), Int32(nrhs), Int32(lda), Int32(ldb))
        var rc = rcond
        var rank: Int32 = 0
        var info: Int32 = 0
        let s = UnsafeMutablePointer<Float>.allocate(capacity: max(1, min(m, n)))
        defer { s.deallocate() }
        var iworkQuery: Int32 = 0
        var workQuery: Float = 0
        var m1: Int32 = -1
        openBLAS.sgelsd(&m32, &n32, &r32, a, &lda32, b, &ldb32, s, &rc, &rank, &workQuery, &m1, &iworkQuery, &info)
        let iwork = UnsafeMutablePointer<Int32>.allocate(capacity: max(1, Int(iworkQuery)))
        defer { iwork.deallocate() }
        var lwork = max(Int32(1), Int32(workQuery))
        let work = UnsafeMutablePointer<Float>.allocate(capacity: Int(lwork))
        defer { work.deallocate() }
        openBLAS.sgelsd(&m32, &n32, &r32, a, &lda32, b, &ldb32, s, &rc, &rank, work, &lwork, iwork, &info)
        return (Int(info), Int(rank))
    }

    public static func gesv(
        n: Int, nrhs: Int, a: UnsafeMutablePointer<Float>, lda: Int,
        b: UnsafeMutablePointer<Float>, ldb: Int
    ) -> Int {
        var (n32, r32, lda32, ldb32, info) = (Int32(n), Int32(nrhs), Int32(lda), Int32(ldb), Int32(0))
        var ipiv = [Int32](repeating: 0, count: max(1, n))
        openBLAS.sgesv(&n32, &r32, a, &lda32, &ipiv, b, &ldb32, &info)
        return Int(info)
    }

    public static func posv(
        n: Int, nrhs: Int, a: UnsafeMutablePointer<Float>, lda: Int,
        b: UnsafeMutablePointer<Float>, ldb: Int
    ) -> Int {
        var (n32, r32, lda32, ldb32, info) = (Int32(n), Int32(nrhs), Int32(lda), Int32(ldb), Int32(0))
        var uplo = CChar(UInt8(ascii: "L"))
        openBLAS.sposv(&uplo, &n32, &r32, a, &lda32, b, &ldb32, &info, 1)
        return Int(info)
    }

    public static func syevd(
        vectors: Bool, n: Int, a: UnsafeMutablePointer<Float>, lda: Int,
        w: UnsafeMutablePointer<Float>
    ) -> Int {
        var (n32, lda32, info) = (Int32(n), Int32(lda), Int32(0))
        var jobz = CChar(UInt8(ascii: vectors ? "V" : "N"))
        var uplo = CChar(UInt8(ascii: "L"))
        var liworkQuery: Int32 = 0
        var m1: Int32 = -1
        var workQuery: Float = 0
        openBLAS.ssyevd(&jobz, &uplo, &n32, a, &lda32, w, &workQuery, &m1, &liworkQuery, &m1, &info, 1, 1)
        var liwork = max(1, liworkQuery)
        var iwork = [Int32](repeating: 0, count: Int(liwork))
        var lwork = max(Int32(1), Int32(workQuery))
        var work = [Float](repeating: 0, count: Int(lwork))
        openBLAS.ssyevd(&jobz, &uplo, &n32, a, &lda32, w, &work, &lwork, &iwork, &liwork, &info, 1, 1)
        return Int(info)
    }
}

extension Double: BLASScalar {
    public static func maxAbsDifference(_ a: UnsafeBufferPointer<Double>, _ b: UnsafeBufferPointer<Double>) -> (
        difference: Double, magnitude: Double
    ) {
        maxAbsDifferenceKernel(
            a, b, signMask: UInt64(0x7FFF_FFFF_FFFF_FFFF), infinity: Double.infinity.bitPattern,
            bits: { $0.bitPattern }, value: { Double(bitPattern: $0) })
    }

    public static func multiplyInPlace(_ a: UnsafeMutableBufferPointer<Double>, by b: UnsafeBufferPointer<Double>) {
        multiplyKernel(a, b)
    }

    public static var typeName: String { "float64" }

    public static func gemm(
        _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
        alpha: Double, a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
        beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int
    ) {
        ThreadPolicy.tiledGemm(
            transA, transB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc
        ) { tm, tn, ta, tb, tc in
            openBLAS.dgemm(
                CblasColMajor, transA.cblas, transB.cblas, Int32(tm), Int32(tn), Int32(k),
                alpha, ta, Int32(lda), tb, Int32(ldb), beta, tc, Int32(ldc))
        }
    }

    @inlinable
    public static func gemv(
        _ trans: Transpose, m: Int, n: Int, alpha: Double, a: UnsafePointer<Double>, lda: Int,
        x: UnsafePointer<Double>, incx: Int, beta: Double, y: UnsafeMutablePointer<Double>, incy: Int
    ) {
        openBLAS.dgemv(
            CblasColMajor, trans.cblas, Int32(m), Int32(n), alpha, a, Int32(lda),
            x, Int32(incx), beta, y, Int32(incy))
    }

    @inlinable
    public static func axpy(n: Int, alpha: Double, x: UnsafePointer<Double>, y: UnsafeMutablePointer<Double>) {
        openBLAS.daxpy(Int32(n), alpha, x, 1, y, 1)
    }

    @inlinable
    public static func dot(n: Int, x: UnsafePointer<Double>, incx: Int, y: UnsafePointer<Double>, incy: Int) -> Double {
        openBLAS.ddot(Int32(n), x, Int32(incx), y, Int32(incy))
    }

    public static func gelsd(
        m: Int, n: Int, nrhs: Int, a: UnsafeMutablePointer<Double>, lda: Int,
        b: UnsafeMutablePointer<Double>, ldb: Int, rcond: Double
    ) -> (info: Int, rank: Int) {
        var (m32, n32, r32, lda32, ldb32) = (Int32(m), Int32(n), Int32(nrhs), Int32(lda), Int32(ldb))
        var rc = rcond
        var rank: Int32 = 0
        var info: Int32 = 0
        let s = UnsafeMutablePointer<Double>.allocate(capacity: max(1, min(m, n)))
        defer { s.deallocate() }
        var iworkQuery: Int32 = 0
        var workQuery: Double = 0
        var m1: Int32 = -1
        openBLAS.dgelsd(&m32, &n32, &r32, a, &lda32, b, &ldb32, s, &rc, &rank, &workQuery, &m1, &iworkQuery, &info)
        let iwork = UnsafeMutablePointer<Int32>.allocate(capacity: max(1, Int(iworkQuery)))
        defer { iwork.deallocate() }
        var lwork = max(Int32(1), Int32(workQuery))
        let work = UnsafeMutablePointer<Double>.allocate(capacity: Int(lwork))
        defer { work.deallocate() }
        openBLAS.dgelsd(&m32, &n32, &r32, a, &lda32, b, &ldb32, s, &rc, &rank, work, &lwork, iwork, &info)
        return (Int(info), Int(rank))
    }

    public static func gesv(
        n: Int, nrhs: Int, a: UnsafeMutablePointer<Double>, lda: Int,
        b: UnsafeMutablePointer<Double>, ldb: Int
    ) -> Int {
        var (n32, r32, lda32, ldb32, info) = (Int32(n), Int32(nrhs), Int32(lda), Int32(ldb), Int32(0))
        var ipiv = [Int32](repeating: 0, count: max(1, n))
        openBLAS.dgesv(&n32, &r32, a, &lda32, &ipiv, b, &ldb32, &info)
        return Int(info)
    }

    public static func posv(
        n: Int, nrhs: Int, a: UnsafeMutablePointer<Double>, lda: Int,
        b: UnsafeMutablePointer<Double>, ldb: Int
    ) -> Int {
        var (n32, r32, lda32, ldb32, info) = (Int32(n), Int32(nrhs), Int32(lda), Int32(ldb), Int32(0))
        var uplo = CChar(UInt8(ascii: "L"))
        openBLAS.dposv(&uplo, &n32, &r32, a, &lda32, b, &ldb32, &info, 1)
        return Int(info)
    }

    public static func syevd(
        vectors: Bool, n: Int, a: UnsafeMutablePointer<Double>, lda: Int,
        w: UnsafeMutablePointer<Double>
    ) -> Int {
        var (n32, lda32, info) = (Int32(n), Int32(lda), Int32(0))
        var jobz = CChar(UInt8(ascii: vectors ? "V" : "N"))
        var uplo = CChar(UInt8(ascii: "L"))
        var liworkQuery: Int32 = 0
        var m1: Int32 = -1
        var workQuery: Double = 0
        openBLAS.dsyevd(&jobz, &uplo, &n32, a, &lda32, w, &workQuery, &m1, &liworkQuery, &m1, &info, 1, 1)
        var liwork = max(1, liworkQuery)
        var iwork = [Int32](repeating: 0, count: Int(liwork))
        var lwork = max(Int32(1), Int32(workQuery))
        var work = [Double](repeating: 0, count: Int(lwork))
        openBLAS.dsyevd(&jobz, &uplo, &n32, a, &lda32, w, &work, &lwork, &iwork, &liwork, &info, 1, 1)
        return Int(info)
    }
}
