import ArgumentParser
import Foundation
import IDL

// Runs on several processes started by mpirun (OpenMPI, loaded at run time: see MPICommunicator).

/// Runs `body` on the ranks of an MPI run and ends MPI. When a rank fails, the lowest failing
/// rank's message is thrown there (and printed once, as "Error: rank r: …"); the other ranks
/// end with exit status 1 and print nothing.
func withMPI(_ body: (MPICommunicator) throws -> Void) throws {
    let communicator = try MPICommunicator.start()
    do {
        try body(communicator)
    } catch let failure as RankFailure {
        communicator.finalize()
        guard let message = failure.message else { Foundation.exit(1) }
        throw CommandError("rank \(failure.rank): \(message)")
    } catch {
        communicator.finalize()
        throw error
    }
    communicator.finalize()
}

extension SIMCommand {
    /// `idl sim --distributed`: every rank reads the states, solves its share of the row blocks
    /// of both stages (``SIMExactSolver/fit(_:over:progress:)``); rank 0 evaluates the model
    /// and writes it once every rank has succeeded.
    func runDistributed() throws {
        guard solver == .exact else {
            throw ValidationError(
                "--distributed fits the exact solver's problem (by rows, or by consensus ADMM over sample shards with --shard-samples); drop --solver \(solver.rawValue)"
            )
        }
        guard let statesIn else {
            throw ValidationError(
                "--distributed fits saved states: give --states-in FILE (collect them once with `idl sim --states-out FILE`)"
            )
        }
        guard let method = makeSolver() as? SIMExactSolver else { throw CommandError("the exact solver was not built") }
        if shardSamples { return try runSampleSharded(statesIn: statesIn, problem: method) }
        try withMPI { comm in
            let leader = comm.rank == 0
            let (states, test) = try comm.checkpoint { () throws -> (SIMStates<Double>, Dataset<Float>?) in
                if leader {
                    try RunFiles.check(RunFile.input("--states-in", statesIn) + RunFile.output("--output", output))
                }
                let states = try SIMStates<Double>(contentsOf: URL(fileURLWithPath: statesIn))
                guard leader else { return (states, nil) }
                let test = try testImages(matching: states, statesIn: statesIn)
                out.say(
                    "loaded states from \(FilePathBytes.display(statesIn)): n = \(states.stateCount), p = \(states.inputCount), m = \(states.sampleCount); \(comm.size) rank\(comm.size == 1 ? "" : "s")"
                )
                return (states, test)
            }
            let bar = ProgressReporter(
                "SIM rows (rank 0)", total: states.stateCount + states.outputCount,
                style: leader ? out.progressStyle : .quiet)
            let start = monotonicSeconds()
            let fit = try method.fit(states, over: comm) { done, _ in bar.update(completed: done) }
            let fitSeconds = monotonicSeconds() - start
            bar.finish()
            try comm.checkpoint {
                guard leader, let test else { return }
                try finish(fit, of: states, solver: method.name, ranks: comm.size, fitSeconds: fitSeconds, test: test)
            }
        }
    }

