/// One-shot magnitude pruning, the baseline a reader expects beside SIM's sparsity: in every
/// Linear layer of a network, the `fraction` of weights with the smallest magnitudes are set to
/// exact zeros (per layer, ties broken by position). Biases are kept.
///
/// - Returns: a pruned copy (the original is untouched) and its number of nonzero weights.
/// - Throws: ``IDLError/invalidArgument(_:)`` for a fraction outside [0, 1].
public func magnitudePruned<T>(_ network: Sequential<T>, fraction: Double) throws -> (
    network: Sequential<T>, nonzeros: Int
) {
    guard (0...1).contains(fraction) else {
        throw IDLError.invalidArgument("the pruned fraction must lie in [0, 1], got \(fraction)")
    }
    var nonzeros = 0
    func copy(_ layer: any Layer<T>) throws -> any Layer<T> {
        if let s = layer as? Sequential<T> { return Sequential(try s.layers.map(copy)) }
        if let linear = layer as? Linear<T> {
            var w = linear.weight.value
            let k = Int((fraction * Double(w.count)).rounded(.down))
            if k > 0 {
                let order = w.storage.indices.sorted { (abs(w.storage[$0]), $0) < (abs(w.storage[$1]), $1) }
                for i in order.prefix(k) { w.storage[i] = 0 }
            }
            nonzeros += w.count - w.zeroCount
            return try Linear(weight: w, bias: linear.bias?.value)
        }
        if let a = layer as? ActivationLayer<T> { return ActivationLayer<T>(a.activation) }
        throw IDLError.invalidArgument(
            "magnitude pruning supports Sequential networks of Linear and activation layers, found \(type(of: layer))")
    }
    let pruned = Sequential(try network.layers.map(copy))
    return (pruned, nonzeros)
}
