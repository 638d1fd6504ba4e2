// The grader of the course assignments, bound to the students' code (the AssignmentStarter
// target: the Starter folders of Tutorials/assignments). Usage: `grade --help`, or see
// Tutorials/assignments/README.md.
import AssignmentGrader
import AssignmentStarter
import Foundation

Grader.main(
    program: "grade", solution: "starter", assignments: starterAssignments(),
    arguments: Array(CommandLine.arguments.dropFirst()))
