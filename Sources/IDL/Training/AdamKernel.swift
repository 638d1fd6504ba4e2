/// The coefficients of one Adam step, the same for every weight of the step.
struct AdamCoefficients<T: BinaryFloatingPoint> {
    /// β₁ and β₂.
    var beta1: T, beta2: T
    /// lr / (1 − β₁ᵗ).
    var stepSize: T
    /// √(1 − β₂ᵗ).
    var sqrtBias2: T
    /// ε.
    var epsilon: T
    /// The coupled weight decay wd (added to g as wd·p), 0 for none.
    var coupledDecay: T
    /// The factor 1 − lr·wd of decoupled weight decay (AdamW), 1 for none.
    var decoupledFactor: T
    /// Whether `decoupledFactor` applies.
    var decoupled: Bool
}

/// One Adam step over `count` weights, in place: for each i
///
///     g ← g + wd·p                    (coupled decay, when wd ≠ 0)
///     p ← p·(1 − lr·wd)               (decoupled decay)
///     m ← β₁m + (1−β₁)g
///     v ← β₂v + (1−β₂)g·g
///     p ← p − stepSize·m / (√v / √(1−β₂ᵗ) + ε)
///
/// in `V`-wide vectors without branches, then the remainder one by one with the same operations
/// in the same order, so every result is the same bits as the scalar formula (each vector lane is
/// an IEEE operation of its own, no fused multiply-add, no reassociation).
@inline(__always)
func adamUpdate<V: SIMD>(
    _: V.Type, parameters p: UnsafeMutablePointer<V.Scalar>, gradients g: UnsafePointer<V.Scalar>,
    firstMoment m: UnsafeMutablePointer<V.Scalar>, secondMoment v: UnsafeMutablePointer<V.Scalar>,
    count: Int, _ c: AdamCoefficients<V.Scalar>
) where V.Scalar: BinaryFloatingPoint {
    let width = V.scalarCount
    let stride = MemoryLayout<V.Scalar>.stride
    let (oneMinusB1, oneMinusB2) = (1 - c.beta1, 1 - c.beta2)
    let b1 = V(repeating: c.beta1)
    let b2 = V(repeating: c.beta2)
    let a1 = V(repeating: oneMinusB1)
    let a2 = V(repeating: oneMinusB2)
    let step = V(repeating: c.stepSize)
    let root = V(repeating: c.sqrtBias2)
    let eps = V(repeating: c.epsilon)
    let wd = V(repeating: c.coupledDecay)
    let shrink = V(repeating: c.decoupledFactor)
    let coupled = c.coupledDecay != 0
    let raw = (
        p: UnsafeMutableRawPointer(p), g: UnsafeRawPointer(g), m: UnsafeMutableRawPointer(m),
        v: UnsafeMutableRawPointer(v)
    )
    var i = 0
    // Three loop bodies instead of a branch inside one: the decay choice is made once per call.
    @inline(__always) func body(_ decay: Int) {
        while i + width <= count {
            let offset = i * stride
            var pi = raw.p.loadUnaligned(fromByteOffset: offset, as: V.self)
            var gi = raw.g.loadUnaligned(fromByteOffset: offset, as: V.self)
            if decay == 1 { gi = gi + wd * pi }
            if decay == 2 { pi = pi * shrink }
            let mi = b1 * raw.m.loadUnaligned(fromByteOffset: offset, as: V.self) + a1 * gi
            let vi = b2 * raw.v.loadUnaligned(fromByteOffset: offset, as: V.self) + a2 * gi * gi
            pi = pi - step * mi / (vi.squareRoot() / root + eps)
            raw.m.storeBytes(of: mi, toByteOffset: offset, as: V.self)
            raw.v.storeBytes(of: vi, toByteOffset: offset, as: V.self)
            raw.p.storeBytes(of: pi, toByteOffset: offset, as: V.self)
            i += width
        }
    }
    if c.decoupled {
        body(2)
    } else if coupled {
        body(1)
    } else {
        body(0)
    }
    adamUpdateScalar(parameters: p, gradients: g, firstMoment: m, secondMoment: v, range: i..<count, c)
}

/// The same step as ``adamUpdate(_:parameters:gradients:firstMoment:secondMoment:count:_:)``,
/// one weight at a time over `range` (the vector loop's remainder, and any other element type).
@inline(__always)
func adamUpdateScalar<T: BinaryFloatingPoint>(
    parameters p: UnsafeMutablePointer<T>, gradients g: UnsafePointer<T>, firstMoment m: UnsafeMutablePointer<T>,
    secondMoment v: UnsafeMutablePointer<T>, range: Range<Int>, _ c: AdamCoefficients<T>
) {
    let (oneMinusB1, oneMinusB2) = (1 - c.beta1, 1 - c.beta2)
    let coupled = c.coupledDecay != 0
    for i in range {
        var gi = g[i]
        if c.decoupled { p[i] = p[i] * c.decoupledFactor } else if coupled { gi = gi + c.coupledDecay * p[i] }
        m[i] = c.beta1 * m[i] + oneMinusB1 * gi
        v[i] = c.beta2 * v[i] + oneMinusB2 * gi * gi
        p[i] = p[i] - c.stepSize * m[i] / (v[i].squareRoot() / c.sqrtBias2 + c.epsilon)
    }
}
