import RealModule

// Projection onto the ℓ1 ball and the proximal operator of λ‖·‖₁ + indicator(‖·‖₁ ≤ κ).

/// Finds the threshold τ ≥ 0 of the Euclidean projection onto the ℓ1 ball of radius `radius`.
///
/// The projection of v with ‖v‖₁ > r is x_j = sign(v_j)·max(|v_j| − τ, 0), where τ > 0 solves
/// Σ_j max(|v_j| − τ, 0) = r. The threshold is found by Condat's linear-time scheme (L. Condat,
/// *Fast projection onto the simplex and the ℓ1 ball*, Math. Program. 158, 2016): a running
/// estimate of τ over a candidate set that only grows with entries above the estimate, a
/// second pass over the entries set aside, then filtering until the set is stable; finally
/// τ is recomputed exactly from the active set, τ = (Σ_{active} |v_j| − r)/|active|.
///
/// - Parameters:
///   - values: the vector v (read only).
///   - radius: r > 0.
///   - scratch: a buffer with at least `values.count` slots; its contents are overwritten.
/// - Returns: τ, or 0 when ‖v‖₁ ≤ r (the vector is already in the ball).
@inlinable
func l1BallThreshold<T: BLASScalar>(
    _ values: UnsafeBufferPointer<T>, radius: T, scratch: UnsafeMutablePointer<T>
) -> T {
    let count = values.count
    if count == 0 { return 0 }
    var norm: T = 0
    for v in values { norm += abs(v) }
    if norm <= radius { return 0 }
    // Candidate set C = scratch[lo..<hi]; entries set aside live in scratch[0..<lo].
    var lo = 0
    var hi = 1
    scratch[0] = abs(values[0])
    var tau = scratch[0] - radius
    for k in 1..<count {
        let y = abs(values[k])
        if y <= tau { continue }
        tau += (y - tau) / T(hi - lo + 1)
        if tau > y - radius {
            scratch[hi] = y
            hi += 1
        } else {
            // y alone gives a larger threshold: set the current candidates aside, restart from y.
            lo = hi
            scratch[hi] = y
            hi += 1
            tau = y - radius
        }
    }
    // Second chance for the entries set aside: those above τ rejoin the candidates, which
    // grow downwards (the write index never passes the read index).
    if lo > 0 {
        var write = lo
        var k = lo - 1
        while k >= 0 {
            let y = scratch[k]
            if y > tau {
                write -= 1
                scratch[write] = y
                tau += (y - tau) / T(hi - write)
            }
            k -= 1
        }
        lo = write
    }
    // Filter until no candidate is at or below τ.
    var changed = true
    while changed {
        changed = false
        var write = lo
        for k in lo..<hi {
            let y = scratch[k]
            if y > tau {
                scratch[write] = y
                write += 1
            } else {
                changed = true
                let remaining = (hi - k - 1) + (write - lo)
                if remaining > 0 { tau += (tau - y) / T(remaining) }
            }
        }
        hi = write
        if hi == lo { break }
    }
    // Exact threshold from the active set {j : |v_j| > τ}.
    var sum: T = 0
    var active = 0
    for v in values where abs(v) > tau {
        sum += abs(v)
        active += 1
    }
    if active == 0 { return tau }
    let exact = (sum - radius) / T(active)
    return Swift.max(exact, 0)
}

/// Projects `values` in place onto {x : ‖x‖₁ ≤ radius} (Euclidean projection).
///
/// Vectors already inside the ball are unchanged; `radius` 0 gives the zero vector.
/// `scratch` needs `values.count` slots. Allocation free.
@inlinable
func projectOntoL1BallInPlace<T: BLASScalar>(
    _ values: UnsafeMutableBufferPointer<T>, radius: T, scratch: UnsafeMutablePointer<T>
) {
    if radius <= 0 {
        for k in values.indices { values[k] = 0 }
        return
    }
    let tau = l1BallThreshold(UnsafeBufferPointer(values), radius: radius, scratch: scratch)
    if tau <= 0 { return }
    for k in values.indices {
        let v = values[k]
        let shrunk = abs(v) - tau
        values[k] = shrunk > 0 ? (v > 0 ? shrunk : -shrunk) : 0
    }
}

