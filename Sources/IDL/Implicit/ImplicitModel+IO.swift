import Foundation

/// Options that a torchidl `state_dict` does not record and a loader therefore needs from the
/// user (or from the metadata of a file this library wrote).
public struct ImplicitModelLoadOptions: Sendable {
    /// κ of the well-posedness constraint (torchidl's default 0.99).
    public var kappa: Double?
    /// The activation (ReLU unless the file says otherwise).
    public var activation: (any Activation)?
    /// Whether the model appends a constant-one input row (torchidl's `bias=True`).
    public var bias: Bool?
    /// The well-posedness rule (∞-norm scaling unless the file says otherwise).
    public var wellPosedness: WellPosedness?

    /// Options for a loader: a value overrides the file's metadata; `nil` takes the metadata, or
    /// else torchidl's default.
    ///
    /// - Parameters:
    ///   - kappa: κ of the well-posedness constraint.
    ///   - activation: The activation φ.
    ///   - bias: Whether the model appends a constant-one input row.
    ///   - wellPosedness: The well-posedness rule.
    public init(
        kappa: Double? = nil, activation: (any Activation)? = nil, bias: Bool? = nil,
        wellPosedness: WellPosedness? = nil
    ) {
        self.kappa = kappa
        self.activation = activation
        self.bias = bias
        self.wellPosedness = wellPosedness
    }
}

extension ImplicitModel {
    /// The value of the `format` metadata key in files this library writes.
    public static var fileFormat: String { "idl-implicit-model/1" }

    /// Writes the parameters and the configuration to a `.safetensors` file, atomically.
    ///
    /// Tensor names are torchidl's (`A` or `L`, `R`, then `B`, `C`, `D`), each stored with
    /// PyTorch's shape and row-major order, so `safetensors.torch.load_file` and
    /// `model.load_state_dict` read it back in Python. The configuration (dimensions, κ, bias,
    /// well-posedness, activation, solver settings) goes into `__metadata__`.
    ///
    /// - Parameter url: The file to write (replaced if it exists).
    /// - Throws: ``IDLError/io(_:)`` if the file cannot be written.
    public func save(to url: URL) throws {
        var file = SafeTensors()
        if let A { file.setMatrix("A", A.value) }
        if let L, let R {
            file.setMatrix("L", L.value)
            file.setMatrix("R", R.value)
        }
        file.setMatrix("B", B.value)
        file.setMatrix("C", C.value)
        if let D { file.setMatrix("D", D.value) }
        file.metadata = [
            "format": Self.fileFormat,
            "dtype": Scalar.typeName,
            "input_dim": String(inputDim),
            "output_dim": String(outputDim),
            "hidden_dim": String(hiddenDim),
            "bias": String(bias),
            "no_D": String(D == nil),
            "kappa": String(kappa),
            "wellposedness": wellPosedness.rawValue,
            "activation": activationSpecification(activation),
            "mitr": String(forwardSettings.maxIterations),
            "tol": String(forwardSettings.tolerance),
            "grad_mitr": String(backwardSettings.maxIterations),
            "grad_tol": String(backwardSettings.tolerance),
        ]
        if let rank { file.metadata["rank"] = String(rank) }
        try file.write(to: url)
    }

    /// Reads a model from a `.safetensors` file written by ``save(to:)`` or by a torchidl user
    /// (`safetensors.torch.save_file(model.state_dict(), path)`).
    ///
    /// Metadata in the file wins over nothing; `options` win over the metadata. For a torchidl
    /// state_dict without metadata, give what it does not record: κ (default 0.99), the
    /// activation (default ReLU), and `bias` if the model was built with `bias=True` (then B and
    /// D have one more column than the input has features).
    /// - Throws: ``IDLError/io(_:)`` for a missing or corrupt file or missing tensors,
    ///   ``IDLError/shapeMismatch(_:)`` when the tensors do not fit together.
    public static func load(
        from url: URL, options: ImplicitModelLoadOptions = .init(),
        solver: any FixedPointSolver = Picard()
    ) throws -> ImplicitModel {
        try load(stateDict: try SafeTensors(contentsOf: url), source: url.path, options: options, solver: solver)
    }

