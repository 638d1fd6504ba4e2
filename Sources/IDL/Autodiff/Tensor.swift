/// A node of a reverse-mode automatic-differentiation graph: a whole matrix, its gradient
/// after ``backward(seed:)``, and how to send a gradient back to the nodes it was computed from.
///
/// The engine reads like micrograd, at matrix granularity: every operation (see
/// `Operations.swift`) computes its value and records one closure that, given ∂L/∂(this node),
/// adds the gradients of its inputs. ``backward(seed:)`` orders the graph topologically and
/// runs those closures from the loss back to the parameters.
///
/// - Parameters (weights) are leaf tensors created with `Tensor(parameter:)`; their `grad`
///   accumulates until an optimizer's `zeroGrad()`.
/// - Inputs are leaf tensors created with `Tensor(_:)`; pass `requiresGrad: true` to get ∂L/∂input.
/// - A node holds its inputs, never its consumers, so the graph of one training step is freed as
///   soon as the step's loss goes out of scope: there is no tape to clear and nothing leaks.
public final class Tensor<T: BLASScalar> {
    /// The node's value.
    public var value: Matrix<T>
    /// ∂L/∂value after `backward`, or nil if no gradient reached this node (or it needs none).
    public var grad: Matrix<T>?
    /// Whether gradients are computed for this node (true for parameters, and for every node
    /// computed from at least one node that requires them).
    public let requiresGrad: Bool
    /// An optional name (parameters are named after their role, e.g. `"weight"`, `"A"`).
    public var name: String?

    @usableFromInline let inputs: [Tensor<T>]
    @usableFromInline let backwardFunction: ((Matrix<T>) -> Void)?

    /// A constant or input leaf.
    public init(_ value: Matrix<T>, requiresGrad: Bool = false, name: String? = nil) {
        self.value = value
        self.requiresGrad = requiresGrad
        self.name = name
        self.inputs = []
        self.backwardFunction = nil
    }

    /// A trainable parameter (a leaf that requires gradients).
    public convenience init(parameter value: Matrix<T>, name: String? = nil) {
        self.init(value, requiresGrad: true, name: name)
    }

    /// An interior node. `backward` receives ∂L/∂value and must call `accumulateGradient` on
    /// the inputs that require gradients.
    @usableFromInline
    init(value: Matrix<T>, inputs: [Tensor<T>], backward: @escaping (Matrix<T>) -> Void) {
        self.value = value
        self.requiresGrad = inputs.contains { $0.requiresGrad }
        self.name = nil
        self.inputs = inputs
        self.backwardFunction = requiresGrad ? backward : nil
    }

    /// The shape of the value.
    public var shape: (rows: Int, cols: Int) { value.shape }
    /// Number of rows of the value.
    public var rows: Int { value.rows }
    /// Number of columns of the value.
    public var cols: Int { value.cols }

    /// Adds `g` to this node's gradient (creating it on first use). No-op when the node needs none.
    @inlinable
    public func accumulateGradient(_ g: Matrix<T>) {
        guard requiresGrad else { return }
        precondition(
            g.rows == value.rows && g.cols == value.cols,
            "gradient \(g.shapeDescription) does not match value \(value.shapeDescription)\(name.map { " of \($0)" } ?? "")"
        )
        if grad == nil { grad = g } else { grad!.addScaled(g, 1) }
    }

    /// Back-propagates from this node: sets ∂L/∂self = `seed` (default: 1, which requires a 1×1
    /// value such as a loss) and fills `grad` of every node it depends on that requires gradients.
    public func backward(seed: Matrix<T>? = nil) {
        guard requiresGrad else { return }
        if let seed {
            precondition(
                seed.rows == value.rows && seed.cols == value.cols,
                "backward seed \(seed.shapeDescription) does not match value \(value.shapeDescription)")
            accumulateGradient(seed)
        } else {
            precondition(
                value.count == 1, "backward() without a seed needs a scalar (1×1) value, got \(value.shapeDescription)")
            accumulateGradient(Matrix(rows: 1, cols: 1, repeating: 1))
        }
        for node in topologicalOrder().reversed() {
            if let g = node.grad, let f = node.backwardFunction { f(g) }
        }
    }

    /// Nodes reachable from self that require gradients, inputs before the nodes that use them
    /// (iterative depth-first search, so long recurrent graphs do not overflow the stack).
    func topologicalOrder() -> [Tensor<T>] {
        var order = [Tensor<T>]()
        var visited = Set<ObjectIdentifier>()
        var stack: [(Tensor<T>, Int)] = [(self, 0)]
        visited.insert(ObjectIdentifier(self))
        while let (node, next) = stack.popLast() {
            if next < node.inputs.count {
                stack.append((node, next + 1))
                let child = node.inputs[next]
                if child.requiresGrad, visited.insert(ObjectIdentifier(child)).inserted {
                    stack.append((child, 0))
                }
            } else {
                order.append(node)
            }
        }
        return order
    }

    /// A node computed outside the built-in operations, with a hand-written backward: `backward`
    /// maps ∂L/∂value to ∂L/∂input for each input (nil where no gradient flows). This is how the
    /// implicit layer plugs into the engine.
    public static func custom(
        inputs: [Tensor<T>], value: Matrix<T>,
        backward: @escaping (_ gradient: Matrix<T>) -> [Matrix<T>?]
    ) -> Tensor<T> {
        Tensor(value: value, inputs: inputs) { g in
            let grads = backward(g)
            precondition(
                grads.count == inputs.count,
                "custom node: backward returned \(grads.count) gradients for \(inputs.count) inputs")
            for (x, gx) in zip(inputs, grads) {
                if let gx { x.accumulateGradient(gx) }
            }
        }
    }

    /// A copy of the value with no history (gradients stop here).
    public func detached() -> Tensor<T> { Tensor(value) }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        "Tensor\(name.map { " '\($0)'" } ?? "") \(value.shapeDescription)\(requiresGrad ? " (requires grad)" : "")"
    }
}
