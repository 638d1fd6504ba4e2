import RealModule

// Slices, concatenation and transposition.

extension Matrix {
    /// The transpose.
    @inlinable
    public var transposed: Matrix {
        var out = Matrix(rows: cols, cols: rows)
        let (r, c) = (rows, cols)
        // An empty matrix may still have a huge side (0×2⁴⁰ from a file): nothing to copy, and
        // the blocked loops below would spin through the empty blocks.
        if r == 0 || c == 0 { return out }
        storage.withUnsafeBufferPointer { src in
            out.storage.withUnsafeMutableBufferPointer { dst in
                // Blocked to stay cache friendly on large matrices.
                let bs = 32
                var jb = 0
                while jb < c {
                    var ib = 0
                    while ib < r {
                        for j in jb..<min(jb + bs, c) {
                            for i in ib..<min(ib + bs, r) { dst[j + i * c] = src[i + j * r] }
                        }
                        ib += bs
                    }
                    jb += bs
                }
            }
        }
        return out
    }

    /// Columns `range` (samples `range` of a data matrix); contiguous, so this is one copy.
    @inlinable
    public func columns(_ range: Range<Int>) -> Matrix {
        precondition(
            range.lowerBound >= 0 && range.upperBound <= cols,
            "columns \(range) out of range for a \(shapeDescription) matrix")
        return Matrix(
            uncheckedRows: rows, cols: range.count,
            storage: Array(storage[(range.lowerBound * rows)..<(range.upperBound * rows)]))
    }

    /// The columns at `indices`, in that order (e.g. a shuffled mini-batch).
    @inlinable
    public func columns(at indices: [Int]) -> Matrix {
        for j in indices {
            precondition(j >= 0 && j < cols, "column \(j) out of range for a \(shapeDescription) matrix")
        }
        let r = rows
        // One copy per column straight into uninitialised storage (no zero-fill first).
        let gathered = storage.withUnsafeBufferPointer { src in
            [T](unsafeUninitializedCapacity: r * indices.count) { dst, count in
                if r > 0, let from = src.baseAddress, let to = dst.baseAddress {
                    for (k, j) in indices.enumerated() {
                        (to + k * r).initialize(from: from + j * r, count: r)
                    }
                }
                count = r * indices.count
            }
        }
        return Matrix(uncheckedRows: r, cols: indices.count, storage: gathered)
    }

    /// Rows `range`.
    @inlinable
    public func rows(_ range: Range<Int>) -> Matrix {
        precondition(
            range.lowerBound >= 0 && range.upperBound <= rows,
            "rows \(range) out of range for a \(shapeDescription) matrix")
        var out = Matrix(rows: range.count, cols: cols)
        let (r, nr, lo) = (rows, range.count, range.lowerBound)
        storage.withUnsafeBufferPointer { src in
            out.storage.withUnsafeMutableBufferPointer { dst in
                for j in 0..<cols {
                    for i in 0..<nr { dst[i + j * nr] = src[lo + i + j * r] }
                }
            }
        }
        return out
    }

    /// The rows at `indices`, in that order.
    public func rows(at indices: [Int]) -> Matrix {
        Matrix(rows: indices.count, cols: cols) { i, j in self[indices[i], j] }
    }

    /// Row i as a 1×cols matrix.
    @inlinable public func row(_ i: Int) -> Matrix { rows(i..<(i + 1)) }
    /// Column j as a rows×1 matrix.
    @inlinable public func column(_ j: Int) -> Matrix { columns(j..<(j + 1)) }

    /// Row i as an array.
    public func rowArray(_ i: Int) -> [T] { (0..<cols).map { self[i, $0] } }
    /// Column j as an array.
    public func columnArray(_ j: Int) -> [T] { Array(storage[(j * rows)..<((j + 1) * rows)]) }

    /// Overwrites rows starting at `start` with `block` (same number of columns).
    @inlinable
    public mutating func setRows(_ start: Int, to block: Matrix) {
        precondition(
            block.cols == cols && start >= 0 && start + block.rows <= rows,
            "cannot place a \(block.shapeDescription) block at row \(start) of a \(shapeDescription) matrix")
        let (r, br) = (rows, block.rows)
        block.storage.withUnsafeBufferPointer { src in
            storage.withUnsafeMutableBufferPointer { dst in
                for j in 0..<cols {
                    for i in 0..<br { dst[start + i + j * r] = src[i + j * br] }
                }
            }
        }
    }

    /// Overwrites columns starting at `start` with `block` (same number of rows).
    @inlinable
    public mutating func setColumns(_ start: Int, to block: Matrix) {
        precondition(
            block.rows == rows && start >= 0 && start + block.cols <= cols,
            "cannot place a \(block.shapeDescription) block at column \(start) of a \(shapeDescription) matrix")
        storage.replaceSubrange((start * rows)..<((start + block.cols) * rows), with: block.storage)
    }

    /// Stacks matrices vertically (same number of columns): `[a; b; …]`.
    public static func vcat(_ parts: [Matrix]) -> Matrix {
        guard let first = parts.first else { return Matrix(rows: 0, cols: 0) }
        for p in parts where p.cols != first.cols {
            preconditionFailure("vcat needs equal column counts, got \(parts.map(\.shapeDescription))")
        }
        var out = Matrix(rows: parts.reduce(0) { $0 + $1.rows }, cols: first.cols)
        var r = 0
        for p in parts {
            out.setRows(r, to: p)
            r += p.rows
        }
        return out
    }

    /// Places matrices side by side (same number of rows): `[a, b, …]`.
    public static func hcat(_ parts: [Matrix]) -> Matrix {
        guard let first = parts.first else { return Matrix(rows: 0, cols: 0) }
        for p in parts where p.rows != first.rows {
            preconditionFailure("hcat needs equal row counts, got \(parts.map(\.shapeDescription))")
        }
        var storage = [T]()
        storage.reserveCapacity(parts.reduce(0) { $0 + $1.count })
        for p in parts { storage.append(contentsOf: p.storage) }
        return Matrix(uncheckedRows: first.rows, cols: parts.reduce(0) { $0 + $1.cols }, storage: storage)
    }

    /// The strictly upper triangular part (entries with j > i); the rest zero.
    public var strictlyUpperTriangular: Matrix {
        var out = self
        for j in 0..<cols {
            for i in 0..<rows where i >= j { out.storage[i + j * rows] = 0 }
        }
        return out
    }
}