    /// `idl sim --distributed --shard-samples`: rank r reads samples ⌊m·r/K⌋ ..< ⌊m·(r+1)/K⌋ of
    /// the states file and nothing else, the ranks fit the exact solver's problem by consensus
    /// ADMM (``SIMShardedADMMSolver``), and rank 0 evaluates the model and writes it once every
    /// rank has succeeded.
    func runSampleSharded(statesIn: String, problem: SIMExactSolver) throws {
        var admm = SIMShardedADMMSolver(problem: problem)
        if let rho { admm.rho = rho }
        if let admmIterations { admm.maxIterations = admmIterations }
        if let admmTolerance { admm.relativeTolerance = admmTolerance }
        // IDL_INJECT_FAULT=RANK:STAGE makes that rank fail as it starts that stage (tests of fault handling).
        if let spec = ProcessInfo.processInfo.environment["IDL_INJECT_FAULT"] {
            let parts = spec.split(separator: ":").compactMap { Int($0) }
            guard parts.count == 2 else {
                throw ValidationError("IDL_INJECT_FAULT must be RANK:STAGE (e.g. 1:2), found '\(spec)'")
            }
            admm.injectedFault = (parts[0], parts[1])
        }
        try withMPI { comm in
            let leader = comm.rank == 0
            let (shard, test) = try comm.checkpoint { () throws -> (SIMStates<Double>, Dataset<Float>?) in
                if leader {
                    try RunFiles.check(RunFile.input("--states-in", statesIn) + RunFile.output("--output", output))
                }
                let url = URL(fileURLWithPath: statesIn)
                let total = try SIMStates<Double>.sampleCount(inFileAt: url)
                guard total >= comm.size else {
                    throw CommandError(
                        "--states-in \(FilePathBytes.display(statesIn)) holds \(total) samples, fewer than the \(comm.size) ranks of --shard-samples; start fewer ranks"
                    )
                }
                let range = (total * comm.rank / comm.size)..<(total * (comm.rank + 1) / comm.size)
                let shard = try SIMStates<Double>(contentsOf: url, samples: range)
                guard leader else { return (shard, nil) }
                let test = try testImages(matching: shard, statesIn: statesIn)
                out.say(
                    "loaded samples \(range.lowerBound)..<\(range.upperBound) of \(total) from \(FilePathBytes.display(statesIn)) on rank 0: n = \(shard.stateCount), p = \(shard.inputCount); \(comm.size) rank\(comm.size == 1 ? "" : "s")"
                )
                return (shard, test)
            }
            let start = monotonicSeconds()
            let fit = try admm.fit(shard, over: comm)
            let fitSeconds = monotonicSeconds() - start
            try comm.checkpoint {
                guard leader, let test else { return }
                let iterations = [
                    fit.report.stage1Rows.first?.iterations ?? 0, fit.report.stage2Rows.first?.iterations ?? 0,
                ]
                try finish(
                    fit, of: shard, solver: admm.name, ranks: comm.size, fitSeconds: fitSeconds, test: test,
                    detail: ", \(iterations[0]) + \(iterations[1]) iterations",
                    json: [
                        "max_gap": fit.report.maxGap, "admm_iterations": iterations,
                        "well_posed": fit.report.wellPosednessMet && Double(fit.A.infinityNorm) < 1,
                    ])
            }
        }
    }

    /// Rank 0's end of a distributed fit: evaluates the model on the test images, prints the
    /// warnings, the accuracy line (with `detail`) and the model, writes the model to --output
    /// and emits the JSON object (with `json` added).
    func finish(
        _ fit: SIMFit<Double>, of states: SIMStates<Double>, solver: String, ranks: Int, fitSeconds: Double,
        test: Dataset<Float>, detail: String = "", json: [String: Any] = [:]
    ) throws {
        let model = try SIMModel(fit, states: states, tolerance: atol ?? 1e-6, maxIterations: maxIterations)
        let scores = try model.predict(test.inputs.converted(to: Double.self))
        let accuracy = try Metrics.accuracy(scores, test.labels)
        for w in fit.report.warnings { out.say("warning: \(w)") }
        out.say(
            "\(solver) on \(ranks) rank\(ranks == 1 ? "" : "s"): test accuracy \(formatFixed(100 * accuracy, decimals: 2)) %, fit \(formatFixed(fitSeconds, decimals: 2)) s\(detail)"
        )
        out.say(model.summary)
        let outputURL = URL(fileURLWithPath: output)
        try model.implicitModel.save(to: outputURL)
        out.say("saved \(FilePathBytes.display(outputURL.path))")
        try out.emit(
            [
                "test_accuracy": accuracy, "nonzeros": model.nonzeros, "fit_seconds": fitSeconds, "solver": solver,
                "model": outputURL.path, "ranks": ranks,
                "objective_stage1": fit.report.stage1Rows.reduce(0) { $0 + $1.objective },
                "objective_stage2": fit.report.stage2Rows.reduce(0) { $0 + $1.objective },
            ].merging(json) { $1 })
    }

    /// The FashionMNIST test images that score a fit of `states` (read from `statesIn`).
    /// - Throws: ``CommandError`` when the states' inputs or outputs do not match the images.
    func testImages(matching states: SIMStates<Double>, statesIn: String) throws -> Dataset<Float> {
        let test = try FashionMNIST.load(.test, scaling: .unit, as: Float.self)
        guard states.inputCount == test.featureCount, states.outputCount == test.classCount else {
            throw CommandError(
                "--states-in \(FilePathBytes.display(statesIn)) has \(states.inputCount) inputs and \(states.outputCount) outputs, but the test images have \(test.featureCount) pixels and \(test.classCount) classes; collect the states from a network on these images"
            )
        }
        return test
    }
}
