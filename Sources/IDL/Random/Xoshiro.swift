import RealModule

/// The project's seeded random number generator: xoshiro256** (Blackman & Vigna), seeded
/// through SplitMix64.
///
/// Every random choice in the library takes one of these, so the same seed gives the same
/// numbers on every machine and every run. There is no global generator.
///
/// - `uniform()` returns a `Double` in [0, 1) built from the top 53 bits of the next output;
/// - `normal()` uses the Box–Muller transform (no cached second value, so the stream of
///   draws is simple to reason about);
/// - `shuffle`/`permutation` use Fisher–Yates with unbiased bounded integers.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    @usableFromInline var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    /// A generator whose whole stream is determined by `seed`.
    public init(seed: UInt64) {
        var x = seed
        func splitmix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitmix()
        s1 = splitmix()
        s2 = splitmix()
        s3 = splitmix()
    }

    /// The next 64 random bits.
    @inlinable
    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = (s3 << 45) | (s3 >> 19)
        return result
    }

    /// A uniform `Double` in [0, 1).
    @inlinable
    public mutating func uniform() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// A uniform value in [low, high).
    @inlinable
    public mutating func uniform<T: BLASScalar>(_ low: T, _ high: T) -> T {
        low + (high - low) * T(uniform())
    }

    /// A standard normal value (mean 0, variance 1), by Box–Muller.
    @inlinable
    public mutating func normal() -> Double {
        var u1 = uniform()
        while u1 <= 0 { u1 = uniform() }
        let u2 = uniform()
        return Double.sqrt(-2 * Double.log(u1)) * Double.cos(2 * Double.pi * u2)
    }

    /// A uniform integer in 0..<bound (unbiased, Lemire's method).
    @inlinable
    public mutating func integer(below bound: Int) -> Int {
        precondition(bound > 0, "integer(below:) needs a positive bound, got \(bound)")
        return Int(next(upperBound: UInt64(bound)))
    }

    /// A random permutation of 0..<n.
    public mutating func permutation(_ n: Int) -> [Int] {
        var p = Array(0..<n)
        shuffle(&p)
        return p
    }

    /// Shuffles an array in place (Fisher–Yates).
    public mutating func shuffle<E>(_ a: inout [E]) {
        guard a.count > 1 else { return }
        for i in stride(from: a.count - 1, to: 0, by: -1) {
            let j = integer(below: i + 1)
            if i != j { a.swapAt(i, j) }
        }
    }

    /// `k` distinct indices drawn from 0..<n without replacement, in random order.
    public mutating func sample(_ k: Int, from n: Int) -> [Int] {
        precondition(k >= 0 && k <= n, "cannot sample \(k) of \(n) without replacement")
        var p = Array(0..<n)
        for i in 0..<k {
            let j = i + integer(below: n - i)
            p.swapAt(i, j)
        }
        return Array(p[0..<k])
    }
}

extension Matrix {
    /// Entries drawn from N(0, 1)·`scale`.
    public static func randomNormal(_ rows: Int, _ cols: Int, scale: T = 1, using g: inout SeededGenerator) -> Matrix {
        var m = Matrix(rows: rows, cols: cols)
        for k in 0..<m.count { m.storage[k] = T(g.normal()) * scale }
        return m
    }

    /// Entries drawn uniformly from [low, high).
    public static func randomUniform(_ rows: Int, _ cols: Int, _ low: T, _ high: T, using g: inout SeededGenerator)
        -> Matrix
    {
        var m = Matrix(rows: rows, cols: cols)
        for k in 0..<m.count { m.storage[k] = g.uniform(low, high) }
        return m
    }
}
