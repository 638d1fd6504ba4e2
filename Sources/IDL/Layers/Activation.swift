import RealModule

/// An elementwise activation φ with its derivative φ′.
///
/// Implicit models need φ to be monotone and 1-Lipschitz for the well-posedness results
/// (ReLU, tanh, sigmoid, SiLU is close enough in practice, leaky ReLU); the training engine
/// accepts any differentiable φ. To define your own, implement ``phi(_:)`` and ``dphi(_:)``:
///
/// ```swift
/// struct Softsign: Activation {
///     func phi<T: BLASScalar>(_ x: T) -> T { x / (1 + abs(x)) }
///     func dphi<T: BLASScalar>(_ x: T) -> T { 1 / ((1 + abs(x)) * (1 + abs(x))) }
/// }
/// ```
///
/// A custom type works everywhere a built-in one does. The bulk methods ``apply(_:into:)``
/// and ``derivative(_:into:)`` have default implementations that call `phi`/`dphi` per entry;
/// the built-in activations override them with the same formula so the compiler can
/// specialise and vectorise the loop (an order of magnitude faster on the fixed-point hot path).
public protocol Activation: Sendable {
    /// A short name (used in model files and printouts), e.g. `"relu"`.
    var name: String { get }
    /// φ(x).
    func phi<T: BLASScalar>(_ x: T) -> T
    /// φ′(x), the derivative at the pre-activation x.
    func dphi<T: BLASScalar>(_ x: T) -> T
    /// y = φ(z) entrywise; `z` and `y` have the same count (they may be the same buffer).
    func apply<T: BLASScalar>(_ z: UnsafeBufferPointer<T>, into y: UnsafeMutableBufferPointer<T>)
    /// d = φ′(z) entrywise.
    func derivative<T: BLASScalar>(_ z: UnsafeBufferPointer<T>, into d: UnsafeMutableBufferPointer<T>)
}

extension Activation {
    /// The type's name in lower case (e.g. `"softsign"` for a `Softsign` type).
    public var name: String { String(describing: Self.self).lowercased() }

    /// y = φ(z) entrywise, one call of ``phi(_:)`` per entry; `y` must have at least `z.count`
    /// entries and may be the same buffer as `z`.
    public func apply<T: BLASScalar>(_ z: UnsafeBufferPointer<T>, into y: UnsafeMutableBufferPointer<T>) {
        for i in 0..<z.count { y[i] = phi(z[i]) }
    }

    /// d = φ′(z) entrywise, one call of ``dphi(_:)`` per entry; `d` must have at least
    /// `z.count` entries and may be the same buffer as `z`.
    public func derivative<T: BLASScalar>(_ z: UnsafeBufferPointer<T>, into d: UnsafeMutableBufferPointer<T>) {
        for i in 0..<z.count { d[i] = dphi(z[i]) }
    }

    /// φ applied to every entry of a matrix.
    public func apply<T: BLASScalar>(_ z: Matrix<T>) -> Matrix<T> {
        var y = z
        apply(z, into: &y)
        return y
    }

    /// φ applied to every entry of `z`, written into `y` (same shape); no allocation.
    public func apply<T: BLASScalar>(_ z: Matrix<T>, into y: inout Matrix<T>) {
        precondition(
            z.count == y.count, "activation: input \(z.shapeDescription) and output \(y.shapeDescription) differ")
        z.storage.withUnsafeBufferPointer { zp in
            y.storage.withUnsafeMutableBufferPointer { yp in apply(zp, into: yp) }
        }
    }

    /// φ′ at every entry of `z`.
    public func derivative<T: BLASScalar>(_ z: Matrix<T>) -> Matrix<T> {
        var d = z
        derivative(z, into: &d)
        return d
    }

    /// φ′ at every entry of `z`, written into `d` (same shape); no allocation.
    public func derivative<T: BLASScalar>(_ z: Matrix<T>, into d: inout Matrix<T>) {
        precondition(
            z.count == d.count,
            "activation derivative: input \(z.shapeDescription) and output \(d.shapeDescription) differ")
        z.storage.withUnsafeBufferPointer { zp in
            d.storage.withUnsafeMutableBufferPointer { dp in derivative(zp, into: dp) }
        }
    }
}

