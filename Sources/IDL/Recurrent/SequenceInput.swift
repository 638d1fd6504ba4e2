// How a batch of sequences is laid out for the recurrent models, and the checks every
// recurrent model runs on its input.
//
// A **sequence batch** is an array with one matrix per time step, `steps[t]` of shape
// features × batch (columns are samples, as everywhere in the library): `steps[t][f, b]` is
// feature f of sequence b at time t. This is the layout of ``SequenceDataset/steps``.
//
// A batch-first numpy / PyTorch array `x` of shape (batch, time, features) in C order stores
// x[b, t, f] at offset b·T·p + t·p + f. Read as a column-major (T·p) × batch matrix (the
// batch-first layout of the `.npy` loader) that is the entry at row t·p + f, column b: all the
// steps stacked vertically, step 0 on top — the **flattened** layout, which is what
// ``SequenceDataset/flattened()`` returns and what the recurrent models' `Layer` entry point
// (`callAsFunction(_: Tensor)`) accepts. ``sequenceSteps(fromFlattened:features:)`` splits such
// a matrix into steps: `steps[t] = flattened.rows(t·p ..< (t+1)·p)`, i.e. `x[:, t, :]` transposed.

/// Splits a flattened (T·p) × batch matrix (steps stacked vertically, step 0 on top — the bytes
/// of a batch-first (batch, T, p) numpy array) into T steps of p × batch.
/// - Parameters:
///   - flattened: the stacked steps, (T·p) × batch.
///   - features: p, the features per step.
/// - Returns: the T step matrices, each p × batch.
/// - Throws: ``IDLError/invalidArgument(_:)`` for `features < 1`, ``IDLError/shapeMismatch(_:)``
///   when the row count is not a positive multiple of `features`.
public func sequenceSteps<T: BLASScalar>(fromFlattened flattened: Matrix<T>, features: Int) throws -> [Matrix<T>] {
    try checkFlattened(rows: flattened.rows, cols: flattened.cols, features: features)
    return stride(from: 0, to: flattened.rows, by: features).map { flattened.rows($0..<($0 + features)) }
}

/// Splits a flattened (T·p) × batch tensor into T differentiable step tensors (see
/// ``sequenceSteps(fromFlattened:features:)`` for the layout).
/// - Throws: as ``sequenceSteps(fromFlattened:features:)``.
public func sequenceSteps<T: BLASScalar>(fromFlattened flattened: Tensor<T>, features: Int) throws -> [Tensor<T>] {
    try checkFlattened(rows: flattened.rows, cols: flattened.cols, features: features)
    if flattened.rows == features { return [flattened] }
    return stride(from: 0, to: flattened.rows, by: features).map { flattened.rows($0..<($0 + features)) }
}

func checkFlattened(rows: Int, cols: Int, features: Int) throws {
    guard features >= 1 else { throw IDLError.invalidArgument("features per step must be at least 1, got \(features)") }
    guard rows >= features, rows % features == 0 else {
        throw IDLError.shapeMismatch(
            "a flattened sequence batch must have (steps × \(features)) rows, got \(rows)×\(cols)")
    }
}

/// Checks a sequence batch: at least one step, `features` rows in every step, the same batch
/// size (at least 1) in every step, finite entries. Returns the batch size.
func validateSequence<T: BLASScalar>(_ steps: [Matrix<T>], features: Int, model: String) throws -> Int {
    guard let first = steps.first else {
        throw IDLError.invalidArgument("\(model) needs a sequence of at least one time step, got an empty sequence")
    }
    for (t, x) in steps.enumerated() {
        guard x.rows == features else {
            throw IDLError.shapeMismatch(
                "\(model) expects \(features) input features per step (rows; columns are sequences), but step \(t) is \(x.shapeDescription). A batch-first (batch, time, features) array maps to one features × batch matrix per step."
            )
        }
        guard x.cols == first.cols else {
            throw IDLError.shapeMismatch(
                "\(model): every step must hold the same batch of sequences, but step 0 has \(first.cols) columns and step \(t) has \(x.cols)"
            )
        }
        guard x.isFinite else { throw IDLError.nonFinite("\(model): time step \(t) contains NaN or infinite entries") }
    }
    guard first.cols >= 1 else {
        throw IDLError.invalidArgument("\(model) needs a batch of at least one sequence, got 0 columns")
    }
    return first.cols
}
