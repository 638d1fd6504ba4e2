import Foundation

/// The processor, as /proc/cpuinfo names it: model name and vendor, e.g.
/// "AMD EPYC 7B13 (AuthenticAMD)", or "unknown" where that file is missing.
public var cpuDescription: String {
    guard let info = try? String(contentsOfCPUInfo: ()) else { return "unknown" }
    func field(_ name: String) -> String? {
        for line in info.split(separator: "\n") where line.hasPrefix(name) {
            if let colon = line.firstIndex(of: ":") {
                return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        return nil
    }
    let model = field("model name") ?? "unknown model"
    return field("vendor_id").map { "\(model) (\($0))" } ?? model
}

/// One matrix product of a workload: C (m×n) ← op(A) (m×k) · op(B) (k×n), done `count` times
/// (fractional counts are averages, e.g. mean fixed-point iterations per step).
public struct GEMMShape: Sendable, Equatable {
    /// Rows of the product.
    public var m: Int
    /// Columns of the product.
    public var n: Int
    /// The inner dimension.
    public var k: Int
    /// Whether the left factor is used transposed.
    public var transposeA: Bool
    /// Whether the right factor is used transposed.
    public var transposeB: Bool
    /// How many times the product is computed.
    public var count: Double

    /// - Parameters:
    ///   - m: Rows of the product.
    ///   - n: Columns of the product.
    ///   - k: The inner dimension.
    ///   - transposeA: Whether the left factor is used transposed.
    ///   - transposeB: Whether the right factor is used transposed.
    ///   - count: How many times it is computed.
    public init(m: Int, n: Int, k: Int, transposeA: Bool = false, transposeB: Bool = false, count: Double = 1) {
        self.m = m
        self.n = n
        self.k = k
        self.transposeA = transposeA
        self.transposeB = transposeB
        self.count = count
    }

    /// Floating-point operations, 2·m·n·k·count.
    public var flops: Double { 2 * Double(m) * Double(n) * Double(k) * count }
}

/// The matrix products of one training step of an ``ImplicitModel`` with a dense A, and the time
/// they take alone: the GEMM-bound ("roofline") time a step cannot beat, against which a measured
/// step time is judged.
public enum ImplicitStepCost {
    /// The products of one step (forward, loss gradient, backward) on a batch of `batch` samples.
    ///
    /// Forward: Z₀ = B U, `forwardIterations` × A X, C X and D U. Backward: ∂C = G Xᵀ, Cᵀ G,
    /// ∂D = G Uᵀ, Φ′ (one A X), `backwardIterations` × Aᵀ V, ∂A = V Xᵀ, ∂B = V Uᵀ.
    ///
    /// - Parameters:
    ///   - inputDim: p (the bias row, when used, counts as one more input).
    ///   - outputDim: q.
    ///   - hiddenDim: n.
    ///   - batch: m, samples per step.
    ///   - bias: Whether U has the constant-one row.
    ///   - hasD: Whether the model has the feedthrough D.
    ///   - forwardIterations: Mean fixed-point iterations of the forward solve.
    ///   - backwardIterations: Mean iterations of the backward solve.
    /// - Returns: The products, with their counts.
    public static func gemms(
        inputDim: Int, outputDim: Int, hiddenDim: Int, batch: Int, bias: Bool = false, hasD: Bool = true,
        forwardIterations: Double, backwardIterations: Double
    ) -> [GEMMShape] {
        let (p, q, n, m) = (inputDim + (bias ? 1 : 0), outputDim, hiddenDim, batch)
        var list = [
            GEMMShape(m: n, n: m, k: p),
            GEMMShape(m: n, n: m, k: n, count: forwardIterations),
            GEMMShape(m: q, n: m, k: n),
            GEMMShape(m: q, n: n, k: m, transposeB: true),
            GEMMShape(m: n, n: m, k: q, transposeA: true),
            GEMMShape(m: n, n: m, k: n),
            GEMMShape(m: n, n: m, k: n, transposeA: true, count: backwardIterations),
            GEMMShape(m: n, n: n, k: m, transposeB: true),
            GEMMShape(m: n, n: p, k: m, transposeB: true),
        ]
        if hasD {
            list += [GEMMShape(m: q, n: m, k: p), GEMMShape(m: q, n: p, k: m, transposeB: true)]
        }
        return list
    }

    /// The seconds the products take when run alone, back to back, with the BLAS settings in
    /// force: each distinct product is timed (median of `repeats` runs of a loop long enough to
    /// be measured) and weighted by its count.
    ///
    /// With `blocks` > 1 the shapes are those of one block of a step whose batch is cut into
    /// `blocks` blocks of columns (as ``ImplicitModel`` trains, see
    /// ``ThreadPolicy/batchBlocks(columns:)``): every timed loop then runs once per block, the
    /// blocks as tasks over the workers, each with its own output, and the wall time counts. The
    /// result is the GEMM-bound time of the blocked step on this machine's workers.
    ///
    /// - Parameters:
    ///   - shapes: The products, e.g. from ``gemms(inputDim:outputDim:hiddenDim:batch:bias:hasD:forwardIterations:backwardIterations:)``.
    ///   - type: The element type the workload uses.
    ///   - repeats: Runs per product (the median is used); at least 1.
    ///   - blocks: Blocks of the batch run side by side (1: the products alone).
    /// - Returns: Σ count × (seconds of one product, or of `blocks` products side by side).
    public static func gemmBoundSeconds<T: BLASScalar>(
        _ shapes: [GEMMShape], as type: T.Type, repeats: Int = 5, blocks: Int = 1
    ) -> Double {
        var g = SeededGenerator(seed: 7)
        var total = 0.0
        let blocks = max(1, blocks)
        for s in shapes where s.count > 0 {
            let a = Matrix<T>.randomNormal(s.transposeA ? s.k : s.m, s.transposeA ? s.m : s.k, using: &g)
            let b = Matrix<T>.randomNormal(s.transposeB ? s.n : s.k, s.transposeB ? s.k : s.n, using: &g)
            let outputs = (0..<blocks).map { _ in LockedValue(Matrix<T>(rows: s.m, cols: s.n)) }
            // Enough products per timing for ~2 ms of work at 50 GFLOP/s.
            let inner = max(1, Int(1e8 / max(1, 2 * Double(s.m) * Double(s.n) * Double(s.k))))
            func run(_ count: Int) {
                ThreadPolicy.forEachTask(blocks) { k in
                    outputs[k].withLock { c in
                        for _ in 0..<count { gemm(a, b, into: &c, transposeA: s.transposeA, transposeB: s.transposeB) }
                    }
                }
            }
            run(1)
            var times = [Double]()
            for _ in 0..<max(1, repeats) {
                let start = monotonicSeconds()
                run(inner)
                times.append((monotonicSeconds() - start) / Double(inner))
            }
            times.sort()
            total += s.count * times[times.count / 2]
        }
        return total
    }
}
