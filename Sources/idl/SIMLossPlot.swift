import Foundation
import IDL
import IDLPlot

/// The objective per iteration of both SIM stages (torchidl's `plot_loss`), log scale, as PNG.
func writeObjectivePlot(_ report: SIMReport, to url: URL) throws {
    let (stage1, stage2) = report.objectiveTraces
    guard !stage1.isEmpty || !stage2.isEmpty else {
        throw CommandError("the solver recorded no objective per iteration, so there is no loss curve to draw")
    }
    var plot = LinePlot(
        title: "ADMM objective per iteration", xLabel: "iteration", yLabel: "½‖T − WM‖² + λ‖W‖₁ (+ ½λ₂‖W‖²)",
        logY: true)
    if !stage1.isEmpty { plot.add(y: stage1, label: "stage 1 (A, B)") }
    if !stage2.isEmpty { plot.add(y: stage2, label: "stage 2 (C, D)") }
    try plot.write(to: url)
}
