// swift-tools-version:6.0
// Implicit deep learning in Swift: implicit models X = φ(AX + BU), Ŷ = CX + DU trained by
// implicit differentiation, and state-driven implicit models (SIM) fitted by convex
// optimisation. OpenBLAS does the linear algebra, Cairo draws the figures, libpng writes their PNGs.
import Foundation
import PackageDescription

/// Release builds let generic code (Matrix<Float>, Matrix<Double>) specialise across modules,
/// so the tutorials, experiments and the CLI run the same fast code as the library's own tests.
let optimise: [SwiftSetting] = [
    .unsafeFlags(["-cross-module-optimization"], .when(configuration: .release))
]

/// Programs under Experiments/<name>: benchmarks and the experiments that write results/.
let experiments: [(String, [Target.Dependency])] = [
    ("gemm-bench", ["IDL"]),
    ("data-bench", ["IDL"]),
    ("mlp-bench", ["ExperimentSupport", "IDL"]),
    ("implicit-bench", ["ExperimentSupport", "IDL"]),
    ("sim-bench", ["IDL"]),
    ("rnn-bench", ["ExperimentSupport", "IDL"]),
    ("plot-gallery", ["ExperimentSupport", "IDL", "IDLPlot"]),
    ("implicit-models", ["ExperimentSupport", "IDL", "IDLPlot"]),
    ("sim-fashion", ["ExperimentSupport", "IDL"]),
    ("argmax-extrapolation", ["ExperimentSupport", "IDL", "IDLPlot"]),
    ("sim-sweep", ["ExperimentSupport", "IDL", "IDLPlot"]),
    ("sim-robust", ["ExperimentSupport", "IDL", "IDLPlot"]),
    ("sim-baselines", ["ExperimentSupport", "IDL", "IDLPlot"]),
    ("scaling-bench", ["ExperimentSupport", "IDL", "IDLPlot"]),
]

/// Tutorial chapters: Tutorials/<chapter>/main.swift becomes the executable tutorial-<chapter>.
let tutorialChapters = [
    "feedforward",
    "implicit-model",
    "custom-activation",
    "rnn",
    "sim",
    "implicit-layer",
]

/// Course assignments (Tutorials/assignments/<assignment>/ holds a handout, Starter, Reference
/// and Checks): the students' starter code, one grader for all assignments (`grade`), and the
/// reference solutions with the grader bound to them (`grade-reference`). Deleting every
/// Reference folder and grade-reference (to hand the repository to students) leaves those out.
let assignments = ["forward-solve", "implicit-differentiation", "sim-row", "robustness"]
let assignmentReferenceShipped = FileManager.default.fileExists(
    atPath: Context.packageDirectory + "/Tutorials/assignments/grade-reference/main.swift")
/// One library target of the Starter, Reference or Checks folders (plus `shared` folders).
func assignmentTarget(_ name: String, _ role: String, shared: [String] = []) -> Target {
    let others = ["Starter", "Reference", "Checks"].filter { $0 != role }
    let top: [String] = ["README.md", "Grader", "grade", "grade-reference"].filter { !shared.contains($0) }
    let inside: [String] = assignments.flatMap { a in (["README.md"] + others).map { "\(a)/\($0)" } }
    let present: (String) -> Bool = {
        FileManager.default.fileExists(atPath: Context.packageDirectory + "/Tutorials/assignments/" + $0)
    }
    return .target(
        name: name, dependencies: ["IDL"], path: "Tutorials/assignments", exclude: (top + inside).filter(present),
        sources: shared + assignments.map { "\($0)/\(role)" }, swiftSettings: optimise)
}
let assignmentTargets: [Target] =
    [
        assignmentTarget("AssignmentStarter", "Starter"),
        assignmentTarget("AssignmentGrader", "Checks", shared: ["Grader"]),
        .executableTarget(
            name: "grade", dependencies: ["AssignmentGrader", "AssignmentStarter", "IDL"],
            path: "Tutorials/assignments/grade", swiftSettings: optimise),
    ]
    + (assignmentReferenceShipped
        ? [
            assignmentTarget("AssignmentReference", "Reference"),
            .executableTarget(
                name: "grade-reference", dependencies: ["AssignmentGrader", "AssignmentReference", "IDL"],
                path: "Tutorials/assignments/grade-reference", swiftSettings: optimise),
        ] : [])