/// Soft thresholding in place: x_j ← sign(x_j)·max(|x_j| − t, 0), the prox of t‖·‖₁.
@inlinable
func softThresholdInPlace<T: BLASScalar>(_ values: UnsafeMutableBufferPointer<T>, _ t: T) {
    for k in values.indices {
        let v = values[k]
        values[k] = v > t ? v - t : (v < -t ? v + t : 0)
    }
}

/// The Euclidean projection of `v` onto the ℓ1 ball {x : ‖x‖₁ ≤ radius}:
/// argmin_x ½‖x − v‖₂² subject to ‖x‖₁ ≤ radius.
///
/// The solution is x_j = sign(v_j)·max(|v_j| − τ, 0) with τ = 0 when ‖v‖₁ ≤ radius (v is
/// returned unchanged) and otherwise the unique τ > 0 with ‖x‖₁ = radius, found in expected
/// linear time by Condat's method. `radius` = 0 gives the zero vector.
/// - Throws: ``IDLError/invalidArgument(_:)`` for a negative or non-finite radius,
///   ``IDLError/nonFinite(_:)`` if `v` holds NaN or ±∞.
public func projectOntoL1Ball<T: BLASScalar>(_ v: [T], radius: T) throws -> [T] {
    guard radius >= 0, radius.isFinite else {
        throw IDLError.invalidArgument("the ℓ1 ball radius must be finite and ≥ 0, got \(radius)")
    }
    guard v.allSatisfy({ $0.isFinite }) else {
        throw IDLError.nonFinite("cannot project a vector with NaN or infinite entries onto the ℓ1 ball")
    }
    var out = v
    var scratch = [T](repeating: 0, count: Swift.max(1, v.count))
    out.withUnsafeMutableBufferPointer { p in
        scratch.withUnsafeMutableBufferPointer { s in
            projectOntoL1BallInPlace(p, radius: radius, scratch: s.baseAddress!)
        }
    }
    return out
}

/// The proximal operator of h(x) = λ‖x‖₁ + indicator(‖x‖₁ ≤ κ):
/// prox_h(v) = argmin_x ½‖x − v‖₂² + λ‖x‖₁ subject to ‖x‖₁ ≤ κ.
///
/// It equals soft thresholding by λ followed by the projection onto the ℓ1 ball of radius κ:
/// both steps shrink every magnitude by a common amount (λ, then τ ≥ 0), so the composition is
/// a single shrinkage by λ + τ, and the optimality conditions v − x ∈ (λ + μ)∂‖x‖₁, μ ≥ 0,
/// μ(‖x‖₁ − κ) = 0 hold with μ = τ. With `kappa` = +∞ this is plain soft thresholding.
/// - Throws: ``IDLError/invalidArgument(_:)`` for λ < 0 or κ < 0,
///   ``IDLError/nonFinite(_:)`` if `v` holds NaN or ±∞.
public func proxL1WithBall<T: BLASScalar>(_ v: [T], lambda: T, kappa: T) throws -> [T] {
    guard lambda >= 0, lambda.isFinite else {
        throw IDLError.invalidArgument("λ must be finite and ≥ 0, got \(lambda)")
    }
    guard kappa >= 0, !kappa.isNaN else {
        throw IDLError.invalidArgument("κ must be ≥ 0 (or +∞ for no ball), got \(kappa)")
    }
    guard v.allSatisfy({ $0.isFinite }) else {
        throw IDLError.nonFinite("cannot apply the prox to a vector with NaN or infinite entries")
    }
    var out = v
    var scratch = [T](repeating: 0, count: Swift.max(1, v.count))
    out.withUnsafeMutableBufferPointer { p in
        softThresholdInPlace(p, lambda)
        if kappa.isFinite {
            scratch.withUnsafeMutableBufferPointer { s in
                projectOntoL1BallInPlace(p, radius: kappa, scratch: s.baseAddress!)
            }
        }
    }
    return out
}
