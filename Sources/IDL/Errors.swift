/// Errors thrown by the library for user mistakes and bad data. Each message says what was
/// expected, what was found, and where possible what to do about it.
public enum IDLError: Error, CustomStringConvertible, Equatable, Sendable {
    /// Shapes that do not fit together (matrix sizes, batch sizes, tensor shapes).
    case shapeMismatch(String)
    /// A hyperparameter or argument outside its allowed range.
    case invalidArgument(String)
    /// A value that is NaN or infinite where finite numbers are required.
    case nonFinite(String)
    /// A file that cannot be read or written, or whose contents are corrupt.
    case io(String)
    /// A file format feature this library does not support (e.g. an unknown dtype).
    case unsupported(String)
    /// A numerical routine that failed (singular matrix, LAPACK error, no convergence).
    case numerical(String)

    public var description: String {
        switch self {
        case .shapeMismatch(let m): return "shape mismatch: \(m)"
        case .invalidArgument(let m): return "invalid argument: \(m)"
        case .nonFinite(let m): return "non-finite values: \(m)"
        case .io(let m): return "file error: \(m)"
        case .unsupported(let m): return "unsupported: \(m)"
        case .numerical(let m): return "numerical failure: \(m)"
        }
    }
}