/// Runs `f` over every entry with the element type made concrete, so that the loop over a
/// built-in activation's formula is specialised and vectorised even when the activation is
/// held as `any Activation` and the matrix type is generic.
@inline(__always)
@usableFromInline
func mapConcrete<T: BLASScalar>(
    _ x: UnsafeBufferPointer<T>, _ y: UnsafeMutableBufferPointer<T>,
    _ f: (Float) -> Float, _ g: (Double) -> Double
) {
    let n = x.count
    guard n > 0, let xb = x.baseAddress, let yb = y.baseAddress else { return }
    if T.self == Float.self {
        let xs = UnsafeRawPointer(xb).assumingMemoryBound(to: Float.self)
        let ys = UnsafeMutableRawPointer(yb).assumingMemoryBound(to: Float.self)
        for i in 0..<n { ys[i] = f(xs[i]) }
    } else if T.self == Double.self {
        let xs = UnsafeRawPointer(xb).assumingMemoryBound(to: Double.self)
        let ys = UnsafeMutableRawPointer(yb).assumingMemoryBound(to: Double.self)
        for i in 0..<n { ys[i] = g(xs[i]) }
    } else {
        preconditionFailure("BLASScalar is implemented by Float and Double only")
    }
}

/// Rectified linear unit: φ(x) = max(x, 0), φ′(x) = 1 if x > 0 else 0 (PyTorch's convention at 0).
public struct ReLU: Activation {
    /// ReLU has no parameters.
    public init() {}
    public var name: String { "relu" }
    @inlinable public func phi<T: BLASScalar>(_ x: T) -> T { x > 0 ? x : 0 }
    @inlinable public func dphi<T: BLASScalar>(_ x: T) -> T { x > 0 ? 1 : 0 }
    public func apply<T: BLASScalar>(_ z: UnsafeBufferPointer<T>, into y: UnsafeMutableBufferPointer<T>) {
        mapConcrete(z, y, phi, phi)
    }
    public func derivative<T: BLASScalar>(_ z: UnsafeBufferPointer<T>, into d: UnsafeMutableBufferPointer<T>) {
        mapConcrete(z, d, dphi, dphi)
    }
}

/// Leaky ReLU: φ(x) = x if x > 0 else slope·x (PyTorch's default slope 0.01).
public struct LeakyReLU: Activation {
    /// The slope for negative inputs, in [0, 1] to stay monotone and 1-Lipschitz.
    public var slope: Double
    /// - Parameter slope: The slope for negative inputs (PyTorch's default 0.01); keep it in
    ///   [0, 1] for an implicit model's well-posedness guarantees.
    public init(slope: Double = 0.01) { self.slope = slope }
    public var name: String { "leaky_relu" }
    @inlinable public func phi<T: BLASScalar>(_ x: T) -> T { x > 0 ? x : T(slope) * x }
    @inlinable public func dphi<T: BLASScalar>(_ x: T) -> T { x > 0 ? 1 : T(slope) }
    public func apply<T: BLASScalar>(_ z: UnsafeBufferPointer<T>, into y: UnsafeMutableBufferPointer<T>) {
        mapConcrete(z, y, phi, phi)
    }
    public func derivative<T: BLASScalar>(_ z: UnsafeBufferPointer<T>, into d: UnsafeMutableBufferPointer<T>) {
        mapConcrete(z, d, dphi, dphi)
    }
}

/// Hyperbolic tangent: φ′(x) = 1 − tanh²(x).
public struct Tanh: Activation {
    /// tanh has no parameters.
    public init() {}
    public var name: String { "tanh" }
    @inlinable public func phi<T: BLASScalar>(_ x: T) -> T { T.tanh(x) }
    @inlinable public func dphi<T: BLASScalar>(_ x: T) -> T {
        let t = T.tanh(x)
        return 1 - t * t
    }
    public func apply<T: BLASScalar>(_ z: UnsafeBufferPointer<T>, into y: UnsafeMutableBufferPointer<T>) {
        mapConcrete(z, y, phi, phi)
    }
    public func derivative<T: BLASScalar>(_ z: UnsafeBufferPointer<T>, into d: UnsafeMutableBufferPointer<T>) {
        mapConcrete(z, d, dphi, dphi)
    }
}

/// Numerically stable logistic function σ(x) = 1 / (1 + e^(−x)).
@inlinable
public func logistic<T: BLASScalar>(_ x: T) -> T {
    if x >= 0 { return 1 / (1 + T.exp(-x)) }
    let e = T.exp(x)
    return e / (1 + e)
}

/// Logistic sigmoid σ(x): φ′ = σ(1 − σ). Monotone and (1/4)-Lipschitz.
public struct Sigmoid: Activation {
    /// The sigmoid has no parameters.
    public init() {}
    public var name: String { "sigmoid" }
    @inlinable public func phi<T: BLASScalar>(_ x: T) -> T { logistic(x) }
    @inlinable public func dphi<T: BLASScalar>(_ x: T) -> T {
        let s = logistic(x)
        return s * (1 - s)
    }
    public func apply<T: BLASScalar>(_ z: UnsafeBufferPointer<T>, into y: UnsafeMutableBufferPointer<T>) {
        mapConcrete(z, y, phi, phi)
    }
    public func derivative<T: BLASScalar>(_ z: UnsafeBufferPointer<T>, into d: UnsafeMutableBufferPointer<T>) {
        mapConcrete(z, d, dphi, dphi)
    }
}

