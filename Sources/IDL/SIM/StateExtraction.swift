import Foundation

/// Collecting the states of a trained explicit network for SIM, as torchidl's `SIM.get_states`
/// does with forward hooks: every activation layer's input (pre-activation Z) and output
/// (post-activation X), stacked **last layer first**, with the inputs U and outputs Ŷ.
///
/// For a network x₁ = φ(W₀u + b₀), x₂ = φ(W₁x₁ + b₁), …, ŷ = W_L x_L + b_L the stacked states
/// X = (x_L; …; x₁) satisfy Z = A X + B U and Ŷ = C X + D U exactly with A strictly block upper
/// triangular — the feedforward-as-implicit form that SIM relaxes into a sparse, well-posed A.
/// When a Linear layer has a bias, U gets a constant-one last row (``SIMStates/constantInputRow``)
/// and the biases become the last columns of B and D. The activation φ is recorded with the
/// states (``SIMStates/activation``); all recorded activation layers must use the same one.
public enum StateExtraction {
    /// Which activation layers are recorded (torchidl's `skip_layers`): all of them, or, inside
    /// any `Sequential` with more than `n` children, only the last activation of each child block.
    public enum Selection: Sendable, Equatable {
        /// Every activation layer's input and output.
        case all
        /// Inside a `Sequential` with more than `threshold` children, only the last activation
        /// of each child block; smaller containers record all their activations.
        case lastOfEachBlock(threshold: Int)
    }

    /// Runs `network` on `inputs` (p×m, columns are samples) in batches of `batchSize` and returns
    /// the states. Layers other than `Sequential`, `ActivationLayer` and `Linear` are run as they
    /// are (their activations, if any, are not recorded).
    /// - Throws: the network's own errors, ``IDLError/invalidArgument(_:)`` when no activation
    ///   layer was found or the recorded ones differ (a SIM model has one φ), and the validation
    ///   errors of ``SIMStates``.
    public static func states<T>(
        of network: Sequential<T>, inputs: Matrix<T>, selection: Selection = .all,
        batchSize: Int = 1000
    ) throws -> SIMStates<T> {
        let recorded = recordedActivations(network, selection: selection)
        guard !recorded.isEmpty else {
            throw IDLError.invalidArgument(
                "the network has no activation layer to record; SIM needs at least one hidden activation")
        }
        var activations: [any Activation] = []
        var hasBias = false
        func inspect(_ layer: any Layer<T>) {
            if let a = layer as? ActivationLayer<T>, recorded.contains(ObjectIdentifier(a)) {
                activations.append(a.activation)
            }
            if let l = layer as? Linear<T>, l.bias != nil { hasBias = true }
            if let s = layer as? Sequential<T> { s.layers.forEach(inspect) }
        }
        inspect(network)
        let names = Set(activations.map(activationSpecification))
        guard names.count == 1 else {
            throw IDLError.invalidArgument(
                "the recorded activation layers use different activations (\(names.sorted().joined(separator: ", "))); a SIM model iterates one φ, so the network must use the same activation in every recorded layer"
            )
        }
        var zParts = [Matrix<T>]()
        var xParts = [Matrix<T>]()
        var yParts = [Matrix<T>]()
        var start = 0
        while start < inputs.cols {
            let end = min(inputs.cols, start + max(1, batchSize))
            var pre = [Matrix<T>]()
            var post = [Matrix<T>]()
            let y = try run(network, inputs.columns(start..<end), recorded: recorded, pre: &pre, post: &post)
            // Last layer first.
            zParts.append(Matrix.vcat(pre.reversed()))
            xParts.append(Matrix.vcat(post.reversed()))
            yParts.append(y)
            start = end
        }
        return try SIMStates(
            inputs: hasBias ? Matrix.vcat([inputs, Matrix<T>.ones(1, inputs.cols)]) : inputs,
            states: Matrix.hcat(xParts), preActivations: Matrix.hcat(zParts), outputs: Matrix.hcat(yParts),
            activation: activations[0], constantInputRow: hasBias)
    }

    /// The sizes of the recorded activation layers, last layer first (the block structure of A).
    ///
    /// - Parameters:
    ///   - network: The trained network.
    ///   - inputDim: The number of input features p (one dummy sample is run through it).
    ///   - selection: Which activation layers are recorded.
    /// - Returns: The row count of each recorded state block, in the order of the stacked X.
    /// - Throws: What the network's forward pass throws on a p×1 input, e.g.
    ///   ``IDLError/shapeMismatch(_:)`` when `inputDim` does not fit its first layer.
    public static func stateBlockSizes<T>(of network: Sequential<T>, inputDim: Int, selection: Selection = .all) throws
        -> [Int]
    {
        let recorded = recordedActivations(network, selection: selection)
        var pre = [Matrix<T>]()
        var post = [Matrix<T>]()
        _ = try run(network, Matrix<T>(rows: inputDim, cols: 1), recorded: recorded, pre: &pre, post: &post)
        return post.reversed().map(\.rows)
    }

