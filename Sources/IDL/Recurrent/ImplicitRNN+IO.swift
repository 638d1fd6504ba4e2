import Foundation

extension ImplicitRNN {
    /// Whether a `.safetensors` file holds an ImplicitRNN state_dict (torchidl's names
    /// `recurrent.layer.*` and `linear.*`).
    public static func isStateDict(_ file: SafeTensors) -> Bool {
        file.tensors["recurrent.layer.B"] != nil && file.tensors["linear.weight"] != nil
    }

    /// Reads an ImplicitRNN saved by a torchidl user with
    /// `safetensors.torch.save_file(model.state_dict(), path)`: `recurrent.layer.A` (or `.L`, `.R`),
    /// `.B` (n×(p+h)), `.C` (h×n), `.D`, `linear.weight` (q×h), `linear.bias` (q). The input dimension
    /// is p = columns of B − h. The options a state_dict does not record (κ, activation,
    /// well-posedness) come from `options` (torchidl's defaults otherwise).
    /// - Throws: ``IDLError/io(_:)`` for missing tensors, the shape errors of the layers.
    public static func load(
        from url: URL, options: ImplicitModelLoadOptions = .init(),
        solver: any FixedPointSolver = Picard()
    ) throws -> ImplicitRNN {
        try load(stateDict: try SafeTensors(contentsOf: url), source: url.path, options: options, solver: solver)
    }

    /// Builds an ImplicitRNN from tensors already read (see ``load(from:options:solver:)``),
    /// e.g. a `.safetensors` file parsed from memory with ``SafeTensors/init(safetensorsData:source:)``.
    /// - Parameters:
    ///   - file: the state_dict tensors.
    ///   - source: a name for error messages.
    ///   - options: κ, activation and well-posedness, which a state_dict does not record.
    ///   - solver: the forward fixed-point solver.
    /// - Throws: as ``load(from:options:solver:)``.
    public static func load(
        stateDict file: SafeTensors, source: String = "state_dict", options: ImplicitModelLoadOptions = .init(),
        solver: any FixedPointSolver = Picard()
    ) throws -> ImplicitRNN {
        func matrix(_ name: String) throws -> Matrix<Scalar> {
            guard file.tensors[name] != nil else {
                throw IDLError.io(
                    "\(source) has no tensor '\(name)'; an ImplicitRNN state_dict holds recurrent.layer.A (or .L, .R), .B, .C, .D, linear.weight and linear.bias, found \(file.names)"
                )
            }
            return try ImplicitModel<Scalar>.nonEmpty(file.matrix(name, as: Scalar.self), name, source: source)
        }
        let lowRank = file.tensors["recurrent.layer.L"] != nil
        let b = try matrix("recurrent.layer.B")
        let c = try matrix("recurrent.layer.C")
        let layer = try ImplicitModel<Scalar>(
            A: lowRank ? nil : try matrix("recurrent.layer.A"),
            L: lowRank ? try matrix("recurrent.layer.L") : nil, R: lowRank ? try matrix("recurrent.layer.R") : nil,
            B: b, C: c, D: file.tensors["recurrent.layer.D"] == nil ? nil : try matrix("recurrent.layer.D"),
            kappa: options.kappa ?? 0.99, wellPosedness: options.wellPosedness ?? .infinityNorm,
            activation: options.activation ?? ReLU(), solver: solver)
        let inputDim = b.cols - c.rows
        guard inputDim >= 1 else {
            throw IDLError.shapeMismatch(
                "recurrent.layer.B has \(b.cols) columns but the state has \(c.rows) entries: no room for the input")
        }
        let bias = file.tensors["linear.bias"] == nil ? nil : try matrix("linear.bias")
        return try ImplicitRNN(
            recurrent: ImplicitRNNCell(layer: layer, inputDim: inputDim),
            linear: Linear(weight: try matrix("linear.weight"), bias: bias))
    }
}
