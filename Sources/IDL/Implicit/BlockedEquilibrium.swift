// The implicit model's training step in fixed blocks of batch columns, one block per task.

extension ThreadPolicy {
    /// The fewest samples of a block of a training batch (see ``batchBlocks(columns:)``).
    public static let minimumBlockColumns = 32

    /// The most blocks a training batch is cut into (see ``batchBlocks(columns:)``).
    public static let maximumBatchBlocks = 4

    /// The number of blocks of columns an ``ImplicitModel`` cuts a batch of `columns` samples
    /// into while training: the largest power of two k ≤ ``maximumBatchBlocks`` with
    /// k · ``minimumBlockColumns`` ≤ `columns` — 1 below 64 samples, 2 for 64…127, 4 from 128.
    /// Block i holds the samples ⌊columns·i/k⌋ ..< ⌊columns·(i+1)/k⌋ (the same cut as the ranks
    /// of a data-parallel run, `batchShard`). The count depends on the batch size only, never
    /// on ``workers``, so the blocks — and every result — are the same on any number of cores.
    ///
    /// - Parameter columns: The samples of the batch.
    /// - Returns: The number of blocks, at least 1.
    public static func batchBlocks(columns: Int) -> Int {
        var k = 1
        while k * 2 <= maximumBatchBlocks && k * 2 * minimumBlockColumns <= columns { k *= 2 }
        return k
    }
}

/// What the forward pass of one block keeps for the backward pass.
private struct EquilibriumBlock<T: BLASScalar> {
    /// Z₀ = B U of the block's columns (n × w).
    var injection: Matrix<T>
    /// The block's fixed point X (n × w).
    var state: Matrix<T>
    /// The forward solve's statistics.
    var statistics: SolverStatistics
}

/// The gradients one block contributes in the backward pass.
private struct BlockGradients<T: BLASScalar> {
    /// ∂L/∂A, ∂L/∂B, ∂L/∂C, ∂L/∂D of the block's samples (nil where no gradient is needed).
    var parts: [Matrix<T>?]
    /// The adjoint solve's statistics.
    var statistics: SolverStatistics
}

