import IDL
import Testing

/// Naive triple loop: the reference the BLAS products are checked against.
func naiveProduct<T: BLASScalar>(_ a: Matrix<T>, _ b: Matrix<T>, _ ta: Bool, _ tb: Bool) -> Matrix<T> {
    let a2 = ta ? naiveTranspose(a) : a
    let b2 = tb ? naiveTranspose(b) : b
    return Matrix(rows: a2.rows, cols: b2.cols) { i, j in
        var s: T = 0
        for k in 0..<a2.cols { s += a2[i, k] * b2[k, j] }
        return s
    }
}

func naiveTranspose<T: BLASScalar>(_ a: Matrix<T>) -> Matrix<T> {
    Matrix(rows: a.cols, cols: a.rows) { i, j in a[j, i] }
}

@Suite struct LinearAlgebraTests {
    func checkProducts<T: BLASScalar>(_: T.Type, tolerance: T) {
        var g = SeededGenerator(seed: 7)
        let shapes = [(1, 1, 1), (3, 5, 2), (7, 1, 4), (1, 6, 9), (13, 11, 17), (40, 3, 33), (5, 5, 5)]
        for (m, k, n) in shapes {
            for ta in [false, true] {
                for tb in [false, true] {
                    let a = ta ? Matrix<T>.randomNormal(k, m, using: &g) : Matrix<T>.randomNormal(m, k, using: &g)
                    let b = tb ? Matrix<T>.randomNormal(n, k, using: &g) : Matrix<T>.randomNormal(k, n, using: &g)
                    let got = matmul(a, b, transposeA: ta, transposeB: tb)
                    let want = naiveProduct(a, b, ta, tb)
                    #expect(got.rows == m && got.cols == n)
                    #expect(
                        got.isApproximatelyEqual(to: want, tolerance: tolerance),
                        "m=\(m) k=\(k) n=\(n) ta=\(ta) tb=\(tb)")
                }
            }
        }
    }

    @Test func productsMatchNaiveLoopsDouble() { checkProducts(Double.self, tolerance: 1e-12) }
    @Test func productsMatchNaiveLoopsFloat() { checkProducts(Float.self, tolerance: 1e-4) }

    @Test func gemmAccumulatesWithAlphaBeta() {
        var g = SeededGenerator(seed: 3)
        let a = Matrix<Double>.randomNormal(4, 6, using: &g)
        let b = Matrix<Double>.randomNormal(6, 3, using: &g)
        let c0 = Matrix<Double>.randomNormal(4, 3, using: &g)
        var c = c0
        gemm(a, b, into: &c, alpha: 2, beta: -0.5)
        let want = naiveProduct(a, b, false, false) * 2 + c0 * -0.5
        #expect(c.isApproximatelyEqual(to: want, tolerance: 1e-12))
        // gemv path: one column, with and without transposing A.
        let x = Matrix<Double>.randomNormal(6, 1, using: &g)
        #expect(matmul(a, x).isApproximatelyEqual(to: naiveProduct(a, x, false, false), tolerance: 1e-12))
        let y = Matrix<Double>.randomNormal(4, 1, using: &g)
        #expect(
            matmul(a, y, transposeA: true).isApproximatelyEqual(to: naiveProduct(a, y, true, false), tolerance: 1e-12))
    }

    @Test func structureOperations() throws {
        let m = try Matrix<Double>(rowMajor: [[1, 2, 3], [4, 5, 6]])
        #expect(m.rows == 2 && m.cols == 3)
        #expect(m.storage == [1, 4, 2, 5, 3, 6])  // column-major
        #expect(m.transposed.rowMajorArrays == [[1, 4], [2, 5], [3, 6]])
        #expect(naiveTranspose(m) == m.transposed)
        #expect(m.columns(1..<3).rowMajorArrays == [[2, 3], [5, 6]])
        #expect(m.rows(1..<2).rowMajorArrays == [[4, 5, 6]])
        #expect(m.columns(at: [2, 0]).rowMajorArrays == [[3, 1], [6, 4]])
        #expect(Matrix.vcat([m, m.row(0)]).rowMajorArrays == [[1, 2, 3], [4, 5, 6], [1, 2, 3]])
        #expect(Matrix.hcat([m, m.column(0)]).rowMajorArrays == [[1, 2, 3, 1], [4, 5, 6, 4]])
        #expect(m.infinityNorm == 15)
        #expect(abs(m.frobeniusNorm - (91.0).squareRoot()) < 1e-12)
        #expect(m.maxAbs == 6)
        #expect(m.sum() == 21 && m.mean() == 3.5)
        #expect(m.rowSums().storage == [6, 15])
        #expect(m.columnSums().storage == [5, 7, 9])
        #expect(try Matrix<Double>(rowMajor: [[1, 9], [3, 2], [3, 0]]).argmaxPerColumn() == [1, 0])
        #expect(m.addingColumn(Matrix(column: [10, 20])).rowMajorArrays == [[11, 12, 13], [24, 25, 26]])
        let big = Matrix<Double>(rows: 70, cols: 45) { i, j in Double(i * 100 + j) }
        #expect(big.transposed == naiveTranspose(big))
        let sq = try Matrix<Double>(rowMajor: [[1, 2, 3], [4, 5, 6], [7, 8, 9]])
        #expect(sq.strictlyUpperTriangular.rowMajorArrays == [[0, 2, 3], [0, 0, 6], [0, 0, 0]])
    }

    @Test func badShapesThrowClearErrors() {
        #expect(throws: IDLError.self) { try Matrix<Double>(rows: 2, cols: 3, storage: [1, 2, 3]) }
        #expect(throws: IDLError.self) { try Matrix<Double>(rowMajor: [[1, 2], [3]]) }
        let a = Matrix<Double>.ones(3, 2)
        #expect(throws: IDLError.self) { try a.leastSquares(Matrix.ones(4, 1)) }
        #expect(throws: IDLError.self) { try a.solve(Matrix.ones(3, 1)) }
        #expect(throws: IDLError.self) { try a.reshaped(rows: 4, cols: 2) }
        do {
            _ = try Matrix<Double>(rows: 2, cols: 3, storage: [1, 2, 3])
        } catch {
            #expect("\(error)".contains("needs 6 entries, but 3 were given"))
        }
    }

    @Test func leastSquaresOverDetermined() throws {
        // A consistent tall system with a known solution, plus a noisy one against the normal equations.
        var g = SeededGenerator(seed: 11)
        let a = Matrix<Double>.randomNormal(20, 4, using: &g)
        let xTrue = try Matrix<Double>(rowMajor: [[1, -2], [0.5, 3], [-1, 0], [2, 1]])
        let (x, rank) = try a.leastSquares(matmul(a, xTrue))
        #expect(rank == 4)
        #expect(x.isApproximatelyEqual(to: xTrue, tolerance: 1e-10))
        let b = Matrix<Double>.randomNormal(20, 1, using: &g)
        let (xb, _) = try a.leastSquares(b)
        let residual = matmul(a, xb) - b
        // Optimality: Aᵀ(Ax − b) = 0.
        #expect(matmul(a, residual, transposeA: true).maxAbs < 1e-10)
    }

    @Test func leastSquaresUnderDeterminedGivesMinimumNorm() throws {
        // x1 + x2 = 2 has minimum-norm solution (1, 1).
        let a = try Matrix<Double>(rowMajor: [[1, 1]])
        let (x, rank) = try a.leastSquares(Matrix(column: [2]))
        #expect(rank == 1)
        #expect(x.isApproximatelyEqual(to: Matrix(column: [1, 1]), tolerance: 1e-12))
        // Rank-deficient tall system: duplicate columns.
        let d = try Matrix<Float>(rowMajor: [[1, 1], [2, 2], [3, 3]])
        let (y, r2) = try d.leastSquares(Matrix(column: [2, 4, 6]))
        #expect(r2 == 1)
        #expect(abs(y[0, 0] - 1) < 1e-5 && abs(y[1, 0] - 1) < 1e-5)
    }

    @Test func solveCholeskyAndEigen() throws {
        var g = SeededGenerator(seed: 5)
        let m = Matrix<Double>.randomNormal(6, 6, using: &g)
        let spd = matmul(m, m, transposeB: true) + Matrix.identity(6)
        let b = Matrix<Double>.randomNormal(6, 2, using: &g)
        let x1 = try spd.solve(b)
        let x2 = try spd.choleskySolve(b)
        #expect(matmul(spd, x1).isApproximatelyEqual(to: b, tolerance: 1e-10))
        #expect(x1.isApproximatelyEqual(to: x2, tolerance: 1e-10))
        let (values, vectors) = try spd.symmetricEigen()
        let v = try #require(vectors)
        // A V = V Λ, ascending eigenvalues, all ≥ 1.
        #expect(matmul(spd, v).isApproximatelyEqual(to: matmul(v, Matrix.diagonal(values)), tolerance: 1e-10))
        #expect(values == values.sorted() && values[0] >= 1 - 1e-10)
        #expect(throws: IDLError.self) {
            try Matrix<Double>(rowMajor: [[1, 2], [2, 4]]).solve(Matrix(column: [1, 1]))
        }
        #expect(throws: IDLError.self) {
            try Matrix<Double>(rowMajor: [[1, 0], [0, -1]]).choleskySolve(Matrix(column: [1, 1]))
        }
    }

    @Test func seededGeneratorIsDeterministic() {
        var a = SeededGenerator(seed: 42)
        var b = SeededGenerator(seed: 42)
        var c = SeededGenerator(seed: 43)
        let xa = (0..<5).map { _ in a.next() }
        #expect(xa == (0..<5).map { _ in b.next() })
        #expect(xa != (0..<5).map { _ in c.next() })
        var g = SeededGenerator(seed: 1)
        let n = 20000
        let draws = (0..<n).map { _ in g.normal() }
        let mean = draws.reduce(0, +) / Double(n)
        let variance = draws.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n)
        #expect(abs(mean) < 0.03 && abs(variance - 1) < 0.05)
        let u = (0..<n).map { _ in g.uniform() }
        #expect(u.allSatisfy { $0 >= 0 && $0 < 1 })
        #expect(g.permutation(10).sorted() == Array(0..<10))
        let s = g.sample(5, from: 8)
        #expect(Set(s).count == 5 && s.allSatisfy { $0 < 8 })
    }

    @Test func formattingOfScalars() {
        #expect(formatScalar(0.001) == "0.001")
        #expect(formatScalar(1.5e-7) == "1.5e-07")
        #expect(formatScalar(-2.25) == "-2.25")
        #expect(formatFixed(82.456, decimals: 1) == "82.5")
        #expect(formatFixed(-0.04, decimals: 1) == "0.0")
    }
}
