import Foundation
import IDL
import Testing

/// An independent solver of the capped row problem
///
///     min ½‖t − Mᵀw‖² + λ‖w‖₁ + ½λ₂‖w‖²   s.t. ‖w[0..<n]‖₁ ≤ r_state, ‖w[n..<d]‖₁ ≤ r_input
///
/// (w[0..<fixed] = 0), written here without the library's solver: accelerated proximal gradient
/// with a fixed step 1/L (L from power iteration on G = MMᵀ, then doubled), adaptive restart, and
/// the ℓ1-ball projection by sorting (Duchi et al. 2008) — the library uses Condat's scheme.
struct CappedRowReference {
    let features: Matrix<Double>
    let n: Int
    let lambda: Double, lambda2: Double
    let stateRadius: Double, inputRadius: Double

    var d: Int { features.rows }

    /// P(w), or +∞ when w violates a cap (beyond rounding).
    func objective(_ w: [Double], target t: [Double]) -> Double {
        var loss = 0.0
        for s in 0..<features.cols {
            var pred = 0.0
            for j in 0..<d { pred += features[j, s] * w[j] }
            loss += (t[s] - pred) * (t[s] - pred)
        }
        let l1 = w.reduce(0) { $0 + abs($1) }
        let sq = w.reduce(0) { $0 + $1 * $1 }
        let stateL1 = w[0..<n].reduce(0) { $0 + abs($1) }
        let inputL1 = w[n..<d].reduce(0) { $0 + abs($1) }
        if stateL1 > stateRadius * (1 + 1e-12) || inputL1 > inputRadius * (1 + 1e-12) { return .infinity }
        return loss / 2 + lambda * l1 + lambda2 / 2 * sq
    }

    /// Euclidean projection onto {‖x‖₁ ≤ r} by sorting.
    static func project(_ v: [Double], radius r: Double) -> [Double] {
        let norm = v.reduce(0) { $0 + abs($1) }
        if norm <= r || !r.isFinite { return v }
        let u = v.map(abs).sorted(by: >)
        var sum = 0.0
        var theta = 0.0
        for (k, value) in u.enumerated() {
            sum += value
            let candidate = (sum - r) / Double(k + 1)
            if value - candidate > 0 { theta = candidate }
        }
        return v.map { $0 > 0 ? Swift.max($0 - theta, 0) : -Swift.max(-$0 - theta, 0) }
    }

    func prox(_ v: [Double], step: Double, fixed: Int) -> [Double] {
        var x = v.map { Swift.max(abs($0) - step * lambda, 0) * ($0 < 0 ? -1 : 1) }
        for j in 0..<fixed { x[j] = 0 }
        let a = Self.project(Array(x[fixed..<n]), radius: stateRadius)
        let b = Self.project(Array(x[n..<d]), radius: inputRadius)
        x.replaceSubrange(fixed..<n, with: a)
        x.replaceSubrange(n..<d, with: b)
        return x
    }

    func solve(target t: [Double], fixed: Int = 0, iterations: Int = 60_000) -> [Double] {
        let gram = matmul(features, features, transposeB: true)
        var c = [Double](repeating: 0, count: d)
        for j in 0..<d { for s in 0..<features.cols { c[j] += features[j, s] * t[s] } }
        var v = [Double](repeating: 1, count: d)
        var top = 0.0
        for _ in 0..<500 {
            var next = [Double](repeating: 0, count: d)
            for i in 0..<d { for j in 0..<d { next[i] += gram[i, j] * v[j] } }
            top = (next.reduce(0) { $0 + $1 * $1 }).squareRoot()
            v = next.map { $0 / top }
        }
        let step = 1 / (2 * top + lambda2)
        var w = [Double](repeating: 0, count: d)
        var y = w
        var momentum = 1.0
        for _ in 0..<iterations {
            var grad = [Double](repeating: 0, count: d)
            for i in 0..<d {
                var gy = 0.0
                for j in 0..<d { gy += gram[i, j] * y[j] }
                grad[i] = gy - c[i] + lambda2 * y[i]
            }
            let next = prox((0..<d).map { y[$0] - step * grad[$0] }, step: step, fixed: fixed)
            var restart = 0.0
            for j in 0..<d { restart += (y[j] - next[j]) * (next[j] - w[j]) }
            if restart > 0 { momentum = 1 }
            let tNext = (1 + (1 + 4 * momentum * momentum).squareRoot()) / 2
            let beta = (momentum - 1) / tNext
            y = (0..<d).map { next[$0] + beta * (next[$0] - w[$0]) }
            w = next
            momentum = tNext
        }
        return w
    }
}

