import RealModule

/// A dense matrix of `Float` or `Double`, stored column-major.
///
/// The project's convention is **columns are samples**: a batch of m inputs of dimension p is
/// a p×m matrix. A numpy C-order array of shape (m, p) has exactly the bytes of this p×m
/// column-major matrix, so batch-first `.npy` files load without reordering.
///
/// `Matrix` is a value type (copy-on-write through its `storage` array). Shape mistakes in
/// arithmetic are programming errors and stop with a message naming both shapes; the
/// constructors that take user data (`init(rows:cols:storage:)`, `init(rowMajor:)`) throw.
public struct Matrix<T: BLASScalar>: Equatable, Sendable {
    /// Number of rows.
    public let rows: Int
    /// Number of columns (samples, in a data matrix).
    public let cols: Int
    /// The entries in column-major order: entry (i, j) is `storage[i + j * rows]`.
    public var storage: [T]

    /// Number of entries, `rows * cols`.
    @inlinable public var count: Int { rows * cols }
    /// `(rows, cols)`.
    @inlinable public var shape: (rows: Int, cols: Int) { (rows, cols) }
    /// A readable shape such as `"3×4"`, used in error messages.
    public var shapeDescription: String { "\(rows)×\(cols)" }

    /// A matrix with every entry equal to `value`.
    @inlinable
    public init(rows: Int, cols: Int, repeating value: T = 0) {
        precondition(rows >= 0 && cols >= 0, "Matrix dimensions must be non-negative, got \(rows)×\(cols)")
        self.rows = rows
        self.cols = cols
        if value == 0 {
            // All-zero bytes are +0.0 in IEEE 754: one memset, fast even in unspecialised code.
            self.storage = [T](unsafeUninitializedCapacity: rows * cols) { buffer, count in
                UnsafeMutableRawBufferPointer(buffer).initializeMemory(as: UInt8.self, repeating: 0)
                count = rows * cols
            }
        } else {
            self.storage = [T](repeating: value, count: rows * cols)
        }
    }

    /// A matrix over existing column-major storage.
    /// - Throws: ``IDLError/shapeMismatch(_:)`` if `storage.count != rows * cols`.
    @inlinable
    public init(rows: Int, cols: Int, storage: [T]) throws {
        guard rows >= 0, cols >= 0 else {
            throw IDLError.invalidArgument("matrix dimensions must be non-negative, got \(rows)×\(cols)")
        }
        guard storage.count == rows * cols else {
            throw IDLError.shapeMismatch(
                "a \(rows)×\(cols) matrix needs \(rows * cols) entries, but \(storage.count) were given")
        }
        self.rows = rows
        self.cols = cols
        self.storage = storage
    }

    /// A matrix whose entries are not initialised: for outputs that are written in full before
    /// they are read (a product with β = 0), saving the zero-fill.
    @inlinable
    init(uninitializedRows rows: Int, cols: Int) {
        precondition(rows >= 0 && cols >= 0, "Matrix dimensions must be non-negative, got \(rows)×\(cols)")
        self.rows = rows
        self.cols = cols
        self.storage = [T](unsafeUninitializedCapacity: rows * cols) { _, count in count = rows * cols }
    }

    /// Internal unchecked initializer (the caller guarantees the count).
    @inlinable
    init(uncheckedRows rows: Int, cols: Int, storage: [T]) {
        self.rows = rows
        self.cols = cols
        self.storage = storage
    }

    /// A matrix whose entry (i, j) is `entry(i, j)`.
    @inlinable
    public init(rows: Int, cols: Int, _ entry: (Int, Int) -> T) {
        self.init(rows: rows, cols: cols)
        storage.withUnsafeMutableBufferPointer { p in
            for j in 0..<cols {
                for i in 0..<rows { p[i + j * rows] = entry(i, j) }
            }
        }
    }

    /// A matrix from nested rows (`rows[i][j]` is row i, column j), as JSON fixtures hold them.
    /// - Throws: ``IDLError/shapeMismatch(_:)`` when the rows have different lengths.
    public init(rowMajor nested: [[T]]) throws {
        let r = nested.count
        let c = nested.first?.count ?? 0
        for (i, row) in nested.enumerated() where row.count != c {
            throw IDLError.shapeMismatch(
                "row \(i) has \(row.count) entries, row 0 has \(c); all rows must have the same length")
        }
        self.init(rows: r, cols: c) { i, j in nested[i][j] }
    }

    /// A column vector (n×1).
    @inlinable
    public init(column values: [T]) {
        self.init(uncheckedRows: values.count, cols: 1, storage: values)
    }

    /// A row vector (1×n).
    @inlinable
    public init(row values: [T]) {
        self.init(uncheckedRows: 1, cols: values.count, storage: values)
    }

    /// The all-zeros matrix.
    @inlinable public static func zeros(_ rows: Int, _ cols: Int) -> Matrix { Matrix(rows: rows, cols: cols) }
    /// The all-ones matrix.
    @inlinable public static func ones(_ rows: Int, _ cols: Int) -> Matrix {
        Matrix(rows: rows, cols: cols, repeating: 1)
    }
    /// The n×n identity.
    @inlinable
    public static func identity(_ n: Int) -> Matrix {
        var m = Matrix(rows: n, cols: n)
        for i in 0..<n { m.storage[i + i * n] = 1 }
        return m
    }
    /// A square matrix with `values` on its diagonal.
    public static func diagonal(_ values: [T]) -> Matrix {
        let n = values.count
        var m = Matrix(rows: n, cols: n)
        for i in 0..<n { m.storage[i + i * n] = values[i] }
        return m
    }