/// Ŷ = C X + D U with X = φ(A X + B U), as one node of the graph, computed in `blocks` fixed
/// blocks of the batch's columns, one block per task of ``ThreadPolicy/forEachTask(_:_:)``.
///
/// Each block runs its own forward fixed point (stopping on its own residual), and in the
/// backward pass its own adjoint fixed point and its share of ∂L/∂A = V Xᵀ, ∂L/∂B = V Uᵀ,
/// ∂L/∂C = G Xᵀ and ∂L/∂D = G Uᵀ; the shares are then summed in block order, and ∂L/∂U = Bᵀ V +
/// Dᵀ G is written block by block. Which worker computes a block, and how many workers there
/// are, changes no bit of the result. The solves' statistics are recorded once per pass in
/// `log`, combined over the blocks (the slowest block's iterations, converged when all did).
///
/// - Parameters:
///   - a: The n×n matrix A (already made well-posed).
///   - b: B, n×p.
///   - c: C, q×n.
///   - d: D, q×p, or nil.
///   - u: The input batch U, p×m (with the bias row when the model has one).
///   - activation: φ.
///   - forward: The forward solve's settings.
///   - backward: The adjoint solve's settings.
///   - blocks: The number of blocks, at least 1 and at most m.
///   - log: Where the solves' statistics go.
/// - Returns: Ŷ, q×m.
func blockedImplicitOutput<T: BLASScalar>(
    a: Tensor<T>, b: Tensor<T>, c: Tensor<T>, d: Tensor<T>?, u: Tensor<T>, activation: any Activation,
    forward: FixedPointSettings, backward: FixedPointSettings, blocks: Int, log: SolveLog?
) -> Tensor<T> {
    let (av, bv, cv, dv, uv) = (a.value, b.value, c.value, d?.value, u.value)
    let (n, p, q, m) = (av.rows, uv.rows, cv.rows, uv.cols)
    precondition(blocks >= 1 && blocks <= Swift.max(1, m), "blocked implicit output: \(blocks) blocks for \(m) columns")
    var y = Matrix<T>(uninitializedRows: q, cols: m)
    var saved = [EquilibriumBlock<T>?](repeating: nil, count: blocks)
    y.storage.withUnsafeMutableBufferPointer { yp in
        saved.withUnsafeMutableBufferPointer { sp in
            let (yOut, blockOut) = (UncheckedMutablePointer(yp.baseAddress!), UncheckedMutablePointer(sp.baseAddress!))
            ThreadPolicy.forEachTask(blocks) { k in
                let columns = batchShard(count: m, rank: k, size: blocks)
                let w = columns.count
                var z = Matrix<T>(uninitializedRows: n, cols: w)
                bv.storage.withUnsafeBufferPointer { bp in
                    uv.storage.withUnsafeBufferPointer { up in
                        z.storage.withUnsafeMutableBufferPointer { zp in
                            T.gemm(
                                .none, .none, m: n, n: w, k: p, alpha: 1, a: bp.baseAddress!, lda: n,
                                b: up.baseAddress! + columns.lowerBound * p, ldb: p, beta: 0, c: zp.baseAddress!,
                                ldc: n)
                        }
                    }
                }
                let injection = z
                let (x, stats) = forward.solveFromZero(rows: n, cols: w) { x, out in
                    equilibriumMap(av, x, injection, activation, into: &out)
                }
                uv.storage.withUnsafeBufferPointer { up in
                    writeImplicitOutput(
                        c: cv, d: dv, state: x, input: up.baseAddress! + columns.lowerBound * p,
                        into: yOut.pointer + columns.lowerBound * q)
                }
                blockOut.pointer[k] = EquilibriumBlock(injection: injection, state: x, statistics: stats)
            }
        }
    }
    let forwardBlocks = saved.map { $0! }
    log?.recordForward(combinedStatistics(forwardBlocks.map(\.statistics)))
    let parameters: [Tensor<T>?] = [a, b, c, d]
    let needed = parameters.map { $0?.requiresGrad ?? false }
    let inputs = [a, b, c] + (d.map { [$0] } ?? []) + [u]
    return Tensor.custom(inputs: inputs, value: y) { g in
        var gu = u.requiresGrad ? Matrix<T>(uninitializedRows: p, cols: m) : nil
        var shares = [BlockGradients<T>?](repeating: nil, count: blocks)
        shares.withUnsafeMutableBufferPointer { sp in
            let shareOut = UncheckedMutablePointer(sp.baseAddress!)
            withOptionalStorage(&gu) { guOut in
                ThreadPolicy.forEachTask(blocks) { k in
                    let columns = batchShard(count: m, rank: k, size: blocks)
                    let w = columns.count
                    let block = forwardBlocks[k]
                    g.storage.withUnsafeBufferPointer { gp in
                        uv.storage.withUnsafeBufferPointer { up in
                            let gk = gp.baseAddress! + columns.lowerBound * q
                            let uk = up.baseAddress! + columns.lowerBound * p
                            // ∂L/∂X of the block: Cᵀ G.
                            var gx = Matrix<T>(uninitializedRows: n, cols: w)
                            cv.storage.withUnsafeBufferPointer { cp in
                                gx.storage.withUnsafeMutableBufferPointer { xp in
                                    T.gemm(
                                        .transpose, .none, m: n, n: w, k: q, alpha: 1, a: cp.baseAddress!, lda: q,
                                        b: gk, ldb: q, beta: 0, c: xp.baseAddress!, ldc: n)
                                }
                            }
                            // Φ′ at the block's fixed point, then the adjoint V.
                            var dphi = block.injection
                            gemm(av, block.state, into: &dphi, alpha: 1, beta: 1)
                            activation.derivative(dphi, into: &dphi)
                            let target = gx
                            let (v, stats) = backward.solveFromZero(rows: n, cols: w) { v, out in
                                adjointMap(av, v, target, dphi, into: &out)
                            }
                            var parts = [Matrix<T>?](repeating: nil, count: 4)
                            v.storage.withUnsafeBufferPointer { vp in
                                block.state.storage.withUnsafeBufferPointer { xp in
                                    // (left factor, its rows, right factor, its rows and leading dimension)
                                    let factors: [(UnsafePointer<T>, Int, UnsafePointer<T>, Int)] = [
                                        (vp.baseAddress!, n, xp.baseAddress!, n), (vp.baseAddress!, n, uk, p),
                                        (gk, q, xp.baseAddress!, n), (gk, q, uk, p),
                                    ]
                                    for (i, (left, rows, right, cols)) in factors.enumerated() where needed[i] {
                                        var share = Matrix<T>(uninitializedRows: rows, cols: cols)
                                        share.storage.withUnsafeMutableBufferPointer { s in
                                            T.gemm(
                                                .none, .transpose, m: rows, n: cols, k: w, alpha: 1, a: left, lda: rows,
                                                b: right, ldb: cols, beta: 0, c: s.baseAddress!, ldc: rows)
                                        }
                                        parts[i] = share
                                    }
                                }
                                // ∂L/∂U of the block's columns: Bᵀ V + Dᵀ G.
                                if let guOut {
                                    let target = guOut.pointer + columns.lowerBound * p
                                    bv.storage.withUnsafeBufferPointer { bp in
                                        T.gemm(
                                            .transpose, .none, m: p, n: w, k: n, alpha: 1, a: bp.baseAddress!, lda: n,
                                            b: vp.baseAddress!, ldb: n, beta: 0, c: target, ldc: p)
                                    }
                                    dv?.storage.withUnsafeBufferPointer { dp in
                                        T.gemm(
                                            .transpose, .none, m: p, n: w, k: q, alpha: 1, a: dp.baseAddress!, lda: q,
                                            b: gk, ldb: q, beta: 1, c: target, ldc: p)
                                    }
                                }
                            }
                            shareOut.pointer[k] = BlockGradients(parts: parts, statistics: stats)
                        }
                    }
                }
            }
        }
        let all = shares.map { $0! }
        log?.recordBackward(combinedStatistics(all.map(\.statistics)))
        let sums = sumInBlockOrder((0..<4).map { i in needed[i] ? all.map { $0.parts[i]! } : [] })
        return [sums[0], sums[1], sums[2]] + (d == nil ? [] : [sums[3]]) + [gu]
    }
}

