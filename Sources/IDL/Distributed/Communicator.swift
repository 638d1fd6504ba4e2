// The processes of a distributed run, and the few collective operations the library needs.

/// The element types a ``Communicator`` moves: `Double`, `Float` and `Int64`.
public protocol CommunicatorScalar: Sendable {
    /// The name of OpenMPI's predefined datatype object (e.g. `ompi_mpi_double`), looked up in
    /// the MPI library at run time.
    static var mpiDatatypeSymbol: String { get }
}

extension Double: CommunicatorScalar {
    /// `ompi_mpi_double` (MPI_DOUBLE).
    public static var mpiDatatypeSymbol: String { "ompi_mpi_double" }
}

extension Float: CommunicatorScalar {
    /// `ompi_mpi_float` (MPI_FLOAT).
    public static var mpiDatatypeSymbol: String { "ompi_mpi_float" }
}

extension Int64: CommunicatorScalar {
    /// `ompi_mpi_int64_t` (MPI_INT64_T).
    public static var mpiDatatypeSymbol: String { "ompi_mpi_int64_t" }
}

/// The processes (ranks) of one distributed run and the collective operations between them.
///
/// Every operation is collective: all ranks call it, in the same order, with the same counts.
/// The library writes its distributed code once against this protocol; ``SingleProcessCommunicator``
/// runs it in one process (and in tests), ``MPICommunicator`` across the processes `mpirun`
/// started. Sums (``allReduceSum(_:)``) are formed in rank order on rank 0 and broadcast, so a
/// result never depends on the reduction algorithm the MPI library picks.
public protocol Communicator: AnyObject {
    /// This process's index, 0..<``size``.
    var rank: Int { get }
    /// The number of processes.
    var size: Int { get }
    /// Replaces `values` on every rank by `root`'s (the same count on every rank).
    /// - Throws: ``IDLError/invalidArgument(_:)`` for a root that is not a rank; a failure of the transport
    ///   (``IDLError``; MPI itself usually ends the job first).
    func broadcast<T: CommunicatorScalar>(_ values: inout [T], root: Int) throws
    /// Rank r sends `values` (`counts[r]` entries); `root` receives their concatenation in rank
    /// order, every other rank an empty array. `counts` is the same on every rank.
    /// - Throws: ``IDLError/shapeMismatch(_:)`` when `counts` does not fit the ranks or `values`; a failure
    ///   of the transport (``IDLError``; MPI itself usually ends the job first).
    func gather<T: CommunicatorScalar>(_ values: [T], counts: [Int], root: Int) throws -> [T]
    /// The smallest of the ranks' `value`s, on every rank.
    /// - Throws: a failure of the transport (``IDLError``; MPI itself usually ends the job first).
    func minimum(_ value: Int64) throws -> Int64
    /// Returns when every rank has called it.
    /// - Throws: a failure of the transport (``IDLError``; MPI itself usually ends the job first).
    func barrier() throws
}

/// One process: rank 0 of 1. Broadcasts and gathers return their input.
public final class SingleProcessCommunicator: Communicator {
    /// Always 0.
    public var rank: Int { 0 }
    /// Always 1.
    public var size: Int { 1 }
    /// The communicator of a run without other processes.
    public init() {}
    /// Leaves `values` as they are.
    /// - Throws: ``IDLError/invalidArgument(_:)`` for a root other than 0.
    public func broadcast<T: CommunicatorScalar>(_ values: inout [T], root: Int) throws {
        guard root == 0 else { throw IDLError.invalidArgument("broadcast root \(root) of a 1-process run") }
    }
    /// Returns `values`.
    /// - Throws: ``IDLError/shapeMismatch(_:)`` unless the root is 0 and `counts` is [values.count].
    public func gather<T: CommunicatorScalar>(_ values: [T], counts: [Int], root: Int) throws -> [T] {
        guard root == 0, counts == [values.count] else {
            throw IDLError.shapeMismatch("gather of \(values.count) values with counts \(counts) to root \(root)")
        }
        return values
    }
    /// Returns `value`.
    /// - Throws: nothing (one process).
    public func minimum(_ value: Int64) throws -> Int64 { value }
    /// Returns at once.
    /// - Throws: nothing (one process).
    public func barrier() throws {}
}

/// A failure of one rank of a distributed run, known to every rank.
///
/// ``Communicator/checkpoint(_:)`` throws it on every rank when any rank failed: ``rank`` is the
/// lowest failing rank, and ``message`` its error's description on that rank (nil on the others,
/// so that the message is printed once).
public struct RankFailure: Error, CustomStringConvertible, Sendable {
    /// The lowest rank whose work threw.
    public let rank: Int
    /// That rank's error message, on that rank only.
    public let message: String?
    /// "rank r: message" (or "rank r failed").
    public var description: String { "rank \(rank): " + (message ?? "failed") }
}

extension Communicator {
    /// Runs `body`, then agrees with every rank on whether all succeeded; throws ``RankFailure``
    /// on every rank when any failed.
    ///
    /// Call it around every phase whose failure could leave the other ranks waiting in a
    /// collective operation; a ``RankFailure`` thrown inside `body` (an inner checkpoint, which
    /// every rank passed) is rethrown at once. With one rank there is nobody to agree with:
    /// `body`'s own error is thrown unchanged (a single-process run reports no rank).
    /// - Throws: ``RankFailure`` on every rank when any rank's `body` threw; with one rank,
    ///   `body`'s error.
    public func checkpoint<R>(_ body: () throws -> R) throws -> R {
        if size == 1 { return try body() }
        var outcome: Result<R, any Error>
        do { outcome = .success(try body()) } catch let agreed as RankFailure { throw agreed } catch {
            outcome = .failure(error)
        }
        let failed: Int64
        if case .failure = outcome { failed = Int64(rank) } else { failed = Int64(size) }
        let first = Int(try minimum(failed))
        switch outcome {
        case .success(let value) where first == size:
            return value
        case .failure(let error) where first == rank:
            throw RankFailure(rank: first, message: "\(error)")
        default:
            throw RankFailure(rank: first, message: nil)
        }
    }

    /// Sums `values` over the ranks, the same bits on every rank: rank 0 adds the ranks'
    /// vectors in rank order, ((v₀ + v₁) + v₂) + …, and broadcasts the sum.
    /// - Throws: a failure of the transport (``IDLError``; MPI itself usually ends the job first).
    public func allReduceSum<T: CommunicatorScalar & AdditiveArithmetic>(_ values: inout [T]) throws {
        if size == 1 { return }
        let count = values.count
        let all = try gather(values, counts: [Int](repeating: count, count: size), root: 0)
        if rank == 0 {
            for r in 1..<size {
                for i in 0..<count { values[i] += all[r * count + i] }
            }
        }
        try broadcast(&values, root: 0)
    }

    /// The concatenation of every rank's `values` (`counts[r]` from rank r), on every rank.
    /// - Throws: ``IDLError/shapeMismatch(_:)`` when `counts` does not fit; a failure of the transport
    ///   (``IDLError``; MPI itself usually ends the job first).
    public func allGather<T: CommunicatorScalar & AdditiveArithmetic>(_ values: [T], counts: [Int]) throws -> [T] {
        var all = try gather(values, counts: counts, root: 0)
        if rank != 0 { all = [T](repeating: .zero, count: counts.reduce(0, +)) }
        try broadcast(&all, root: 0)
        return all
    }
}
