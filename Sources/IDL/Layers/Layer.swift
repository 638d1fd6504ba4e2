/// A building block of a model: a differentiable map from a batch (features × samples) to a
/// batch, with trainable parameters.
///
/// Parameters are collected without listing them by hand: the default ``parameters``
/// walks the layer's stored properties (with `Mirror`) and gathers every `Tensor` that requires
/// gradients and, recursively, the parameters of every nested layer or array of layers. A model
/// of your own only has to store its layers and tensors as properties:
///
/// ```swift
/// final class TwoLayer: Layer {
///     let hidden = Linear<Float>(784, 64, using: &rng)
///     let output = Linear<Float>(64, 10, using: &rng)
///     func callAsFunction(_ x: Tensor<Float>) throws -> Tensor<Float> {
///         try output(relu(hidden(x)))
///     }
/// }
/// ```
public protocol Layer<Scalar>: AnyObject {
    /// The element type, `Float` or `Double`.
    associatedtype Scalar: BLASScalar
    /// The forward pass on a batch (one column per sample).
    ///
    /// - Parameter input: The batch, features × samples.
    /// - Returns: The output batch, recorded on the autodiff graph when parameters need gradients.
    /// - Throws: ``IDLError`` when the input does not fit the layer (e.g.
    ///   ``IDLError/shapeMismatch(_:)`` for a wrong number of features).
    func callAsFunction(_ input: Tensor<Scalar>) throws -> Tensor<Scalar>
    /// All trainable parameters, each once.
    var parameters: [Tensor<Scalar>] { get }
    /// Switches between training and evaluation behaviour (where a layer has any).
    func setTraining(_ training: Bool)
}

extension Layer {
    /// Every tensor that requires a gradient among the layer's stored properties, found by
    /// reflection (tensors, sublayers, arrays and optionals of them), each once in declaration
    /// order.
    public var parameters: [Tensor<Scalar>] {
        var seen = Set<ObjectIdentifier>()
        var out = [Tensor<Scalar>]()
        collectParameters(of: self, into: &out, seen: &seen)
        return out
    }

    /// Passes the mode on to every sublayer found among the stored properties.
    public func setTraining(_ training: Bool) {
        forEachSublayer(of: self) { $0.setTraining(training) }
    }

    /// Number of scalar parameters (entries of all parameter matrices).
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.value.count } }

    /// Runs the layer on a plain matrix and returns the plain result (inference).
    ///
    /// - Parameter input: The batch, features × samples.
    /// - Returns: The layer's output for `input`.
    /// - Throws: What the forward pass throws, e.g. ``IDLError/shapeMismatch(_:)``.
    public func predict(_ input: Matrix<Scalar>) throws -> Matrix<Scalar> {
        try self(Tensor(input)).value
    }
}

/// Walks stored properties with Mirror: tensors that require gradients, layers, arrays of them.
private func collectParameters<T>(of subject: Any, into out: inout [Tensor<T>], seen: inout Set<ObjectIdentifier>) {
    for child in Mirror(reflecting: subject).children {
        visit(child.value, into: &out, seen: &seen)
    }
}

private func visit<T>(_ value: Any, into out: inout [Tensor<T>], seen: inout Set<ObjectIdentifier>) {
    if let t = value as? Tensor<T> {
        if t.requiresGrad, seen.insert(ObjectIdentifier(t)).inserted { out.append(t) }
    } else if let layer = value as? any Layer<T> {
        guard seen.insert(ObjectIdentifier(layer)).inserted else { return }
        for p in layer.parameters where seen.insert(ObjectIdentifier(p)).inserted { out.append(p) }
    } else if let array = value as? [Any] {
        for element in array { visit(element, into: &out, seen: &seen) }
    } else if let optional = value as? OptionalProtocol, let wrapped = optional.wrappedValue {
        visit(wrapped, into: &out, seen: &seen)
    }
}

private func forEachSublayer(of subject: Any, _ body: (any Layer) -> Void) {
    for child in Mirror(reflecting: subject).children {
        if let layer = child.value as? any Layer { body(layer) }
        if let array = child.value as? [Any] {
            for element in array { if let layer = element as? any Layer { body(layer) } }
        }
    }
}

private protocol OptionalProtocol { var wrappedValue: Any? { get } }
extension Optional: OptionalProtocol {
    fileprivate var wrappedValue: Any? { self.map { $0 as Any } }
}

// MARK: - Linear

/// A fully connected layer y = W x + b (W: out×in, b: out×1), as `torch.nn.Linear`.
///
/// Initialisation follows PyTorch: W and b uniform in [−1/√in, 1/√in].
public final class Linear<Scalar: BLASScalar>: Layer {
    /// The weight W (outputs × inputs).
    public let weight: Tensor<Scalar>
    /// The bias b (outputs × 1), or nil for a bias-free layer.
    public let bias: Tensor<Scalar>?

