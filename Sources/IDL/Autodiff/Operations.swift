// The differentiable operations. Each one computes its value and, right beside it, the rule
// that turns ∂L/∂output (`g`) into the gradients of its inputs.

// MARK: - Products

/// op(A)·op(B) (op = identity or transpose).
///
/// Backward, with C = op(A) op(B): ∂L/∂op(A) = g op(B)ᵀ and ∂L/∂op(B) = op(A)ᵀ g.
public func matmul<T>(_ a: Tensor<T>, _ b: Tensor<T>, transposeA: Bool = false, transposeB: Bool = false) -> Tensor<T> {
    let value = matmul(a.value, b.value, transposeA: transposeA, transposeB: transposeB)
    return Tensor(value: value, inputs: [a, b]) { g in
        if a.requiresGrad {
            let ga =
                transposeA
                ? matmul(b.value, g, transposeA: transposeB, transposeB: true)  // op(B) gᵀ
                : matmul(g, b.value, transposeB: !transposeB)  // g op(B)ᵀ
            a.accumulateGradient(ga)
        }
        if b.requiresGrad {
            let gb =
                transposeB
                ? matmul(g, a.value, transposeA: true, transposeB: transposeA)  // gᵀ op(A)
                : matmul(a.value, g, transposeA: !transposeA)  // op(A)ᵀ g
            b.accumulateGradient(gb)
        }
    }
}

// MARK: - Elementwise arithmetic

/// Sums the columns of `g` when the operand was a column broadcast over them (bias vectors).
@usableFromInline
func reduceBroadcast<T>(_ g: Matrix<T>, to operand: Matrix<T>) -> Matrix<T> {
    if operand.cols == g.cols { return g }
    return g.rowSums()
}

@usableFromInline
func checkBroadcast<T>(_ a: Matrix<T>, _ b: Matrix<T>, _ op: String) {
    precondition(
        a.rows == b.rows && (a.cols == b.cols || b.cols == 1),
        "\(op): shapes \(a.shapeDescription) and \(b.shapeDescription) do not match (the second may also be a \(a.rows)×1 column broadcast over columns)"
    )
}

/// a + b, where b may be a column (rows×1) added to every column of a (a bias).
public func + <T>(a: Tensor<T>, b: Tensor<T>) -> Tensor<T> {
    checkBroadcast(a.value, b.value, "add")
    let value = b.value.cols == a.value.cols ? a.value + b.value : a.value.addingColumn(b.value)
    return Tensor(value: value, inputs: [a, b]) { g in
        a.accumulateGradient(g)
        if b.requiresGrad { b.accumulateGradient(reduceBroadcast(g, to: b.value)) }
    }
}

/// a − b, where b may be a column broadcast over the columns of a.
public func - <T>(a: Tensor<T>, b: Tensor<T>) -> Tensor<T> {
    checkBroadcast(a.value, b.value, "subtract")
    let value = b.value.cols == a.value.cols ? a.value - b.value : a.value.addingColumn(-b.value)
    return Tensor(value: value, inputs: [a, b]) { g in
        a.accumulateGradient(g)
        if b.requiresGrad { b.accumulateGradient(-reduceBroadcast(g, to: b.value)) }
    }
}

/// Elementwise product a ∘ b (b may be a broadcast column).
public func * <T>(a: Tensor<T>, b: Tensor<T>) -> Tensor<T> {
    checkBroadcast(a.value, b.value, "multiply")
    let bFull = b.value.cols == a.value.cols ? b.value : matmul(b.value, Matrix<T>.ones(1, a.value.cols))
    return Tensor(value: a.value * bFull, inputs: [a, b]) { g in
        if a.requiresGrad { a.accumulateGradient(g * bFull) }
        if b.requiresGrad { b.accumulateGradient(reduceBroadcast(g * a.value, to: b.value)) }
    }
}

/// s·a for a scalar s.
public func * <T>(a: Tensor<T>, s: T) -> Tensor<T> {
    Tensor(value: a.value * s, inputs: [a]) { g in a.accumulateGradient(g * s) }
}

/// s·a for a scalar s.
public func * <T>(s: T, a: Tensor<T>) -> Tensor<T> { a * s }

/// −a.
public prefix func - <T>(a: Tensor<T>) -> Tensor<T> { a * T(-1) }

extension Tensor {
    /// The transpose.
    public var transposed: Tensor {
        Tensor(value: value.transposed, inputs: [self]) { g in
            self.accumulateGradient(g.transposed)
        }
    }

