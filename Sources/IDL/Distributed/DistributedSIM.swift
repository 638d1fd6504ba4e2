// Row-parallel SIM: each rank solves a fixed share of the row blocks of every stage.

/// The row blocks of a stage that one of `parts` processes solves: blocks
/// ⌊part·count/parts⌋ ..< ⌊(part+1)·count/parts⌋, a contiguous run of whole blocks.
struct SIMRowShare: Sendable, Equatable {
    let part: Int
    let parts: Int

    /// All blocks (one process).
    static let whole = SIMRowShare(part: 0, parts: 1)

    /// The blocks of this share among `count` blocks.
    func blocks(of count: Int) -> Range<Int> {
        (count * part / parts)..<(count * (part + 1) / parts)
    }

    /// The rows of this share in a stage of `rowCount` rows solved in blocks of `capacity`.
    func rows(of rowCount: Int, capacity: Int) -> Range<Int> {
        let b = blocks(of: (rowCount + capacity - 1) / capacity)
        return Swift.min(rowCount, b.lowerBound * capacity)..<Swift.min(rowCount, b.upperBound * capacity)
    }
}

extension SIMExactSolver {
    /// The two-stage fit of ``fit(_:progress:)`` spread over the ranks of `communicator`, with
    /// bitwise the same result on every rank as ``fit(_:progress:)`` in one process.
    ///
    /// Every rank holds the states. In each stage the rows are cut into the solver's fixed
    /// blocks (see ``rowsPerBlock``), and rank r of K solves blocks ⌊r·B/K⌋ ..< ⌊(r+1)·B/K⌋ of
    /// the B blocks — whole blocks, so every row meets exactly the arithmetic of the
    /// one-process fit. The ranks then exchange their rows (gather to rank 0 and broadcast:
    /// (n+p)·rows values and 4 statistics per row), and every rank regenerates the states from
    /// the full (A, B) with the same code, so stage 2 starts from the same bits everywhere.
    /// After each stage the ranks agree on success (``Communicator/checkpoint(_:)``): an error on
    /// any rank is thrown on all of them as ``RankFailure``, never a rank left waiting.
    ///
    /// - Parameters:
    ///   - states: The recorded U, X, Z and Y (the same on every rank).
    ///   - communicator: The ranks of the run.
    ///   - progress: Called with (rows this rank has done, rows in total), or nil.
    /// - Returns: The fit, the same on every rank.
    /// - Throws: ``RankFailure`` when any rank failed (its message on the failing rank).
    public func fit<T: BLASScalar & CommunicatorScalar>(
        _ states: SIMStates<T>, over communicator: any Communicator, progress: SIMProgress? = nil
    ) throws -> SIMFit<T> {
        let share = SIMRowShare(part: communicator.rank, parts: communicator.size)
        let cache = SIMGramCache<T>()
        return try communicator.checkpoint {
            try runTwoStageSIM(self, states, progress: progress) { f, t, n, l, c, stage, p in
                let local = try communicator.checkpoint {
                    try fitStage(
                        stage, features: f, targets: t, stateCount: n, lambda: l, constraint: c, progress: p,
                        cache: cache, share: share)
                }
                return try exchangeRows(local, capacity: blockCapacity(rowCount: t.rows), communicator: communicator)
            }
        }
    }
}

/// Puts together, on every rank, the rows each rank solved of a stage (its share's rows of
/// `local`; the other rows of `local` are ignored).
func exchangeRows<T: BLASScalar & CommunicatorScalar>(
    _ local: SIMStageResult<T>, capacity: Int, communicator: any Communicator
) throws -> SIMStageResult<T> {
    let rowCount = local.weights.rows
    let d = local.weights.cols
    let size = communicator.size
    let shares = (0..<size).map { SIMRowShare(part: $0, parts: size).rows(of: rowCount, capacity: capacity) }
    let mine = shares[communicator.rank]
    // Rows as d values each (row-major), then 4 statistics per row.
    var weights = [T]()
    weights.reserveCapacity(mine.count * d)
    var statistics = [Double]()
    statistics.reserveCapacity(mine.count * 4)
    for i in mine {
        for j in 0..<d { weights.append(local.weights.storage[i + j * rowCount]) }
        let s = local.rows[i]
        statistics += [Double(s.iterations), s.objective, s.gap, s.converged ? 1 : 0]
    }
    let allWeights = try communicator.allGather(weights, counts: shares.map { $0.count * d })
    let allStatistics = try communicator.allGather(statistics, counts: shares.map { $0.count * 4 })
    var result = Matrix<T>(rows: rowCount, cols: d)
    var rows = [SIMRowStatistics]()
    rows.reserveCapacity(rowCount)
    for i in 0..<rowCount {
        for j in 0..<d { result.storage[i + j * rowCount] = allWeights[i * d + j] }
        let s = allStatistics[(4 * i)..<(4 * i + 4)].map { $0 }
        rows.append(SIMRowStatistics(iterations: Int(s[0]), objective: s[1], gap: s[2], converged: s[3] != 0))
    }
    return SIMStageResult(
        weights: result, rows: rows, warnings: local.warnings, objectiveTrace: local.objectiveTrace)
}
