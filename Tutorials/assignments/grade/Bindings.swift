import AssignmentGrader
import AssignmentStarter
import IDL

/// Every assignment bound to the functions of the AssignmentStarter target (the Starter
/// folders): the code the students write.
func starterAssignments() -> [Assignment] {
    [
        .forwardSolve(
            ForwardSolveFunctions(
                picard: { try ForwardSolve.picard(A: $0, B: $1, U: $2, tolerance: $3, maxIterations: $4) },
                scaleIntoInfinityBall: { try ForwardSolve.scaleIntoInfinityBall($0, kappa: $1) },
                projectRowsOntoL1Ball: { try ForwardSolve.projectRowsOntoL1Ball($0, radius: $1) },
                perronFrobenius: { try ForwardSolve.perronFrobenius($0) })),
        .implicitDifferentiation(
            ImplicitDifferentiationFunctions(
                adjoint: { try ImplicitDifferentiation.adjoint(A: $0, Z: $1, G: $2, tolerance: $3, maxIterations: $4) },
                gradients: { try ImplicitDifferentiation.gradients(A: $0, B: $1, C: $2, D: $3, U: $4, dY: $5) })),
        .simRow(
            SIMRowFunctions(
                projectOntoL1Ball: { try SIMRow.projectOntoL1Ball($0, radius: $1) },
                objectiveAndGap: {
                    try SIMRow.objectiveAndGap(X: $0, U: $1, z: $2, a: $3, b: $4, lambda: $5, kappa: $6)
                },
                solveRow: {
                    try SIMRow.solveRow(X: $0, U: $1, z: $2, lambda: $3, kappa: $4, tolerance: $5, maxIterations: $6)
                })),
        .robustness(
            RobustnessFunctions(
                lipschitzBound: { try Robustness.lipschitzBound(A: $0, B: $1, C: $2, D: $3) },
                certifiedAccuracy: {
                    try Robustness.certifiedAccuracy(scores: $0, labels: $1, epsilon: $2, lipschitz: $3)
                },
                fgsm: { try Robustness.fgsm(model: $0, inputs: $1, labels: $2, epsilon: $3) },
                compare: { try Robustness.compare(model: $0, inputs: $1, labels: $2, epsilons: $3) })),
    ]
}