    private static func recordedActivations<T>(_ network: Sequential<T>, selection: Selection) -> Set<ObjectIdentifier>
    {
        var out = Set<ObjectIdentifier>()
        func all(_ layer: any Layer<T>, into list: inout [ObjectIdentifier]) {
            if let a = layer as? ActivationLayer<T> { list.append(ObjectIdentifier(a)) }
            if let s = layer as? Sequential<T> { for l in s.layers { all(l, into: &list) } }
        }
        func visit(_ layer: any Layer<T>) {
            if let a = layer as? ActivationLayer<T> {
                out.insert(ObjectIdentifier(a))
                return
            }
            guard let s = layer as? Sequential<T> else { return }
            if case .lastOfEachBlock(let n) = selection, s.layers.count > n {
                for child in s.layers {
                    var list = [ObjectIdentifier]()
                    all(child, into: &list)
                    if let last = list.last { out.insert(last) }
                }
            } else {
                for child in s.layers { visit(child) }
            }
        }
        visit(network)
        return out
    }

    private static func run<T>(
        _ layer: any Layer<T>, _ x: Matrix<T>, recorded: Set<ObjectIdentifier>,
        pre: inout [Matrix<T>], post: inout [Matrix<T>]
    ) throws -> Matrix<T> {
        if let s = layer as? Sequential<T> {
            var h = x
            for child in s.layers { h = try run(child, h, recorded: recorded, pre: &pre, post: &post) }
            return h
        }
        if let a = layer as? ActivationLayer<T> {
            let y = a.activation.apply(x)
            if recorded.contains(ObjectIdentifier(a)) {
                pre.append(x)
                post.append(y)
            }
            return y
        }
        if let linear = layer as? Linear<T> {
            guard x.rows == linear.inputDim else {
                throw IDLError.shapeMismatch(
                    "Linear(\(linear.inputDim) → \(linear.outputDim)) got \(x.rows) features per sample")
            }
            let y = matmul(linear.weight.value, x)
            return linear.bias.map { y.addingColumn($0.value) } ?? y
        }
        return try layer.predict(x)
    }
}

extension SIMStates {
    /// Saves the four matrices to a `.safetensors` file (names U, X, Z, Y, each stored
    /// batch-first as (m, rows), the transpose of torchidl's features × samples arrays), with
    /// the activation and the constant row in the metadata, atomically.
    ///
    /// - Parameter url: The file to write (replaced if it exists).
    /// - Throws: ``IDLError/io(_:)`` if the file cannot be written.
    public func save(to url: URL) throws {
        var file = SafeTensors()
        file.setMatrix("U", inputs.transposed)
        file.setMatrix("X", states.transposed)
        file.setMatrix("Z", preActivations.transposed)
        file.setMatrix("Y", outputs.transposed)
        file.metadata = [
            "format": "idl-sim-states/1", "dtype": T.typeName, "activation": activationSpecification(activation),
            "constant_input_row": constantInputRow ? "true" : "false",
        ]
        try file.write(to: url)
    }

    /// Loads states saved by ``save(to:)`` (files without activation metadata are ReLU states
    /// without a constant row).
    ///
    /// - Parameter url: A `.safetensors` file with tensors U, X, Z and Y.
    /// - Throws: ``IDLError/io(_:)`` for a missing, truncated or corrupt file or a missing tensor;
    ///   ``IDLError/unsupported(_:)`` for an unsupported dtype; ``IDLError/shapeMismatch(_:)``
    ///   or ``IDLError/nonFinite(_:)`` when the matrices do not form valid states (see
    ///   ``init(inputs:states:preActivations:outputs:activation:constantInputRow:)``);
    ///   ``IDLError/invalidArgument(_:)`` for an unknown activation in the metadata.
    public init(contentsOf url: URL) throws {
        let file = try SafeTensors(contentsOf: url)
        func m(_ name: String) throws -> Matrix<T> {
            guard file.tensors[name] != nil else {
                throw IDLError.io("\(url.path) has no tensor '\(name)'; SIM states need U, X, Z and Y")
            }
            let shape = try file.tensor(name).shape
            guard shape.count == 2 else {
                throw IDLError.shapeMismatch(
                    "\(url.path): tensor '\(name)' has shape \(shape); SIM states are 2-D (samples, features)")
            }
            return try file.matrix(name, as: T.self).transposed
        }
        let activation = try file.metadata["activation"].map { try IDL.activation(named: $0) } ?? ReLU()
        try self.init(
            inputs: m("U"), states: m("X"), preActivations: m("Z"), outputs: m("Y"), activation: activation,
            constantInputRow: file.metadata["constant_input_row"] == "true")
    }
}