    /// Input dimension.
    public var inputDim: Int { weight.value.cols }
    /// Output dimension.
    public var outputDim: Int { weight.value.rows }

    /// A layer with PyTorch's default initialisation, drawn from `generator`.
    public init(_ inputDim: Int, _ outputDim: Int, bias: Bool = true, using generator: inout SeededGenerator) {
        precondition(inputDim > 0 && outputDim > 0, "Linear needs positive dimensions, got \(inputDim) → \(outputDim)")
        let bound = 1 / Scalar(inputDim).squareRoot()
        weight = Tensor(
            parameter: Matrix.randomUniform(outputDim, inputDim, -bound, bound, using: &generator), name: "weight")
        self.bias =
            bias
            ? Tensor(parameter: Matrix.randomUniform(outputDim, 1, -bound, bound, using: &generator), name: "bias")
            : nil
    }

    /// A layer with given weights (and optional bias column).
    /// - Throws: ``IDLError/shapeMismatch(_:)`` if the bias is not outputs×1.
    public init(weight: Matrix<Scalar>, bias: Matrix<Scalar>? = nil) throws {
        if let bias, bias.rows != weight.rows || bias.cols != 1 {
            throw IDLError.shapeMismatch(
                "Linear: weight is \(weight.shapeDescription), so the bias must be \(weight.rows)×1, got \(bias.shapeDescription)"
            )
        }
        self.weight = Tensor(parameter: weight, name: "weight")
        self.bias = bias.map { Tensor(parameter: $0, name: "bias") }
    }

    /// W·x + b for every column x of the input.
    ///
    /// - Parameter input: The batch, `inputDim` × samples.
    /// - Returns: The output batch, `outputDim` × samples.
    /// - Throws: ``IDLError/shapeMismatch(_:)`` if the input does not have `inputDim` rows.
    public func callAsFunction(_ input: Tensor<Scalar>) throws -> Tensor<Scalar> {
        guard input.value.rows == inputDim else {
            throw IDLError.shapeMismatch(
                "Linear(\(inputDim) → \(outputDim)) expects \(inputDim) features per sample (rows), got a \(input.value.shapeDescription) batch"
            )
        }
        let y = matmul(weight, input)
        return bias.map { y + $0 } ?? y
    }
}

/// An activation as a layer (for `Sequential`).
public final class ActivationLayer<Scalar: BLASScalar>: Layer {
    /// The activation φ.
    public let activation: any Activation
    /// Wraps an activation.
    public init(_ activation: any Activation) { self.activation = activation }
    /// φ applied to every entry of the input.
    ///
    /// - Parameter input: The batch, of any shape.
    /// - Returns: A batch of the same shape.
    /// - Throws: Never; the signature is ``Layer``'s.
    public func callAsFunction(_ input: Tensor<Scalar>) throws -> Tensor<Scalar> { activate(input, activation) }
    public var parameters: [Tensor<Scalar>] { [] }
}

/// Layers applied one after another, as `torch.nn.Sequential`.
public final class Sequential<Scalar: BLASScalar>: Layer {
    /// The layers, in order.
    public let layers: [any Layer<Scalar>]
    /// A sequence of layers.
    public init(_ layers: [any Layer<Scalar>]) { self.layers = layers }

    /// Runs the layers in order, each on the previous one's output.
    ///
    /// - Parameter input: The batch for the first layer.
    /// - Returns: The last layer's output (the input itself when there are no layers).
    /// - Throws: The first error a layer throws, e.g. ``IDLError/shapeMismatch(_:)`` when two
    ///   consecutive layers do not fit.
    public func callAsFunction(_ input: Tensor<Scalar>) throws -> Tensor<Scalar> {
        var x = input
        for layer in layers { x = try layer(x) }
        return x
    }

    public var parameters: [Tensor<Scalar>] {
        var seen = Set<ObjectIdentifier>()
        return layers.flatMap { $0.parameters }.filter { seen.insert(ObjectIdentifier($0)).inserted }
    }

    public func setTraining(_ training: Bool) { for l in layers { l.setTraining(training) } }
}

extension Sequential {
    /// A multilayer perceptron: Linear layers of the given widths with `activation` between them
    /// (none after the last), e.g. `[784, 64, 32, 16, 10]`.
    public static func mlp(
        _ widths: [Int], activation: any Activation = ReLU(), bias: Bool = true,
        using generator: inout SeededGenerator
    ) -> Sequential {
        precondition(widths.count >= 2, "an MLP needs at least an input and an output width")
        var layers = [any Layer<Scalar>]()
        for k in 0..<(widths.count - 1) {
            layers.append(Linear<Scalar>(widths[k], widths[k + 1], bias: bias, using: &generator))
            if k < widths.count - 2 { layers.append(ActivationLayer<Scalar>(activation)) }
        }
        return Sequential(layers)
    }
}
