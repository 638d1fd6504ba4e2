import RealModule

// Elementwise arithmetic, maps, reductions and norms.

extension Matrix {
    @inlinable
    func checkSameShape(_ other: Matrix, _ op: String) {
        precondition(
            rows == other.rows && cols == other.cols,
            "\(op): shapes \(shapeDescription) and \(other.shapeDescription) differ")
    }

    /// Applies `f` to every entry.
    @inlinable
    public func map(_ f: (T) -> T) -> Matrix {
        var out = self
        out.storage.withUnsafeMutableBufferPointer { p in
            for k in p.indices { p[k] = f(p[k]) }
        }
        return out
    }

    /// Applies `f` to every entry in place.
    @inlinable
    public mutating func apply(_ f: (T) -> T) {
        storage.withUnsafeMutableBufferPointer { p in
            for k in p.indices { p[k] = f(p[k]) }
        }
    }

    /// Combines two matrices of the same shape entry by entry.
    @inlinable
    public func zip(_ other: Matrix, _ f: (T, T) -> T) -> Matrix {
        checkSameShape(other, "zip")
        var out = self
        other.storage.withUnsafeBufferPointer { q in
            out.storage.withUnsafeMutableBufferPointer { p in
                for k in p.indices { p[k] = f(p[k], q[k]) }
            }
        }
        return out
    }

    /// self ← self + α·x (BLAS axpy).
    @inlinable
    public mutating func addScaled(_ x: Matrix, _ alpha: T) {
        checkSameShape(x, "addScaled")
        let n = count
        x.storage.withUnsafeBufferPointer { xp in
            storage.withUnsafeMutableBufferPointer { yp in
                T.axpy(n: n, alpha: alpha, x: xp.baseAddress!, y: yp.baseAddress!)
            }
        }
    }

    /// Entrywise sum a + b; the shapes must match (a mismatch stops the program).
    @inlinable public static func + (a: Matrix, b: Matrix) -> Matrix { a.zip(b, +) }
    /// Entrywise difference a − b; the shapes must match (a mismatch stops the program).
    @inlinable public static func - (a: Matrix, b: Matrix) -> Matrix { a.zip(b, -) }
    /// Elementwise (Hadamard) product. Matrix products are ``matmul(_:_:transposeA:transposeB:)->Matrix<T>``.
    @inlinable public static func * (a: Matrix, b: Matrix) -> Matrix { a.zip(b, *) }
    /// Entrywise quotient a / b; the shapes must match (a mismatch stops the program).
    @inlinable public static func / (a: Matrix, b: Matrix) -> Matrix { a.zip(b, /) }
    /// The scalar `s` added to every entry.
    @inlinable public static func + (a: Matrix, s: T) -> Matrix { a.map { $0 + s } }
    /// The scalar `s` subtracted from every entry.
    @inlinable public static func - (a: Matrix, s: T) -> Matrix { a.map { $0 - s } }
    /// Every entry multiplied by the scalar `s`.
    @inlinable public static func * (a: Matrix, s: T) -> Matrix { a.map { $0 * s } }
    /// Every entry multiplied by the scalar `s` (s·a).
    @inlinable public static func * (s: T, a: Matrix) -> Matrix { a.map { $0 * s } }
    /// Every entry divided by the scalar `s`.
    @inlinable public static func / (a: Matrix, s: T) -> Matrix { a.map { $0 / s } }
    /// Every entry negated.
    @inlinable public static prefix func - (a: Matrix) -> Matrix { a.map { -$0 } }
    /// a ← a + b in place (BLAS axpy, O(rows·cols)); the shapes must match.
    @inlinable public static func += (a: inout Matrix, b: Matrix) { a.addScaled(b, 1) }
    /// a ← a − b in place (BLAS axpy, O(rows·cols)); the shapes must match.
    @inlinable public static func -= (a: inout Matrix, b: Matrix) { a.addScaled(b, -1) }
    /// Every entry of `a` multiplied by the scalar `s`, in place.
    @inlinable public static func *= (a: inout Matrix, s: T) { a.apply { $0 * s } }