    /// Builds a model from tensors already read (see ``load(from:options:solver:)``), e.g. a
    /// `.safetensors` file parsed from memory with ``SafeTensors/init(safetensorsData:source:)``.
    /// - Parameters:
    ///   - file: the tensors and metadata.
    ///   - source: a name for error messages.
    ///   - options: settings the file does not record; they win over its metadata.
    ///   - solver: the forward fixed-point solver.
    /// - Throws: as ``load(from:options:solver:)``.
    public static func load(
        stateDict file: SafeTensors, source: String = "state_dict", options: ImplicitModelLoadOptions = .init(),
        solver: any FixedPointSolver = Picard()
    ) throws -> ImplicitModel {
        let meta = file.metadata
        let has = Set(file.names)
        func matrix(_ name: String) throws -> Matrix<Scalar> {
            guard has.contains(name) else {
                throw IDLError.io(
                    "\(source) has no tensor '\(name)'; an implicit model needs A (or L and R), B, C and optionally D, found \(file.names)"
                )
            }
            let shape = try file.tensor(name).shape
            guard shape.count == 2 else {
                throw IDLError.shapeMismatch(
                    "\(source): tensor '\(name)' has shape \(shape); every tensor of an implicit model is 2-D (rows, columns)"
                )
            }
            return try nonEmpty(file.matrix(name, as: Scalar.self), name, source: source)
        }
        // Metadata must parse when present: a value that does not is an error, not a default.
        func number<N: LosslessStringConvertible>(_ key: String, _: N.Type) throws -> N? {
            guard let text = meta[key] else { return nil }
            guard let value = N(text) else {
                throw IDLError.io("\(source): metadata '\(key)' is '\(text)', not a number; the file is corrupt")
            }
            return value
        }
        func flag(_ key: String) throws -> Bool? {
            guard let text = meta[key] else { return nil }
            guard text == "true" || text == "false" else {
                throw IDLError.io(
                    "\(source): metadata '\(key)' is '\(text)', expected true or false; the file is corrupt")
            }
            return text == "true"
        }
        if let format = meta["format"], format.hasPrefix("idl-implicit-model/") {
            let version = Int(format.dropFirst("idl-implicit-model/".count))
            guard version == 1 else {
                throw IDLError.unsupported(
                    "\(source): the file's format is '\(format)', but this version of the library reads \(fileFormat); update the library (or save the model again with this one)"
                )
            }
        }
        let lowRank = has.contains("L") && has.contains("R")
        let a = lowRank ? nil : try matrix("A")
        let l = lowRank ? try matrix("L") : nil
        let r = lowRank ? try matrix("R") : nil
        let d = has.contains("D") ? try matrix("D") : nil
        let kappa = try options.kappa ?? number("kappa", Double.self) ?? 0.99
        let bias = try options.bias ?? flag("bias") ?? false
        let activation = try options.activation ?? meta["activation"].map { try IDL.activation(named: $0) } ?? ReLU()
        let wp =
            try options.wellPosedness ?? meta["wellposedness"].map { name in
                guard let w = WellPosedness(rawValue: name) else {
                    throw IDLError.io(
                        "\(source): unknown well-posedness '\(name)' in the metadata; expected one of \(WellPosedness.allCases.map(\.rawValue))"
                    )
                }
                return w
            } ?? .infinityNorm
        let model = try ImplicitModel(
            A: a, L: l, R: r, B: try matrix("B"), C: try matrix("C"), D: d,
            bias: bias, kappa: kappa, wellPosedness: wp, activation: activation, solver: solver,
            maxIterations: try number("mitr", Int.self) ?? 300, tolerance: try number("tol", Double.self) ?? 3e-6,
            gradMaxIterations: try number("grad_mitr", Int.self) ?? 300,
            gradTolerance: try number("grad_tol", Double.self) ?? 3e-6)
        // What the metadata says about the shapes must be what the tensors are.
        let recorded: [(key: String, value: Int?, actual: Int)] = [
            ("hidden_dim", try number("hidden_dim", Int.self), model.hiddenDim),
            ("input_dim", try number("input_dim", Int.self), model.inputDim),
            ("output_dim", try number("output_dim", Int.self), model.outputDim),
            ("rank", try number("rank", Int.self), model.rank ?? 0),
        ]
        for (key, value, actual) in recorded where value != nil && value != actual {
            throw IDLError.io(
                "\(source): metadata '\(key)' is \(value!) but the tensors give \(actual); the file was edited or is corrupt"
            )
        }
        if meta["rank"] == nil && lowRank && meta["format"] != nil && meta["hidden_dim"] != nil {
            throw IDLError.io(
                "\(source): the tensors are low-rank (L, R) but the metadata records no rank; the file is corrupt")
        }
        if let noD = try flag("no_D"), noD != (d == nil) {
            throw IDLError.io(
                "\(source): metadata 'no_D' is \(noD) but the file \(d == nil ? "has no" : "has a") tensor D; the file was edited or is corrupt"
            )
        }
        return model
    }

    /// `m` if it has at least one row and one column: a model needs a hidden unit, an input
    /// and an output, and an empty tensor with a huge other side (shape (0, 2⁴⁰) holds no bytes)
    /// would otherwise build a model that cannot be run.
    static func nonEmpty(_ m: Matrix<Scalar>, _ name: String, source: String) throws -> Matrix<Scalar> {
        guard m.rows >= 1 && m.cols >= 1 else {
            throw IDLError.shapeMismatch(
                "\(source): tensor '\(name)' is empty (\(m.shapeDescription)); every tensor of a model needs at least one row and one column"
            )
        }
        return m
    }
}
