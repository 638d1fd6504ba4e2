import Foundation
import IDL

// Deterministic printing: every number a tutorial prints goes through one of these, with a
// fixed number of decimals, so the same seed prints the same text.

/// `x` with `decimals` digits after the point: `fixed(0.71823, 4)` is `0.7182`.
public func fixed<V: BinaryFloatingPoint>(_ x: V, _ decimals: Int = 4) -> String {
    formatFixed(Double(x), decimals: decimals)
}

/// `x` with `decimals` digits after the point and a leading space when it is not negative, so
/// that columns of mixed signs line up: ` 0.1920`, `-0.3569`.
public func signed<V: BinaryFloatingPoint>(_ x: V, _ decimals: Int = 4) -> String {
    let s = fixed(x, decimals)
    return s.hasPrefix("-") ? s : " " + s
}

/// `x` in scientific notation with `digits` digits after the point: `1.19e-07`.
public func scientific<V: BinaryFloatingPoint>(_ x: V, _ digits: Int = 2) -> String {
    let d = Double(x)
    if d == 0 { return "0" }
    return String(format: "%.\(digits)e", d)
}

/// `x` as a percentage with `decimals` digits: `percent(0.8462)` is `84.6 %`.
public func percent<V: BinaryFloatingPoint>(_ x: V, _ decimals: Int = 1) -> String {
    fixed(100 * Double(x), decimals) + " %"
}

/// The entries of a vector (a single row or column) as `[ 0.1920, -0.3569, …]`.
public func vector<T>(_ m: Matrix<T>, _ decimals: Int = 4) -> String {
    "[" + m.storage.map { signed($0, decimals) }.joined(separator: ", ") + "]"
}

/// A plain-text table with right-aligned columns under a header and a rule.
public func table(_ header: [String], _ rows: [[String]]) -> String {
    let columns = max(header.count, rows.map(\.count).max() ?? 0)
    var widths = [Int](repeating: 0, count: columns)
    for row in [header] + rows {
        for (j, cell) in row.enumerated() { widths[j] = max(widths[j], cell.count) }
    }
    func line(_ row: [String]) -> String {
        (0..<columns).map { j in
            let cell = j < row.count ? row[j] : ""
            return String(repeating: " ", count: widths[j] - cell.count) + cell
        }.joined(separator: "  ")
    }
    let rule = widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")
    return ([line(header), rule] + rows.map(line)).joined(separator: "\n")
}