    /// self · other.
    public func matmul(_ other: Tensor) -> Tensor { IDL.matmul(self, other) }
}

// MARK: - Activations

/// φ(x) entrywise; backward multiplies by φ′(x).
public func activate<T>(_ x: Tensor<T>, _ phi: any Activation) -> Tensor<T> {
    let y = phi.apply(x.value)
    return Tensor(value: y, inputs: [x]) { g in
        x.accumulateGradient(g * phi.derivative(x.value))
    }
}

/// max(x, 0).
public func relu<T>(_ x: Tensor<T>) -> Tensor<T> { activate(x, ReLU()) }
/// x if x > 0 else slope·x.
public func leakyRelu<T>(_ x: Tensor<T>, slope: Double = 0.01) -> Tensor<T> { activate(x, LeakyReLU(slope: slope)) }
/// tanh(x).
public func tanh<T>(_ x: Tensor<T>) -> Tensor<T> { activate(x, Tanh()) }
/// σ(x) = 1/(1 + e^(−x)).
public func sigmoid<T>(_ x: Tensor<T>) -> Tensor<T> { activate(x, Sigmoid()) }
/// x·σ(x).
public func silu<T>(_ x: Tensor<T>) -> Tensor<T> { activate(x, SiLU()) }
/// log(1 + eˣ).
public func softplus<T>(_ x: Tensor<T>) -> Tensor<T> { activate(x, Softplus()) }

// MARK: - Slicing, concatenation, reshaping

extension Tensor {
    /// Rows `range` (e.g. the state part of a concatenated input).
    public func rows(_ range: Range<Int>) -> Tensor {
        let full = value.shape
        return Tensor(value: value.rows(range), inputs: [self]) { g in
            var gx = Matrix<T>(rows: full.rows, cols: full.cols)
            gx.setRows(range.lowerBound, to: g)
            self.accumulateGradient(gx)
        }
    }

    /// Columns `range` (a sub-batch).
    public func columns(_ range: Range<Int>) -> Tensor {
        let full = value.shape
        return Tensor(value: value.columns(range), inputs: [self]) { g in
            var gx = Matrix<T>(rows: full.rows, cols: full.cols)
            gx.setColumns(range.lowerBound, to: g)
            self.accumulateGradient(gx)
        }
    }

    /// The same entries (column-major order) with another shape; backward reshapes back.
    /// - Throws: ``IDLError/shapeMismatch(_:)`` when the sizes differ.
    public func reshaped(rows r: Int, cols c: Int) throws -> Tensor {
        let (r0, c0) = value.shape
        return Tensor(value: try value.reshaped(rows: r, cols: c), inputs: [self]) { g in
            self.accumulateGradient(try! g.reshaped(rows: r0, cols: c0))
        }
    }

    /// Sum of all entries, as a 1×1 tensor.
    public func sum() -> Tensor {
        let (r, c) = value.shape
        return Tensor(value: Matrix(rows: 1, cols: 1, repeating: value.sum()), inputs: [self]) { g in
            self.accumulateGradient(Matrix(rows: r, cols: c, repeating: g[0, 0]))
        }
    }

    /// Mean of all entries, as a 1×1 tensor.
    public func mean() -> Tensor {
        let (r, c) = value.shape
        let n = T(Swift.max(1, r * c))
        return Tensor(value: Matrix(rows: 1, cols: 1, repeating: value.sum() / n), inputs: [self]) { g in
            self.accumulateGradient(Matrix(rows: r, cols: c, repeating: g[0, 0] / n))
        }
    }
}

/// Stacks tensors vertically ([x; h]: the RNN's concatenation of input and state).
public func vcat<T>(_ parts: [Tensor<T>]) -> Tensor<T> {
    let value = Matrix.vcat(parts.map(\.value))
    return Tensor(value: value, inputs: parts) { g in
        var start = 0
        for p in parts {
            let r = p.value.rows
            if p.requiresGrad { p.accumulateGradient(g.rows(start..<(start + r))) }
            start += r
        }
    }
}

/// Places tensors side by side (concatenating batches).
public func hcat<T>(_ parts: [Tensor<T>]) -> Tensor<T> {
    let value = Matrix.hcat(parts.map(\.value))
    return Tensor(value: value, inputs: parts) { g in
        var start = 0
        for p in parts {
            let c = p.value.cols
            if p.requiresGrad { p.accumulateGradient(g.columns(start..<(start + c))) }
            start += c
        }
    }
}
