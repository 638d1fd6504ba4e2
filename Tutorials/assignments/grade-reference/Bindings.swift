import AssignmentGrader
import AssignmentReference
import IDL

/// Every assignment bound to the reference solutions, with `bug` planted if given.
func referenceAssignments(_ bug: PlantedBug?) -> [Assignment] {
    var forward = ForwardSolveFunctions(
        picard: { try ForwardSolve.picard(A: $0, B: $1, U: $2, tolerance: $3, maxIterations: $4) },
        scaleIntoInfinityBall: { try ForwardSolve.scaleIntoInfinityBall($0, kappa: $1) },
        projectRowsOntoL1Ball: { try ForwardSolve.projectRowsOntoL1Ball($0, radius: $1) },
        perronFrobenius: { try ForwardSolve.perronFrobenius($0) })
    var implicit = ImplicitDifferentiationFunctions(
        adjoint: { try ImplicitDifferentiation.adjoint(A: $0, Z: $1, G: $2, tolerance: $3, maxIterations: $4) },
        gradients: { try ImplicitDifferentiation.gradients(A: $0, B: $1, C: $2, D: $3, U: $4, dY: $5) })
    var sim = SIMRowFunctions(
        projectOntoL1Ball: { try SIMRow.projectOntoL1Ball($0, radius: $1) },
        objectiveAndGap: { try SIMRow.objectiveAndGap(X: $0, U: $1, z: $2, a: $3, b: $4, lambda: $5, kappa: $6) },
        solveRow: {
            try SIMRow.solveRow(X: $0, U: $1, z: $2, lambda: $3, kappa: $4, tolerance: $5, maxIterations: $6)
        })
    var robustness = RobustnessFunctions(
        lipschitzBound: { try Robustness.lipschitzBound(A: $0, B: $1, C: $2, D: $3) },
        certifiedAccuracy: { try Robustness.certifiedAccuracy(scores: $0, labels: $1, epsilon: $2, lipschitz: $3) },
        fgsm: { try Robustness.fgsm(model: $0, inputs: $1, labels: $2, epsilon: $3) },
        compare: { try Robustness.compare(model: $0, inputs: $1, labels: $2, epsilons: $3) })
    switch bug {
    case .noIterationBudget: forward.picard = PlantedBugs.picardWithoutBudget
    case .adjointSign:
        implicit.adjoint = PlantedBugs.adjointWrongSign
        implicit.gradients = PlantedBugs.gradientsWithWrongAdjoint
    case .l1RadiusZeroTrap: sim.projectOntoL1Ball = PlantedBugs.projectionTrappingOnRadiusZero
    case .gapWithoutBallTerm:
        sim.objectiveAndGap = PlantedBugs.gapWithoutBallTerm
        sim.solveRow = {
            try SIMRow.solveRow(
                X: $0, U: $1, z: $2, lambda: $3, kappa: $4, tolerance: $5, maxIterations: $6,
                certificate: PlantedBugs.gapWithoutBallTerm)
        }
    case .fgsmNoClip: robustness.fgsm = PlantedBugs.fgsmWithoutClipping
    case nil: break
    }
    return [.forwardSolve(forward), .implicitDifferentiation(implicit), .simRow(sim), .robustness(robustness)]
}
