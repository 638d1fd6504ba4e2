import Foundation
import IDL
import Testing

/// The SIM baselines' variants: states scaled per block, a fit without D, ADMM's sparse iterate.
@Suite("SIM variants")
struct SIMVariantTests {
    /// States of a one-layer ReLU map X = relu(B₀U) (so A = 0 fits exactly) and Y = C₀X.
    static func states() throws -> (SIMStates<Double>, b0: Matrix<Double>, c0: Matrix<Double>) {
        var g = SeededGenerator(seed: 3)
        let u = Matrix<Double>.randomNormal(4, 30, using: &g)
        let b0 = Matrix<Double>.randomNormal(3, 4, using: &g)
        let c0 = try Matrix<Double>(rowMajor: [[1, -2, 0.5], [0, 3, -1]])
        let z = matmul(b0, u)
        let x = z.map { Swift.max(0, $0) }
        let y = matmul(c0, x)
        return (try SIMStates(inputs: u, states: x, preActivations: z, outputs: y), b0, c0)
    }

    @Test func blockRootMeanSquaresAreTheBlocksRMS() throws {
        let x = try Matrix<Double>(rowMajor: [[1, -1], [2, 2], [0, 0]])
        let s = try SIMStates(
            inputs: Matrix(rows: 1, cols: 2, repeating: 1), states: x, preActivations: x,
            outputs: Matrix(rows: 1, cols: 2))
        let rms = try s.blockRootMeanSquares(blocks: [1, 2])
        #expect(rms.count == 2)
        #expect(abs(rms[0] - 1) < 1e-15)
        #expect(abs(rms[1] - 2.0.squareRoot()) < 1e-15)  // √((4 + 4 + 0 + 0) / 4)
        #expect(throws: IDLError.self) { try s.blockRootMeanSquares(blocks: [1, 1]) }
    }

    @Test func scalingBlocksScalesStatesAndPreActivationsOnly() throws {
        let (s, _, _) = try Self.states()
        let scaled = try s.scalingBlocks(by: [2, 0.5], blocks: [1, 2])
        for j in 0..<s.sampleCount {
            #expect(scaled.states[0, j] == 2 * s.states[0, j])
            #expect(scaled.preActivations[0, j] == 2 * s.preActivations[0, j])
            for i in 1..<3 {
                #expect(scaled.states[i, j] == 0.5 * s.states[i, j])
                #expect(scaled.preActivations[i, j] == 0.5 * s.preActivations[i, j])
            }
        }
        #expect(scaled.inputs == s.inputs && scaled.outputs == s.outputs)
        #expect(throws: IDLError.self) { try s.scalingBlocks(by: [1], blocks: [1, 2]) }
        #expect(throws: IDLError.self) { try s.scalingBlocks(by: [1, 0], blocks: [1, 2]) }
        #expect(throws: IDLError.self) { try s.scalingBlocks(by: [1, 1], blocks: [2, 2]) }
        // Scaled by the inverse factors, the states come back.
        let back = try scaled.scalingBlocks(by: [0.5, 2], blocks: [1, 2])
        #expect((back.states - s.states).maxAbs < 1e-15)
    }

    /// Y = C₀X exactly: without D, stage 2 must find C₀ and D must be all zeros.
    @Test func fitWithoutDRecoversTheStatesToOutputMap() throws {
        let (s, b0, c0) = try Self.states()
        for regenerate in [false, true] {
            let solver = SIMLeastSquaresSolver(
                wellPosedness: .unconstrained, zeroThreshold: 0, regenerateStates: regenerate)
            let full = try solver.fit(s)
            #expect((full.B - b0).maxAbs < 1e-8)
            let noD = try solver.fitWithoutD(replacingOutputOf: full, states: s)
            #expect(noD.D.rows == 2 && noD.D.cols == 4 && noD.D.zeroCount == noD.D.count)
            #expect((noD.C - c0).maxAbs < 1e-8, "\((noD.C - c0).maxAbs)")
            #expect(noD.A == full.A && noD.B == full.B)
            #expect(noD.report.zeros.d == 8)
        }
        // A fit of other states is refused.
        let other = try SIMStates<Double>(
            inputs: Matrix(rows: 2, cols: 3), states: Matrix(rows: 1, cols: 3),
            preActivations: Matrix(rows: 1, cols: 3),
            outputs: Matrix(rows: 1, cols: 3))
        let full = try SIMLeastSquaresSolver(wellPosedness: .unconstrained).fit(s)
        #expect(throws: IDLError.self) {
            try SIMLeastSquaresSolver(wellPosedness: .unconstrained).fitWithoutD(replacingOutputOf: full, states: other)
        }
    }

    /// Orthonormal features (M = I): the lasso's solution is soft(t, λ). The sparse iterate W₂
    /// has exactly its zeros; the consensus average only approaches them.
    @Test func admmSparseIterateHasTheLassoZeros() throws {
        let features = Matrix<Double>.identity(4)
        let targets = try Matrix<Double>(rowMajor: [[3, -0.5, 1.5, 0.2]])
        let lasso = [2.0, 0, 0.5, 0]  // soft(t, 1)
        var solver = SIMADMMSolver(
            lambdaState: 1, wellPosedness: .unconstrained, rho: 1, tolerance: 1e-9, maxIterations: 5000)
        solver.returnsSparseIterate = true
        let sparse = try solver.fitStage(
            features: features, targets: targets, stateCount: 0, lambda: 1, constraint: .unconstrained, progress: nil)
        for j in 0..<4 {
            #expect(abs(sparse.weights[0, j] - lasso[j]) < 1e-6, "\(sparse.weights)")
            #expect((sparse.weights[0, j] == 0) == (lasso[j] == 0), "\(sparse.weights)")
        }
        solver.returnsSparseIterate = false
        let consensus = try solver.fitStage(
            features: features, targets: targets, stateCount: 0, lambda: 1, constraint: .unconstrained, progress: nil)
        for j in 0..<4 { #expect(abs(consensus.weights[0, j] - lasso[j]) < 1e-6) }
        #expect(consensus.weights.zeroCount <= sparse.weights.zeroCount)
    }
}
