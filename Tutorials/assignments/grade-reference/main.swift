// The grader bound to the reference solutions (the AssignmentReference target), or to a
// reference with one planted bug (`--planted-bug NAME`, see PlantedBugs.swift): how an
// instructor checks that the assignments can be solved and that the checks catch mistakes.
import AssignmentGrader
import AssignmentReference
import Foundation

var arguments = Array(CommandLine.arguments.dropFirst())
var bug: PlantedBug? = nil
if let k = arguments.firstIndex(of: "--planted-bug") {
    guard k + 1 < arguments.count, let found = PlantedBug(rawValue: arguments[k + 1]) else {
        let names = PlantedBug.allCases.map(\.rawValue).joined(separator: ", ")
        FileHandle.standardError.write(Data("grade-reference: --planted-bug needs one of: \(names)\n".utf8))
        exit(2)
    }
    bug = found
    arguments.removeSubrange(k...(k + 1))
}
Grader.main(
    program: "grade-reference", solution: bug.map { "reference+\($0.rawValue)" } ?? "reference",
    childArguments: bug.map { ["--planted-bug", $0.rawValue] } ?? [], assignments: referenceAssignments(bug),
    arguments: arguments,
    extraUsage: """
               grade-reference … --planted-bug NAME   (the reference with one bug planted: \
        \(PlantedBug.allCases.map(\.rawValue).joined(separator: ", ")))
        """)
