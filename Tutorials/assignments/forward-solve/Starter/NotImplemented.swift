/// What every starter function throws until you write it. (Shared by all the assignments'
/// starters; the grader reports it as a failed check.)
public struct NotImplemented: Error, CustomStringConvertible {
    /// The function still to write.
    public var function: String
    /// An error for `function`.
    public init(_ function: String = #function) { self.function = function }
    public var description: String { "not implemented: \(function)" }
}