/// SiLU (swish): φ(x) = x·σ(x), φ′(x) = σ(x)(1 + x(1 − σ(x))).
public struct SiLU: Activation {
    /// SiLU has no parameters.
    public init() {}
    public var name: String { "silu" }
    @inlinable public func phi<T: BLASScalar>(_ x: T) -> T { x * logistic(x) }
    @inlinable public func dphi<T: BLASScalar>(_ x: T) -> T {
        let s = logistic(x)
        return s * (1 + x * (1 - s))
    }
    public func apply<T: BLASScalar>(_ z: UnsafeBufferPointer<T>, into y: UnsafeMutableBufferPointer<T>) {
        mapConcrete(z, y, phi, phi)
    }
    public func derivative<T: BLASScalar>(_ z: UnsafeBufferPointer<T>, into d: UnsafeMutableBufferPointer<T>) {
        mapConcrete(z, d, dphi, dphi)
    }
}

/// Softplus φ(x) = log(1 + eˣ) (computed stably), φ′ = σ(x).
public struct Softplus: Activation {
    /// Softplus has no parameters (PyTorch's β = 1).
    public init() {}
    public var name: String { "softplus" }
    @inlinable public func phi<T: BLASScalar>(_ x: T) -> T {
        x > 0 ? x + T.log(1 + T.exp(-x)) : T.log(1 + T.exp(x))
    }
    @inlinable public func dphi<T: BLASScalar>(_ x: T) -> T { logistic(x) }
    public func apply<T: BLASScalar>(_ z: UnsafeBufferPointer<T>, into y: UnsafeMutableBufferPointer<T>) {
        mapConcrete(z, y, phi, phi)
    }
    public func derivative<T: BLASScalar>(_ z: UnsafeBufferPointer<T>, into d: UnsafeMutableBufferPointer<T>) {
        mapConcrete(z, d, dphi, dphi)
    }
}

/// The identity φ(x) = x (a linear implicit model).
public struct Identity: Activation {
    /// The identity has no parameters.
    public init() {}
    public var name: String { "identity" }
    @inlinable public func phi<T: BLASScalar>(_ x: T) -> T { x }
    @inlinable public func dphi<T: BLASScalar>(_ x: T) -> T { 1 }
}

/// The built-in activation with the given name (`relu`, `leaky_relu`, `tanh`, `sigmoid`,
/// `silu`, `softplus`, `identity`), as used in saved models and on the command line. A leaky
/// ReLU takes its slope after a colon: `leaky_relu:0.2` (default 0.01).
/// - Throws: ``IDLError/invalidArgument(_:)`` for an unknown name, or a slope that is not a
///   number in [0, 1].
public func activation(named name: String) throws -> any Activation {
    let parts = name.split(separator: ":", maxSplits: 1).map(String.init)
    if parts.count == 2 {
        guard ["leaky_relu", "leakyrelu"].contains(parts[0].lowercased()) else {
            throw IDLError.invalidArgument(
                "only leaky_relu takes a parameter (leaky_relu:SLOPE), got '\(name)'")
        }
        guard let slope = Double(parts[1]), slope >= 0, slope <= 1 else {
            throw IDLError.invalidArgument(
                "the slope of leaky_relu:SLOPE must be a number in [0, 1] (monotone and 1-Lipschitz), got '\(parts[1])'"
            )
        }
        return LeakyReLU(slope: slope)
    }
    switch name.lowercased() {
    case "relu": return ReLU()
    case "leaky_relu", "leakyrelu": return LeakyReLU()
    case "tanh": return Tanh()
    case "sigmoid": return Sigmoid()
    case "silu", "swish": return SiLU()
    case "softplus": return Softplus()
    case "identity", "linear": return Identity()
    default:
        throw IDLError.invalidArgument(
            "unknown activation '\(name)'; expected one of relu, leaky_relu, tanh, sigmoid, silu, softplus, identity")
    }
}

/// The name that ``activation(named:)`` turns back into `activation`: its ``Activation/name``,
/// with the slope for a leaky ReLU whose slope is not the default (`leaky_relu:0.2`).
func activationSpecification(_ activation: any Activation) -> String {
    if let leaky = activation as? LeakyReLU, leaky.slope != LeakyReLU().slope { return "leaky_relu:\(leaky.slope)" }
    return activation.name
}
