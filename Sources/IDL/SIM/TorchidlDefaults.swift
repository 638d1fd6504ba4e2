// torchidl's solver defaults, one word away.

extension SIMExactSolver {
    /// The defaults of torchidl's `CVXSolver()`, which poses the same row problems: λ = 1e-6
    /// for both stages (`lambda_z`, `lambda_y`), no elastic net, ‖A‖∞ ≤ 0.99 (`well_pose=True`,
    /// `kappa=0.99`), no state regeneration, weights with |w| < 1e-6 set to zero (`tol`); the
    /// rows are solved to a relative duality gap of 1e-6.
    ///
    /// Our tuned values for FashionMNIST teachers (the `idl sim` defaults) are λ = 35 for (A, B),
    /// 1 for (C, D), λ₂ = 2, zero threshold 1e-8, gap tolerance 1e-4: λ = 1e-6 keeps almost
    /// every weight (a near least-squares fit).
    public static var torchidlDefaults: SIMExactSolver {
        SIMExactSolver(
            lambdaState: 1e-6, lambdaOutput: 1e-6, lambda2: 0, wellPosedness: .infinityNorm(kappa: 0.99),
            tolerance: 1e-6, zeroThreshold: 1e-6, regenerateStates: false)
    }
}

extension SIMADMMSolver {
    /// The defaults of torchidl's `ADMMSolver()`: λ = 1e-6 for both stages, ρ = 10 for both,
    /// 1 000 iterations for (A, B) and 100 for (C, D) (`num_epoch_ab`, `num_epoch_cd`), target
    /// rows solved 100 at a time (`batch_feature_size`), ‖A‖∞ ≤ 0.99, no regeneration, zero
    /// threshold 1e-6 (`tol`). torchidl always runs the whole budget; this solver also stops a
    /// batch early once its residuals fall below 1e-6 relative.
    public static var torchidlDefaults: SIMADMMSolver {
        SIMADMMSolver(
            lambdaState: 1e-6, lambdaOutput: 1e-6, lambda2: 0, wellPosedness: .infinityNorm(kappa: 0.99), rho: 10,
            rhoOutput: 10, tolerance: 1e-6, maxIterations: 1000, maxIterationsOutput: 100, batchFeatureSize: 100,
            zeroThreshold: 1e-6, regenerateStates: false)
    }
}

extension SIMLowRankSolver {
    /// The defaults of torchidl's `ProjectedGDLowRankSolver()`: full rank (`rank=None`),
    /// 10 000 Adam epochs at learning rate 1e-3, λ = 1e-6, ‖A‖∞ ≤ 0.99 through the factors, no
    /// regeneration, zero threshold 1e-6.
    public static var torchidlDefaults: SIMLowRankSolver {
        SIMLowRankSolver(
            rank: nil, lambdaState: 1e-6, wellPosedness: .infinityNorm(kappa: 0.99), epochs: 10_000,
            learningRate: 1e-3, zeroThreshold: 1e-6, regenerateStates: false)
    }
}

extension SIMLeastSquaresSolver {
    /// The defaults of torchidl's `LeastSquareSolver()`: no regeneration, zero threshold 1e-6;
    /// well-posedness is not enforced (it is only reported on, against ‖A‖∞ ≤ 0.99).
    public static var torchidlDefaults: SIMLeastSquaresSolver {
        SIMLeastSquaresSolver(wellPosedness: .infinityNorm(kappa: 0.99), zeroThreshold: 1e-6, regenerateStates: false)
    }
}

extension SIMExactSolver {
    /// torchidl's `CVXSolver(elastic_net=True, l1_ratio: r, lambda_z: λz, lambda_y: λy)`: each
    /// stage minimises λr‖w‖₁ + ½λ(1 − r)‖w‖² + ½‖t − Mᵀw‖² with its own λ, so stage 1 gets
    /// λ = λz·r, λ₂ = λz(1 − r) and stage 2 λ = λy·r, λ₂ = λy(1 − r) (``lambda2Output``). The
    /// other settings are ``torchidlDefaults``'.
    ///
    /// - Parameters:
    ///   - lambdaState: torchidl's `lambda_z` (stage 1, A and B).
    ///   - lambdaOutput: torchidl's `lambda_y` (stage 2, C and D).
    ///   - l1Ratio: torchidl's `l1_ratio` r ∈ [0, 1] (default there 0.5).
    /// - Returns: The solver.
    /// - Throws: ``IDLError/invalidArgument(_:)`` for r outside [0, 1] or a negative λ.
    public static func torchidlElasticNet(
        lambdaState: Double = 1e-6, lambdaOutput: Double = 1e-6, l1Ratio: Double = 0.5
    )
        throws -> SIMExactSolver
    {
        guard l1Ratio >= 0, l1Ratio <= 1 else {
            throw IDLError.invalidArgument("l1_ratio must lie in [0, 1], got \(l1Ratio)")
        }
        guard lambdaState >= 0, lambdaOutput >= 0, lambdaState.isFinite, lambdaOutput.isFinite else {
            throw IDLError.invalidArgument(
                "λ must be finite and ≥ 0, got lambda_z = \(lambdaState), lambda_y = \(lambdaOutput)")
        }
        var solver = torchidlDefaults
        solver.lambdaState = lambdaState * l1Ratio
        solver.lambdaOutput = lambdaOutput * l1Ratio
        solver.lambda2 = lambdaState * (1 - l1Ratio)
        solver.lambda2Output = lambdaOutput * (1 - l1Ratio)
        return solver
    }
}
