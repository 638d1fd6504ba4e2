import Foundation

// Explicit feedforward networks from a PyTorch state_dict saved as .safetensors.

extension Sequential {
    /// The feedforward network stored in a PyTorch `state_dict` of `nn.Linear` layers: what
    /// `safetensors.torch.save_file(model.state_dict(), path)` writes for an `nn.Sequential` of
    /// `Linear` layers and activations, or for any module whose only parameters are `Linear`
    /// weights and biases.
    ///
    /// **Layers.** Every tensor name must end in `.weight` or `.bias`; what comes before is the
    /// layer's key prefix, and any prefix works (`0.weight`, `linear_relu_stack.4.weight`,
    /// `model.fc1.weight`). Layers are taken in the natural order of their prefixes — numbers
    /// compare as numbers, so `…stack.10` comes after `…stack.2` and `fc10` after `fc2` — and
    /// consecutive layers must chain (each layer's input width is the previous one's output
    /// width). A weight is stored as `nn.Linear` stores it, out × in; a bias (optional, per
    /// layer) is a vector of length out.
    ///
    /// **Activation.** PyTorch's state_dict does not record activations (they have no
    /// parameters), so the caller names one: it is placed after every layer but the last,
    /// giving Linear, φ, Linear, φ, …, Linear — the network's logits come out of the last layer.
    ///
    /// - Parameters:
    ///   - stateDict: The tensors (floating point of any precision the format holds).
    ///   - activation: φ between the layers (one for all hidden layers).
    /// - Throws: ``IDLError/invalidArgument(_:)`` naming the tensor for a name that does not end
    ///   in `.weight` or `.bias`, a bias without its weight, a non-floating-point tensor, or an
    ///   empty file; ``IDLError/shapeMismatch(_:)`` naming the tensor for a weight that is not
    ///   2-D, a bias that is not a vector of the weight's output width, or two consecutive
    ///   layers that do not chain; ``IDLError/nonFinite(_:)`` naming the tensor for NaN or ±∞
    ///   weights.
    public convenience init(torchStateDict stateDict: SafeTensors, activation: any Activation) throws {
        var weights: [String: SafeTensors.Tensor] = [:]
        var biases: [String: SafeTensors.Tensor] = [:]
        for name in stateDict.names {
            let tensor = stateDict.tensors[name]!
            guard tensor.dtype.isFloatingPoint else {
                throw IDLError.invalidArgument(
                    "tensor '\(name)' is \(tensor.dtype), but an nn.Linear weight or bias is floating point")
            }
            if name.hasSuffix(".weight") || name == "weight" {
                weights[String(name.dropLast("weight".count)).droppingTrailingDot] = tensor
            } else if name.hasSuffix(".bias") || name == "bias" {
                biases[String(name.dropLast("bias".count)).droppingTrailingDot] = tensor
            } else {
                throw IDLError.invalidArgument(
                    "tensor '\(name)' is not an nn.Linear weight or bias (names must end in .weight or .bias); only networks of Linear layers and parameter-free activations can be loaded"
                )
            }
        }
        for prefix in biases.keys.sorted() where weights[prefix] == nil {
            throw IDLError.invalidArgument(
                "tensor '\(Self.key(prefix, "bias"))' has no weight '\(Self.key(prefix, "weight"))' beside it")
        }
        guard !weights.isEmpty else {
            throw IDLError.invalidArgument("the state_dict holds no tensor; expected nn.Linear weights (out × in)")
        }
        let prefixes = weights.keys.sorted(by: naturalOrder)
        var layers = [any Layer<Scalar>]()
        var previous: (key: String, width: Int)? = nil
        for (k, prefix) in prefixes.enumerated() {
            let weightKey = Self.key(prefix, "weight")
            let w = weights[prefix]!
            guard w.shape.count == 2, w.shape[0] > 0, w.shape[1] > 0 else {
                throw IDLError.shapeMismatch(
                    "tensor '\(weightKey)' has shape \(w.shape); an nn.Linear weight is 2-D, (out, in)")
            }
            if let previous, previous.width != w.shape[1] {
                throw IDLError.shapeMismatch(
                    "tensor '\(weightKey)' has shape \(w.shape), so its layer takes \(w.shape[1]) inputs, but the layer before it, '\(previous.key)', gives \(previous.width) outputs (layers are taken in the order \(prefixes.map { Self.key($0, "weight") }.joined(separator: ", ")))"
                )
            }
            let weight = w.matrix(as: Scalar.self)
            var bias: Matrix<Scalar>? = nil
            if let b = biases[prefix] {
                let biasKey = Self.key(prefix, "bias")
                guard b.shape == [w.shape[0]] else {
                    throw IDLError.shapeMismatch(
                        "tensor '\(biasKey)' has shape \(b.shape), but its weight '\(weightKey)' has \(w.shape[0]) outputs, so the bias must have shape [\(w.shape[0])]"
                    )
                }
                bias = b.matrix(as: Scalar.self)
                guard bias!.isFinite else {
                    throw IDLError.nonFinite("tensor '\(biasKey)' holds NaN or infinite values")
                }
            }
            guard weight.isFinite else {
                throw IDLError.nonFinite("tensor '\(weightKey)' holds NaN or infinite values")
            }
            layers.append(try Linear(weight: weight, bias: bias))
            if k < prefixes.count - 1 { layers.append(ActivationLayer<Scalar>(activation)) }
            previous = (weightKey, w.shape[0])
        }
        self.init(layers)
    }