    /// Entry (i, j).
    @inlinable
    public subscript(i: Int, j: Int) -> T {
        get {
            precondition(
                i >= 0 && i < rows && j >= 0 && j < cols, "index (\(i), \(j)) out of range for a \(rows)×\(cols) matrix"
            )
            return storage[i + j * rows]
        }
        set {
            precondition(
                i >= 0 && i < rows && j >= 0 && j < cols, "index (\(i), \(j)) out of range for a \(rows)×\(cols) matrix"
            )
            storage[i + j * rows] = newValue
        }
    }

    /// The entries as nested rows (`result[i][j]` is entry (i, j)).
    public var rowMajorArrays: [[T]] {
        (0..<rows).map { i in (0..<cols).map { j in storage[i + j * rows] } }
    }

    /// Converts to another precision.
    @inlinable
    public func converted<U: BLASScalar>(to _: U.Type = U.self) -> Matrix<U> {
        Matrix<U>(uncheckedRows: rows, cols: cols, storage: storage.map { U($0) })
    }

    /// Reinterprets the same column-major entries with another shape of the same size.
    ///
    /// - Parameters:
    ///   - newRows: The new number of rows.
    ///   - newCols: The new number of columns.
    /// - Returns: A newRows×newCols matrix with the same entries in the same storage order.
    /// - Throws: ``IDLError/shapeMismatch(_:)`` if newRows·newCols differs from the entry count.
    public func reshaped(rows newRows: Int, cols newCols: Int) throws -> Matrix {
        guard newRows * newCols == count, newRows >= 0, newCols >= 0 else {
            throw IDLError.shapeMismatch(
                "cannot reshape a \(shapeDescription) matrix (\(count) entries) to \(newRows)×\(newCols)")
        }
        return Matrix(uncheckedRows: newRows, cols: newCols, storage: storage)
    }

    /// Whether every entry is finite (no NaN, no ±∞).
    ///
    /// A max-reduction over the bit patterns with the sign bit cleared (NaN and ±∞ have the
    /// largest ones), which the compiler vectorises: no early exit, no branch per entry.
    @inlinable
    public var isFinite: Bool {
        storage.withUnsafeBufferPointer { p -> Bool in
            if T.self == Float.self {
                return p.withMemoryRebound(to: UInt32.self) { b in
                    var top: UInt32 = 0
                    for x in b { top = Swift.max(top, x & 0x7FFF_FFFF) }
                    return top < 0x7F80_0000
                }
            }
            if T.self == Double.self {
                return p.withMemoryRebound(to: UInt64.self) { b in
                    var top: UInt64 = 0
                    for x in b { top = Swift.max(top, x & 0x7FFF_FFFF_FFFF_FFFF) }
                    return top < 0x7FF0_0000_0000_0000
                }
            }
            for x in p where !x.isFinite { return false }
            return true
        }
    }
}

extension Matrix: CustomStringConvertible {
    /// A compact rendering; large matrices are elided.
    public var description: String {
        let maxShown = 8
        var lines = ["Matrix<\(T.typeName)> \(shapeDescription)"]
        for i in 0..<min(rows, maxShown) {
            var cells = (0..<min(cols, maxShown)).map { j in formatScalar(self[i, j]) }
            if cols > maxShown { cells.append("…") }
            lines.append("  [" + cells.joined(separator: ", ") + "]")
        }
        if rows > maxShown { lines.append("  …") }
        return lines.joined(separator: "\n")
    }
}

/// Formats a scalar with up to 6 significant digits (used by descriptions and printouts).
public func formatScalar<T: BinaryFloatingPoint>(_ x: T, digits: Int = 6) -> String {
    let d = Double(x)
    if d.isNaN { return "nan" }
    if d.isInfinite { return d > 0 ? "inf" : "-inf" }
    return String(formatSignificant(d, digits: digits))
}

/// `%.{digits}g`-style formatting without Foundation.
func formatSignificant(_ x: Double, digits: Int) -> String {
    if x == 0 { return "0" }
    let mag = Int(Double.log10(abs(x)).rounded(.down))
    if mag < -4 || mag >= digits {
        let mant = x / Double.pow(10, Double(mag))
        return formatFixed(mant, decimals: digits - 1, trim: true) + "e" + (mag < 0 ? "-" : "+")
            + (abs(mag) < 10 ? "0" : "") + String(abs(mag))
    }
    return formatFixed(x, decimals: max(0, digits - 1 - mag), trim: true)
}

/// Fixed-point formatting with `decimals` digits after the point.
public func formatFixed(_ x: Double, decimals: Int, trim: Bool = false) -> String {
    if x.isNaN { return "nan" }
    if x.isInfinite { return x > 0 ? "inf" : "-inf" }
    let scale = Double.pow(10, Double(decimals))
    let scaled = (abs(x) * scale).rounded()
    if scaled >= 9.0e18 { return String(x) }
    let whole = UInt64(scaled)
    let p = UInt64(scale)
    let intPart = decimals > 0 ? whole / p : whole
    var s = String(intPart)
    if decimals > 0 {
        var frac = String(whole % p)
        frac = String(repeating: "0", count: decimals - frac.count) + frac
        if trim {
            while frac.hasSuffix("0") { frac.removeLast() }
        }
        if !frac.isEmpty { s += "." + frac }
    }
    return (x < 0 && scaled != 0 ? "-" : "") + s
}