/// Scales a ReLU (or leaky ReLU) network layer by layer so that every hidden weight matrix
/// W₁ … W_{L−1} (the blocks of the stacked A) has ‖W‖∞ ≤ κ, and multiplies the last layer W_L by
/// the inverse of the product: by positive homogeneity of φ (φ(cz) = cφ(z) for c > 0) the network
/// computes exactly the same outputs, and the SIM model that matches its states exactly is then
/// well posed (‖A‖∞ ≤ κ). A bias b_k of a scaled hidden layer is multiplied by the product c_k of
/// the factors so far (its layer's outputs are c_k times the original ones); the last layer's
/// bias is unchanged.
///
/// - Returns: the factor applied to each Linear layer's weight, in order (1 where nothing
///   changed); the last layer takes the inverse of the hidden layers' product, so the outputs
///   are unchanged.
/// - Throws: ``IDLError/invalidArgument(_:)`` for an activation other than ReLU or leaky ReLU
///   (positive homogeneity would not hold), a layer other than Linear, or κ not in (0, 1).
@discardableResult
public func rescaleForWellPosedness<T>(_ network: Sequential<T>, kappa: Double = 0.99) throws -> [Double] {
    guard kappa > 0, kappa < 1 else { throw IDLError.invalidArgument("κ must lie in (0, 1), got \(kappa)") }
    var linears = [Linear<T>]()
    func collect(_ layer: any Layer<T>) throws {
        if let s = layer as? Sequential<T> {
            for l in s.layers { try collect(l) }
        } else if let l = layer as? Linear<T> {
            linears.append(l)
        } else if let a = layer as? ActivationLayer<T> {
            guard a.activation is ReLU || a.activation is LeakyReLU else {
                throw IDLError.invalidArgument(
                    "teacher rescaling needs a positively homogeneous activation (relu or leaky_relu), found \(a.activation.name)"
                )
            }
        } else {
            throw IDLError.invalidArgument(
                "teacher rescaling supports Sequential networks of Linear and ReLU layers, found \(type(of: layer))")
        }
    }
    try collect(network)
    var factors = [Double](repeating: 1, count: linears.count)
    var carried = 1.0  // product of the factors applied so far
    guard linears.count >= 3 else { return factors }  // no hidden-to-hidden weight
    for k in 1..<(linears.count - 1) {
        let norm = Double(linears[k].weight.value.infinityNorm)
        if norm > kappa {
            let f = kappa / norm
            linears[k].weight.value = linears[k].weight.value * T(f)
            factors[k] = f
            carried *= f
        }
        if let b = linears[k].bias, carried != 1 { b.value = b.value * T(carried) }
    }
    // Give the removed scale back to the last layer so the outputs keep their size.
    let last = linears.count - 1
    linears[last].weight.value = linears[last].weight.value * T(1 / carried)
    factors[last] = 1 / carried
    return factors
}

extension SIMStates {
    /// The same states in another precision (e.g. Float activations fitted in Double).
    ///
    /// - Returns: The four matrices converted entry by entry to `U`.
    /// - Throws: ``IDLError/nonFinite(_:)`` if an entry overflows the new type (a Double beyond
    ///   Float's range becomes ±∞).
    public func converted<U: BLASScalar>(to _: U.Type = U.self) throws -> SIMStates<U> {
        try SIMStates<U>(
            inputs: inputs.converted(), states: states.converted(), preActivations: preActivations.converted(),
            outputs: outputs.converted(), activation: activation, constantInputRow: constantInputRow)
    }
}

extension SIMStates {
    /// The states with standardised inputs (torchidl's `standardize` option, for the inputs):
    /// U' = [(U − μ)/σ; 1], μ and σ per feature fitted on these states (a constant feature keeps
    /// σ = 1). The constant row lets B and D absorb the shift by μ, so the standardised problem
    /// can represent everything the raw one can. Pass the returned standardizer to ``SIMModel``
    /// so that predictions apply the same map to raw inputs.
    ///
    /// torchidl's `standardize=True` does something else: one sklearn `StandardScaler` is fitted
    /// and applied to U, then refitted to Z, to X and to Y in turn, so each of the four is
    /// standardised on its own. The fitted Z ≈ AX + BU then relates standardised quantities, and
    /// X = φ(AX + BU) no longer holds between the standardised Z and X (φ does not commute with
    /// the shift and scale); at evaluation the scaler, last fitted to Y's q features, is applied
    /// to the p input features. Only the inputs are standardised here, so the fitted model stays
    /// an implicit model of the raw network.
    ///
    /// States with a constant row (a biased network) keep it: only the p − 1 feature rows are
    /// standardised, and the result has one constant row.
    ///
    /// - Parameter minimumScale: Standard deviations at or below this count as constant (scale 1).
    /// - Returns: The states with U' = [(U − μ)/σ; 1] and the fitted standardizer (of the raw
    ///   features, without the constant row).
    /// - Throws: ``IDLError/invalidArgument(_:)`` if there are no samples;
    ///   ``IDLError/nonFinite(_:)`` if the inputs contain NaN or ±∞.
    public func standardizingInputs(minimumScale: T = 1e-7) throws -> (states: SIMStates, standardizer: Standardizer<T>)
    {
        let raw = constantInputRow ? inputs.rows(0..<(inputs.rows - 1)) : inputs
        let s = try Standardizer(fitting: raw, minimumScale: minimumScale)
        let u = Matrix.vcat([try s.transform(raw), Matrix<T>.ones(1, inputs.cols)])
        return (
            try SIMStates(
                inputs: u, states: states, preActivations: preActivations, outputs: outputs, activation: activation,
                constantInputRow: true), s
        )
    }
}