    /// The feedforward network of a `.safetensors` PyTorch state_dict file; see
    /// ``init(torchStateDict:activation:)``.
    ///
    /// - Parameters:
    ///   - url: The file, as `safetensors.torch.save_file(model.state_dict(), path)` writes it.
    ///   - activation: φ between the layers.
    /// - Throws: ``IDLError/io(_:)`` for a missing or corrupt file, and the errors of
    ///   ``init(torchStateDict:activation:)`` (their messages start with the file's path).
    public convenience init(torchStateDictAt url: URL, activation: any Activation) throws {
        let file = try SafeTensors(contentsOf: url)
        do {
            try self.init(torchStateDict: file, activation: activation)
        } catch let error as IDLError {
            throw error.prefixed("\(url.path): ")
        }
    }

    private static func key(_ prefix: String, _ suffix: String) -> String {
        prefix.isEmpty ? suffix : prefix + "." + suffix
    }

    /// Whether `file` looks like a state_dict of `nn.Linear` layers (every tensor name ends in
    /// `.weight` or `.bias` and there is at least one weight), as opposed to an implicit
    /// model's A, B, C, D.
    ///
    /// - Parameter file: The tensors of a `.safetensors` file.
    /// - Returns: True when ``init(torchStateDict:activation:)`` should be tried on it.
    public static func isTorchStateDict(_ file: SafeTensors) -> Bool {
        let names = file.names
        return names.contains { $0.hasSuffix(".weight") || $0 == "weight" }
            && names.allSatisfy { $0.hasSuffix(".weight") || $0.hasSuffix(".bias") || $0 == "weight" || $0 == "bias" }
    }
}

extension IDLError {
    /// The same error with `prefix` put before its message (e.g. the file it concerns).
    fileprivate func prefixed(_ prefix: String) -> IDLError {
        switch self {
        case .shapeMismatch(let m): return .shapeMismatch(prefix + m)
        case .invalidArgument(let m): return .invalidArgument(prefix + m)
        case .nonFinite(let m): return .nonFinite(prefix + m)
        case .io(let m): return .io(prefix + m)
        case .unsupported(let m): return .unsupported(prefix + m)
        case .numerical(let m): return .numerical(prefix + m)
        }
    }
}

extension String {
    fileprivate var droppingTrailingDot: String { hasSuffix(".") ? String(dropLast()) : self }
}

/// Natural order of key prefixes: dot-separated components compared one by one, runs of
/// digits as numbers (`stack.2` < `stack.10`, `fc2` < `fc10`), everything else as text.
func naturalOrder(_ a: String, _ b: String) -> Bool {
    func chunks(_ s: String) -> [(isNumber: Bool, text: String)] {
        var out: [(Bool, String)] = []
        for ch in s {
            let digit = ch.isASCII && ch.isNumber
            if let last = out.last, last.0 == digit {
                out[out.count - 1].1.append(ch)
            } else {
                out.append((digit, String(ch)))
            }
        }
        return out
    }
    let x = chunks(a)
    let y = chunks(b)
    for (p, q) in zip(x, y) where p.text != q.text {
        if p.isNumber && q.isNumber {
            let (u, v) = (p.text.drop { $0 == "0" }, q.text.drop { $0 == "0" })
            if u.count != v.count { return u.count < v.count }
            if u != v { return u < v }
            return p.text.count < q.text.count
        }
        return p.text < q.text
    }
    return x.count < y.count
}
