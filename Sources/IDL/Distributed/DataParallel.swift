// Data-parallel training: every rank a fixed shard of each batch, gradients summed in rank order.

/// The samples of a batch of `count` that rank `rank` of `size` takes: ⌊count·r/K⌋ ..< ⌊count·(r+1)/K⌋.
func batchShard(count: Int, rank: Int, size: Int) -> Range<Int> {
    (count * rank / size)..<(count * (rank + 1) / size)
}

/// Makes every rank's parameters rank 0's (the start of a data-parallel run).
func broadcastParameters<T: BLASScalar>(_ parameters: [Tensor<T>], over communicator: any Communicator) throws {
    guard communicator.size > 1 else { return }
    var flat = parameters.flatMap { $0.value.storage.map(Double.init) }
    try communicator.broadcast(&flat, root: 0)
    var offset = 0
    for p in parameters {
        let n = p.value.count
        for i in 0..<n { p.value.storage[i] = T(flat[offset + i]) }
        offset += n
    }
}

/// The cross-entropy of one batch, mean over its samples, with the gradients of `parameters`
/// set as one process would set them, computed by the ranks of `communicator` together.
///
/// Each rank runs the model on its shard of the batch (``batchShard(count:rank:size:)``) and
/// back-propagates the shard's summed loss; the ranks' gradients and losses are then summed
/// in rank order in Double (``Communicator/allReduceSum(_:)``: the same bits on every rank) and
/// divided by the batch size. A parameter that no rank's shard reached keeps no gradient, as in
/// one process. An error on any rank is thrown on all of them (``RankFailure``).
/// Moves (parameters + 1)·8 bytes per rank and step, twice (gather and broadcast).
func dataParallelLoss<Model: Layer>(
    _ model: Model, batch: Batch<Model.Scalar>, parameters: [Tensor<Model.Scalar>], communicator: any Communicator
) throws -> Double {
    typealias T = Model.Scalar
    let count = batch.labels.count
    let shard = batchShard(count: count, rank: communicator.rank, size: communicator.size)
    let local: Double = try communicator.checkpoint {
        guard !shard.isEmpty else { return 0 }
        let loss = try crossEntropyLoss(
            model(Tensor(batch.inputs.columns(shard))), Array(batch.labels[shard]), reduction: .sum)
        loss.backward()
        return Double(loss.value[0, 0])
    }
    // Per parameter: its gradient (zeros when none) and 1 if it has one; then the loss.
    var flat = [Double]()
    flat.reserveCapacity(parameters.reduce(1) { $0 + $1.value.count + 1 })
    for p in parameters {
        if let g = p.grad {
            flat += g.storage.lazy.map(Double.init)
            flat.append(1)
        } else {
            flat += repeatElement(0, count: p.value.count)
            flat.append(0)
        }
    }
    flat.append(local)
    try communicator.allReduceSum(&flat)
    var offset = 0
    for p in parameters {
        let n = p.value.count
        if flat[offset + n] > 0 {
            var g = Matrix<T>(rows: p.value.rows, cols: p.value.cols)
            for i in 0..<n { g.storage[i] = T(flat[offset + i] / Double(count)) }
            p.grad = g
        } else {
            p.grad = nil
        }
        offset += n + 1
    }
    return flat[offset] / Double(count)
}