    /// Adds a column vector (rows×1) to every column: the bias broadcast of a linear layer.
    @inlinable
    public func addingColumn(_ v: Matrix) -> Matrix {
        precondition(
            v.rows == rows && v.cols == 1, "addingColumn: expected a \(rows)×1 vector, got \(v.shapeDescription)")
        var out = self
        let r = rows
        v.storage.withUnsafeBufferPointer { vp in
            out.storage.withUnsafeMutableBufferPointer { p in
                for j in 0..<cols {
                    for i in 0..<r { p[i + j * r] += vp[i] }
                }
            }
        }
        return out
    }

    // MARK: Reductions

    /// Sum of all entries.
    @inlinable
    public func sum() -> T {
        storage.withUnsafeBufferPointer { p in
            var s: T = 0
            for x in p { s += x }
            return s
        }
    }

    /// Mean of all entries (0 for an empty matrix).
    @inlinable public func mean() -> T { count == 0 ? 0 : sum() / T(count) }

    /// Largest entry (−∞ for an empty matrix).
    @inlinable public func maxEntry() -> T { storage.max() ?? -T.infinity }
    /// Smallest entry (+∞ for an empty matrix).
    @inlinable public func minEntry() -> T { storage.min() ?? T.infinity }

    /// Row sums, as a rows×1 column (summing over samples).
    @inlinable
    public func rowSums() -> Matrix {
        var out = Matrix(rows: rows, cols: 1)
        let r = rows
        storage.withUnsafeBufferPointer { p in
            out.storage.withUnsafeMutableBufferPointer { o in
                for j in 0..<cols {
                    for i in 0..<r { o[i] += p[i + j * r] }
                }
            }
        }
        return out
    }

    /// Column sums, as a 1×cols row.
    @inlinable
    public func columnSums() -> Matrix {
        var out = Matrix(rows: 1, cols: cols)
        let r = rows
        storage.withUnsafeBufferPointer { p in
            for j in 0..<cols {
                var s: T = 0
                for i in 0..<r { s += p[i + j * r] }
                out.storage[j] = s
            }
        }
        return out
    }

    /// The row index of the largest entry of each column (the predicted class of each sample).
    /// Ties go to the first index, as in PyTorch and numpy.
    @inlinable
    public func argmaxPerColumn() -> [Int] {
        let r = rows
        return storage.withUnsafeBufferPointer { p in
            (0..<cols).map { j in
                var best = 0
                var bestValue = -T.infinity
                for i in 0..<r {
                    let v = p[i + j * r]
                    if v > bestValue || (i == 0) {
                        bestValue = v
                        best = i
                    }
                }
                return best
            }
        }
    }

    // MARK: Norms

    /// ‖M‖∞: the largest absolute row sum (the induced ℓ∞ operator norm).
    @inlinable
    public var infinityNorm: T {
        var sums = [T](repeating: 0, count: rows)
        let r = rows
        storage.withUnsafeBufferPointer { p in
            for j in 0..<cols {
                for i in 0..<r { sums[i] += abs(p[i + j * r]) }
            }
        }
        return sums.max() ?? 0
    }

    /// The absolute row sums (ℓ1 norm of each row).
    public var rowL1Norms: [T] {
        (0..<rows).map { i in (0..<cols).reduce(T(0)) { $0 + abs(self[i, $1]) } }
    }

    /// Frobenius norm √(Σ m_ij²).
    @inlinable
    public var frobeniusNorm: T {
        storage.withUnsafeBufferPointer { p in
            var s: T = 0
            for x in p { s += x * x }
            return T.sqrt(s)
        }
    }

    /// Largest absolute entry (0 for an empty matrix).
    @inlinable
    public var maxAbs: T {
        storage.withUnsafeBufferPointer { p in
            var m: T = 0
            for x in p { m = Swift.max(m, abs(x)) }
            return m
        }
    }

    /// Entrywise absolute value.
    @inlinable public var absolute: Matrix { map { abs($0) } }

    /// Number of entries exactly equal to zero.
    public var zeroCount: Int { storage.reduce(0) { $0 + ($1 == 0 ? 1 : 0) } }

    /// Whether all entries are within `tolerance` of `other`'s, relative to the larger magnitude
    /// (`|a − b| ≤ tol·max(1, |a|, |b|)`).
    public func isApproximatelyEqual(to other: Matrix, tolerance: T) -> Bool {
        guard rows == other.rows, cols == other.cols else { return false }
        for k in 0..<count {
            let (a, b) = (storage[k], other.storage[k])
            if abs(a - b) > tolerance * Swift.max(1, Swift.max(abs(a), abs(b))) { return false }
        }
        return true
    }
}