/// Ŷ = C X + D U for the w columns of a state X (n×w), written at `output` (q rows, leading
/// dimension q); `input` holds U's w columns (p rows, leading dimension p, the columns of D).
func writeImplicitOutput<T: BLASScalar>(
    c: Matrix<T>, d: Matrix<T>?, state x: Matrix<T>, input: UnsafePointer<T>, into output: UnsafeMutablePointer<T>
) {
    let (q, n, w) = (c.rows, c.cols, x.cols)
    c.storage.withUnsafeBufferPointer { cp in
        x.storage.withUnsafeBufferPointer { xp in
            T.gemm(
                .none, .none, m: q, n: w, k: n, alpha: 1, a: cp.baseAddress!, lda: q, b: xp.baseAddress!, ldb: n,
                beta: 0, c: output, ldc: q)
        }
    }
    d?.storage.withUnsafeBufferPointer { dp in
        T.gemm(
            .none, .none, m: q, n: w, k: d!.cols, alpha: 1, a: dp.baseAddress!, lda: q, b: input, ldb: d!.cols,
            beta: 1, c: output, ldc: q)
    }
}

/// The statistics of the blocks of one solve, combined (see `SolverStatistics.combined(with:)`).
private func combinedStatistics(_ blocks: [SolverStatistics]) -> SolverStatistics {
    blocks.dropFirst().reduce(blocks[0]) { $0.combined(with: $1) }
}

/// For each list of same-shaped matrices (one per block), their entrywise sum in list order,
/// ((M₀ + M₁) + M₂) + …; nil for an empty list. The entries of a sum are shared among the
/// workers in fixed ranges, each entry summed in the same order, so the sums do not depend on
/// the worker count.
private func sumInBlockOrder<T: BLASScalar>(_ lists: [[Matrix<T>]]) -> [Matrix<T>?] {
    let chunk = 1 << 15
    return lists.map { list -> Matrix<T>? in
        guard let first = list.first else { return nil }
        guard list.count > 1 else { return first }
        let count = first.count
        var sum = Matrix<T>(uninitializedRows: first.rows, cols: first.cols)
        sum.storage.withUnsafeMutableBufferPointer { sp in
            let out = UncheckedMutablePointer(sp.baseAddress!)
            ThreadPolicy.forEachTask((count + chunk - 1) / chunk) { t in
                let range = (t * chunk)..<Swift.min(count, (t + 1) * chunk)
                let target = out.pointer + range.lowerBound
                first.storage.withUnsafeBufferPointer { fp in
                    target.update(from: fp.baseAddress! + range.lowerBound, count: range.count)
                }
                for part in list.dropFirst() {
                    part.storage.withUnsafeBufferPointer { pp in
                        // y ← y + 1·x entry by entry: the sum in block order, whatever the ranges.
                        T.axpy(n: range.count, alpha: 1, x: pp.baseAddress! + range.lowerBound, y: target)
                    }
                }
            }
        }
        return sum
    }
}

/// Runs `body` with a pointer to the storage of `matrix`, or with nil when there is no matrix.
private func withOptionalStorage<T: BLASScalar, R>(
    _ matrix: inout Matrix<T>?, _ body: (UncheckedMutablePointer<T>?) -> R
) -> R {
    guard matrix != nil else { return body(nil) }
    return matrix!.storage.withUnsafeMutableBufferPointer { body(UncheckedMutablePointer($0.baseAddress!)) }
}
