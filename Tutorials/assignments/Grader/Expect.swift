import IDL

// Comparisons that throw a CheckFailure with a hint naming the worst entry.

/// A number as a hint prints it: 6 significant digits, ∞ and NaN spelled out.
public func show(_ x: Double) -> String { formatScalar(x, digits: 6) }

/// A short description of a vector or matrix for a hint: its shape and first entries.
public func show(_ m: Matrix<Double>, entries: Int = 4) -> String {
    let head = m.storage.prefix(entries).map(show).joined(separator: ", ")
    return "\(m.shapeDescription) matrix [\(head)\(m.count > entries ? ", …" : "")] (column-major)"
}

/// A short description of an array for a hint.
public func show(_ v: [Double], entries: Int = 6) -> String {
    let head = v.prefix(entries).map(show).joined(separator: ", ")
    return "[\(head)\(v.count > entries ? ", … (\(v.count) entries)" : "")]"
}

/// Passes when |got − expected| ≤ tolerance·max(1, |expected|) (equal infinities count as equal).
public func expectClose(
    _ got: Double, _ expected: Double, tolerance: Double, what: String, input: String
) throws {
    if got == expected { return }
    let ok = got.isFinite && expected.isFinite && abs(got - expected) <= tolerance * max(1, abs(expected))
    guard ok else {
        throw CheckFailure(
            input: input, expected: "\(what) = \(show(expected))", got: "\(what) = \(show(got))",
            tolerance: "relative \(show(tolerance)) (absolute below 1)")
    }
}

/// Passes when the shapes agree and every entry satisfies |g − e| ≤ tolerance·max(1, |e|);
/// otherwise the hint names the entry that is furthest off.
public func expectClose(
    _ got: Matrix<Double>, _ expected: Matrix<Double>, tolerance: Double, what: String, input: String
) throws {
    guard got.rows == expected.rows, got.cols == expected.cols else {
        throw CheckFailure(
            input: input, expected: "\(what) of shape \(expected.shapeDescription)",
            got: "\(what) of shape \(got.shapeDescription)")
    }
    var worst = (excess: 0.0, i: -1, j: -1)
    for j in 0..<got.cols {
        for i in 0..<got.rows {
            let (g, e) = (got[i, j], expected[i, j])
            if g == e { continue }
            let excess = g.isFinite ? abs(g - e) / max(1, abs(e)) : .infinity
            if excess > tolerance, excess > worst.excess || worst.i < 0 { worst = (excess, i, j) }
        }
    }
    if worst.i >= 0 {
        let (i, j) = (worst.i, worst.j)
        throw CheckFailure(
            input: input, expected: "\(what)[\(i), \(j)] = \(show(expected[i, j]))",
            got: "\(what)[\(i), \(j)] = \(show(got[i, j])) (the entry furthest off)",
            tolerance: "relative \(show(tolerance)) (absolute below 1)")
    }
}

/// ``expectClose(_:_:tolerance:what:input:)-(Matrix<Double>,_,_,_,_)`` for vectors.
public func expectClose(_ got: [Double], _ expected: [Double], tolerance: Double, what: String, input: String) throws {
    try expectClose(
        Matrix(column: got), Matrix(column: expected), tolerance: tolerance, what: what, input: input)
}

/// Passes when `condition` holds; the hint says what was expected and what came back.
public func expect(
    _ condition: Bool, input: String, expected: String, got: @autoclosure () -> String, tolerance: String = "exact"
)
    throws
{
    if !condition { throw CheckFailure(input: input, expected: expected, got: got(), tolerance: tolerance) }
}