let package = Package(
    name: "ImplicitDeepLearning",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "IDL", targets: ["IDL"]),
        .library(name: "IDLPlot", targets: ["IDLPlot"]),
        .executable(name: "idl", targets: ["idl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-numerics", from: "1.1.1"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // `swift package generate-documentation` (scripts/docs.sh); a command plugin only,
        // nothing of it is linked into the library, the tool or the tests.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        // System libraries, from Debian's libopenblas-dev, libpng-dev, zlib1g-dev and libcairo2-dev.
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG"),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .systemLibrary(name: "CFloatEnvironment", path: "Sources/CFloatEnvironment"),
        // Cairo (libcairo2-dev) draws the figures; its pkg-config file adds the FreeType headers.
        .systemLibrary(name: "CCairo", path: "Sources/CCairo", pkgConfig: "cairo"),

        // Vector kernels in C (dense × sparse-columns products), compiled for AVX-512, AVX2 and
        // the baseline and chosen at run time from the CPU's feature flags.
        .target(name: "CKernels", path: "Sources/CKernels", cSettings: [.unsafeFlags(["-O3", "-ffp-contract=off"])]),

        // The core library.
        .target(
            name: "IDL",
            dependencies: [
                "CBLAS", "CZlib", "CFloatEnvironment", "CKernels",
                .product(name: "RealModule", package: "swift-numerics"),
            ],
            path: "Sources/IDL",
            swiftSettings: optimise
        ),
        // Figures drawn with Cairo, written as PNG (through libpng), PDF and SVG.
        .target(
            name: "IDLPlot",
            dependencies: ["IDL", "CPNG", "CZlib", "CCairo"],
            path: "Sources/IDLPlot",
            swiftSettings: optimise
        ),

        // The command-line tool.
        .executableTarget(
            name: "idl",
            dependencies: ["IDL", "IDLPlot", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/idl",
            swiftSettings: optimise
        ),

        // Experiments and benchmarks (run with -c release), and the command-line options they share.
        .target(name: "ExperimentSupport", dependencies: ["IDL"], path: "Experiments/Support", swiftSettings: optimise),
    ]
        + experiments.map { name, dependencies in
            .executableTarget(
                name: name, dependencies: dependencies, path: "Experiments/\(name)", swiftSettings: optimise)
        } + [
            // Tutorials: one executable per chapter (Tutorials/<chapter>/main.swift), the support
            // library they share, and the weaver that turns each chapter into its README.md page.
            // A new chapter is one folder plus one line in `tutorialChapters` above.
            .target(name: "TutorialPages", path: "Tutorials/Pages"),
            .target(
                name: "TutorialSupport",
                dependencies: ["IDL", "IDLPlot", "TutorialPages"],
                path: "Tutorials/Support",
                swiftSettings: optimise
            ),
            .executableTarget(name: "tutorial-pages", dependencies: ["TutorialPages"], path: "Tutorials/Weaver"),

            .testTarget(name: "IDLTests", dependencies: ["IDL"], path: "Tests/IDLTests"),
            .testTarget(name: "IDLPlotTests", dependencies: ["IDLPlot", "IDL"], path: "Tests/IDLPlotTests"),
            .testTarget(name: "TutorialTests", dependencies: ["TutorialPages"], path: "Tests/TutorialTests"),
            .testTarget(
                name: "ExperimentSupportTests", dependencies: ["ExperimentSupport"],
                path: "Tests/ExperimentSupportTests"),
            // Fails when a public symbol of a library product lacks a doc comment; it reads the
            // symbol graphs of the IDL and IDLPlot modules built for the tests.
            .testTarget(
                name: "DocumentationTests", dependencies: ["IDL", "IDLPlot"], path: "Tests/DocumentationTests"),
        ]
        + tutorialChapters.map { chapter in
            .executableTarget(
                name: "tutorial-\(chapter)",
                dependencies: ["IDL", "IDLPlot", "TutorialSupport"],
                path: "Tutorials/\(chapter)",
                exclude: ["README.md"],  // the page generated from main.swift
                swiftSettings: optimise
            )
        }
        + assignmentTargets
)
