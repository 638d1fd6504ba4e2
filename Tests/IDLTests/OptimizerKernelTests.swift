import Foundation
import IDL
import Testing

/// The vectorised Adam step against the scalar loop it replaced (copied here unchanged as the
/// reference): same bits after several steps, for every weight-decay mode, both precisions, and
/// sizes that leave a remainder after the vector loop.
@Suite struct OptimizerKernelTests {
    /// The scalar Adam loop as the optimizer had it before vectorisation.
    func referenceAdam<T: BLASScalar>(
        p: inout [T], g: [T], m: inout [T], v: inout [T], t: Int, lr: Double, wd: Double, decoupled: Bool
    ) {
        let (beta1, beta2, epsilon) = (0.9, 0.999, 1e-8)
        let b1 = T(beta1)
        let b2 = T(beta2)
        let bias1 = 1 - pow(beta1, Double(t))
        let bias2 = 1 - pow(beta2, Double(t))
        let stepSize = T(lr / bias1)
        let sqrtBias2 = T(bias2.squareRoot())
        let eps = T(epsilon)
        let w = T(wd)
        let l = T(lr)
        withSubnormalsFlushedToZero {
            for i in 0..<p.count {
                var gi = g[i]
                if w != 0 {
                    if decoupled { p[i] *= 1 - l * w } else { gi += w * p[i] }
                }
                m[i] = b1 * m[i] + (1 - b1) * gi
                v[i] = b2 * v[i] + (1 - b2) * gi * gi
                p[i] -= stepSize * m[i] / (v[i].squareRoot() / sqrtBias2 + eps)
            }
        }
    }

    func check<T: BLASScalar>(_: T.Type, count: Int, wd: Double, decoupled: Bool) throws {
        var gen = SeededGenerator(seed: UInt64(count) &* 7 &+ (decoupled ? 1 : 0))
        let start = Matrix<T>.randomNormal(count, 1, using: &gen)
        let p = Tensor(parameter: start)
        let opt = try Adam([p], learningRate: 0.01, weightDecay: wd, decoupledWeightDecay: decoupled)
        var (rp, rm, rv) = (start.storage, [T](repeating: 0, count: count), [T](repeating: 0, count: count))
        for t in 1...5 {
            // Gradients spanning several magnitudes, some exactly zero.
            var g = Matrix<T>.randomNormal(count, 1, scale: T(pow(10.0, Double(t - 3))), using: &gen)
            if count > 3 { g[3, 0] = 0 }
            p.grad = g
            opt.step()
            referenceAdam(p: &rp, g: g.storage, m: &rm, v: &rv, t: t, lr: 0.01, wd: wd, decoupled: decoupled)
            let same = zip(p.value.storage, rp).allSatisfy { $0 == $1 }
            #expect(same, "\(T.self) count \(count) wd \(wd) decoupled \(decoupled) step \(t)")
        }
    }

    @Test func vectorisedAdamEqualsScalarLoopBitForBit() throws {
        for count in [1, 15, 16, 37, 1000] {
            for (wd, decoupled) in [(0.0, false), (0.1, false), (0.1, true)] {
                try check(Float.self, count: count, wd: wd, decoupled: decoupled)
                try check(Double.self, count: count, wd: wd, decoupled: decoupled)
            }
        }
    }

    /// The CSR product equals the dense product to rounding for every batch width around the
    /// vector kernel's panel sizes, with β = 0 and β = 1, and does not depend on the batch:
    /// a sample's column is the same bits alone or inside a batch.
    @Test func sparseProductMatchesDenseAndIsIndependentOfTheBatch() throws {
        var g = SeededGenerator(seed: 22)
        func check<T: BLASScalar>(_: T.Type, tolerance: T) throws {
            var a = Matrix<T>.randomNormal(37, 29, using: &g)
            for k in 0..<a.count where g.uniform() >= 0.2 { a.storage[k] = 0 }
            for j in 0..<a.cols { a[5, j] = 0 }  // an empty row
            let s = SparseMatrix(a)
            // Around the kernels' panels: 2, 4, 8, 16 lanes and 8 vectors of them.
            for m in [1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 70, 130] {
                let x = Matrix<T>.randomNormal(29, m, using: &g)
                let start = Matrix<T>.randomNormal(37, m, using: &g)
                for beta: T in [0, 1] {
                    var y = start
                    s.multiply(x, into: &y, beta: beta)
                    var expected = start
                    gemm(a, x, into: &expected, alpha: 1, beta: beta)
                    #expect((y - expected).maxAbs <= tolerance * max(1, expected.maxAbs), "\(T.self) m \(m) β \(beta)")
                }
                var whole = Matrix<T>(rows: 37, cols: m)
                s.multiply(x, into: &whole)
                var last = Matrix<T>(rows: 37, cols: 1)
                s.multiply(x.columns((m - 1)..<m), into: &last)
                #expect(whole.columns((m - 1)..<m) == last)
            }
        }
        try check(Float.self, tolerance: 1e-5)
        try check(Double.self, tolerance: 1e-13)
    }

    /// SIM inference: the sparse path, the dense path, and the dense path on 600 samples in
    /// blocks of 256 give the same outputs to rounding.
    @Test func simSparseAndBlockedDenseInferenceAgree() throws {
        var g = SeededGenerator(seed: 23)
        func sparse(_ r: Int, _ c: Int, _ scale: Double) -> Matrix<Double> {
            var m = Matrix<Double>.randomNormal(r, c, scale: scale, using: &g)
            for k in 0..<m.count where g.uniform() >= 0.2 { m.storage[k] = 0 }
            return m
        }
        let fit = SIMFit(
            A: sparse(40, 40, 1).scaledIntoInfinityBall(radius: 0.6), B: sparse(40, 30, 0.3), C: sparse(4, 40, 0.3),
            D: sparse(4, 30, 0.3), report: SIMReport())
        let model = try SIMModel(fit, tolerance: 1e-13)
        let u = Matrix<Double>.randomNormal(30, 600, using: &g)
        let dense = try model.implicitModel.predict(u)
        let (viaSparse, stats) = try model.predictSparse(u, tolerance: 1e-13)
        #expect(stats.converged)
        #expect((dense - viaSparse).maxAbs < 1e-10 * max(1, dense.maxAbs))
        // Column by column, as one block each: the same to the solver tolerance.
        let one = try model.implicitModel.predict(u.columns(300..<301))
        #expect((dense.columns(300..<301) - one).maxAbs < 1e-10)
        #expect(try model.predict(u).isApproximatelyEqual(to: dense, tolerance: 1e-10))
    }
}