@Suite("SIM row caps (robust fits)")
struct SIMCapTests {
    /// Data like SIM's: non-negative inputs (which switch the exact solver to its deflated
    /// metric), ReLU states and targets from a random linear map.
    static func data(seed: UInt64) -> (features: Matrix<Double>, targets: Matrix<Double>, n: Int) {
        var g = SeededGenerator(seed: seed)
        let (n, p, m) = (4, 6, 40)
        let u = Matrix<Double>.randomUniform(p, m, 0, 1, using: &g)
        let w = Matrix<Double>.randomNormal(n, p, scale: 0.4, using: &g)
        let z = matmul(w, u)
        let x = z.map { Swift.max($0, 0) }
        return (Matrix.vcat([x, u]), z, n)
    }

    /// The exact solver with an input cap (and a state ball, a triangular A, or a state cap as in
    /// stage 2) reaches the independent reference's optimum, meets both caps, and certifies a
    /// gap ≥ 0 that is small and bounds its distance to the reference objective; the deflated and
    /// the plain metric agree.
    @Test(arguments: [
        (0.05, 0.0, "ball"), (0.05, 0.3, "ball"), (0.0, 0.3, "ball"), (0.05, 0.0, "triangular"),
        (0.05, 0.3, "state cap"),
    ])
    func cappedRowsMatchAnIndependentReference(_ lambda: Double, _ lambda2: Double, _ structure: String) throws {
        let (features, targets, n) = Self.data(seed: 7)
        let inputCap = 0.3
        let constraint: SIMWellPosedness =
            structure == "ball"
            ? .infinityNorm(kappa: 0.4) : structure == "triangular" ? .strictlyUpperTriangular : .unconstrained
        let stateCap: Double? = structure == "state cap" ? 0.25 : nil
        let stateRadius = structure == "ball" ? 0.4 : (stateCap ?? .infinity)
        let reference = CappedRowReference(
            features: features, n: n, lambda: lambda, lambda2: lambda2, stateRadius: stateRadius,
            inputRadius: inputCap)
        let tol = 1e-11
        var activeInputCaps = 0
        for (deflate, scale) in [(true, true), (true, false), (false, true), (false, false)] {
            let solver = SIMExactSolver(
                lambda2: lambda2, tolerance: tol, maxIterations: 400_000, deflateTopEigenvalue: deflate,
                scaleByGramDiagonal: scale)
            let result = try solver.fitStage(
                features: features, targets: targets, stateCount: n, lambda: lambda, constraint: constraint,
                stateCap: stateCap, inputCap: inputCap, progress: nil)
            for i in 0..<targets.rows {
                let t = (0..<targets.cols).map { targets[i, $0] }
                let fixed = structure == "triangular" ? Swift.min(i + 1, n) : 0
                let wRef = reference.solve(target: t, fixed: fixed)
                let w = (0..<features.rows).map { result.weights[i, $0] }
                let stats = result.rows[i]
                let mine = reference.objective(w, target: t)
                let best = reference.objective(wRef, target: t)
                #expect(mine.isFinite, "row \(i): the solver's answer violates a cap")
                #expect(stats.converged && stats.gap >= 0)
                #expect(stats.gap <= tol * Swift.max(1, abs(stats.objective)))
                #expect(abs(stats.objective - mine) <= 1e-9 * Swift.max(1, mine))
                // The certificate is honest (bounds P(w) − P*) and the optimum is the reference's.
                #expect(mine - best <= stats.gap + 1e-10 * Swift.max(1, best), "row \(i): \(mine) vs \(best)")
                #expect(abs(mine - best) <= 1e-8 * Swift.max(1, best), "row \(i): \(mine) vs reference \(best)")
                for j in 0..<w.count { #expect(abs(w[j] - wRef[j]) <= 1e-5, "row \(i), coefficient \(j)") }
                for j in 0..<fixed { #expect(w[j] == 0) }
                let inputL1 = w[n...].reduce(0) { $0 + abs($1) }
                #expect(inputL1 <= inputCap * (1 + 1e-12))
                if inputL1 >= inputCap * (1 - 1e-9) { activeInputCaps += 1 }
                if stateRadius.isFinite {
                    #expect(w[0..<n].reduce(0) { $0 + abs($1) } <= stateRadius * (1 + 1e-12))
                }
            }
        }
        // The cap binds (otherwise this would test nothing new).
        #expect(activeInputCaps >= 2, "no row's input cap is active")
    }

    /// The certificate of a feasible but suboptimal point bounds its true suboptimality: the
    /// conjugate of a capped block must carry r·max(0, s‖g_b‖∞ − λ), or the dual overshoots.
    @Test(arguments: [0.0, 0.3])
    func certificateBoundsTheSuboptimalityOfAnyFeasiblePoint(_ lambda2: Double) throws {
        let (features, targets, n) = Self.data(seed: 11)
        let (kappa, inputCap, lambda) = (0.4, 0.3, 0.05)
        let reference = CappedRowReference(
            features: features, n: n, lambda: lambda, lambda2: lambda2, stateRadius: kappa, inputRadius: inputCap)
        var g = SeededGenerator(seed: 3)
        var optima = [Double]()
        var solutions = Matrix<Double>(rows: targets.rows, cols: features.rows)
        for i in 0..<targets.rows {
            let t = (0..<targets.cols).map { targets[i, $0] }
            let w = reference.solve(target: t)
            optima.append(reference.objective(w, target: t))
            for j in 0..<w.count { solutions[i, j] = w[j] }
        }
        // At the optimum the gap closes.
        let atOptimum = try simRowCertificates(
            weights: solutions, features: features, targets: targets, stateCount: n, lambda: lambda,
            lambda2: lambda2, constraint: .infinityNorm(kappa: kappa), inputCap: inputCap)
        for i in 0..<targets.rows {
            #expect(atOptimum[i].gap <= 1e-8 * Swift.max(1, optima[i]), "row \(i): gap \(atOptimum[i].gap)")
        }
        var worstRatio = Double.infinity
        for trial in 0..<40 {
            var perturbed = solutions
            let scale = trial < 20 ? 0.02 : 0.2
            for i in 0..<perturbed.rows {
                var w = (0..<perturbed.cols).map { perturbed[i, $0] + scale * g.normal() }
                w.replaceSubrange(0..<n, with: CappedRowReference.project(Array(w[0..<n]), radius: kappa))
                w.replaceSubrange(n..<w.count, with: CappedRowReference.project(Array(w[n...]), radius: inputCap))
                for j in 0..<w.count { perturbed[i, j] = w[j] }
            }
            let certificates = try simRowCertificates(
                weights: perturbed, features: features, targets: targets, stateCount: n, lambda: lambda,
                lambda2: lambda2, constraint: .infinityNorm(kappa: kappa), inputCap: inputCap)
            for i in 0..<perturbed.rows {
                let t = (0..<targets.cols).map { targets[i, $0] }
                let w = (0..<perturbed.cols).map { perturbed[i, $0] }
                let excess = reference.objective(w, target: t) - optima[i]
                #expect(certificates[i].gap.isFinite)
                #expect(certificates[i].gap >= excess - 1e-9 * Swift.max(1, optima[i]), "trial \(trial), row \(i)")
                if excess > 1e-6 { worstRatio = Swift.min(worstRatio, certificates[i].gap / excess) }
            }
        }
        print("λ₂ = \(lambda2): smallest gap / true suboptimality over the perturbed points \(worstRatio)")
        // A point outside a cap is not certified.
        var outside = solutions
        for j in n..<outside.cols { outside[0, j] = 1 }
        let refused = try simRowCertificates(
            weights: outside, features: features, targets: targets, stateCount: n, lambda: lambda, lambda2: lambda2,
            constraint: .infinityNorm(kappa: kappa), inputCap: inputCap)
        #expect(refused[0].gap == .infinity)
    }

    /// The two-stage fit with caps on B, C and D: every row meets its cap, every row is certified,
    /// the caps bind, and the certified Lipschitz constant is at most c·b/(1 − κ) + d.
    @Test func twoStageFitMeetsEveryCapAndBoundsTheLipschitzConstant() throws {
        let teacher = ReLUTeacher(p: 12, h1: 8, h2: 6, q: 3, m: 120, seed: 21)
        let states = try teacher.states()
        let kappa = 0.5
        var solver = SIMExactSolver(
            lambdaState: 0.01, lambdaOutput: 0.01, lambda2: 0.1, wellPosedness: .infinityNorm(kappa: kappa),
            tolerance: 1e-8, maxIterations: 200_000, regenerateStates: true)
        let free = try solver.fit(states)
        let caps = SIMRowCaps(b: 0.5 * free.B.infinityNorm, c: 0.5 * free.C.infinityNorm, d: 0.2)
        solver.caps = caps
        let fit = try solver.fit(states)
        #expect(fit.report.unconvergedRows == 0 && fit.report.wellPosednessMet, "\(fit.report.warnings)")
        #expect(fit.report.maxGap >= 0 && fit.report.maxGap <= 1e-6)
        #expect(fit.B.infinityNorm <= caps.b! * (1 + 1e-12))
        #expect(fit.C.infinityNorm <= caps.c! * (1 + 1e-12))
        #expect(fit.D.infinityNorm <= caps.d! * (1 + 1e-12))
        #expect(fit.B.infinityNorm >= caps.b! * (1 - 1e-9) && fit.C.infinityNorm >= caps.c! * (1 - 1e-9))
        let certificate = LipschitzCertificate(A: fit.A, B: fit.B, C: fit.C, D: fit.D)
        #expect(certificate.normBound <= caps.c! * caps.b! / (1 - kappa) + caps.d! + 1e-12)
        #expect(certificate.normBound < LipschitzCertificate(A: free.A, B: free.B, C: free.C, D: free.D).normBound)
    }

    /// Caps that are not finite and positive are refused with a clear error, by the library and by
    /// `idl sim` (which also refuses them for solvers other than the exact one).
    @Test func badCapsAreRefused() throws {
        let teacher = ReLUTeacher(p: 5, h1: 4, h2: 3, q: 2, m: 30, seed: 1)
        let states = try teacher.states()
        for bad in [0.0, -1, .nan, .infinity] {
            var solver = SIMExactSolver(lambdaState: 0.1, lambdaOutput: 0.1)
            solver.caps = SIMRowCaps(d: bad)
            do {
                _ = try solver.fit(states)
                Issue.record("a cap of \(bad) was accepted")
            } catch let error as IDLError {
                guard case .invalidArgument(let message) = error else {
                    Issue.record("wrong error \(error)")
                    continue
                }
                #expect(message.contains("row ℓ1 cap on D must be finite and positive"), "\(message)")
            }
        }
        let zero = try runTool("idl", ["sim", "--b-cap", "0"])
        #expect(zero.status != 0 && zero.err.contains("--b-cap must be positive"), "\(zero.err)")
        let admm = try runTool("idl", ["sim", "--solver", "admm", "--d-cap", "1"])
        #expect(admm.status != 0 && admm.err.contains("use it with --solver exact"), "\(admm.err)")
    }
}
