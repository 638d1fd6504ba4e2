// swift-tools-version:6.0
// Implicit deep learning in Swift: implicit models X = φ(AX + BU), Ŷ = CX + DU trained by
// implicit differentiation, and state-driven implicit models (SIM) fitted by convex
// optimisation. OpenBLAS does the linear algebra, libpng writes the figures.
import PackageDescription

/// Release builds let generic code (Matrix<Float>, Matrix<Double>) specialise across modules,
/// so the tutorials, experiments and the CLI run the same fast code as the library's own tests.
let optimise: [SwiftSetting] = [
    .unsafeFlags(["-cross-module-optimization"], .when(configuration: .release)),
]

let package = Package(
    name: "ImplicitDeepLearning",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "IDL", targets: ["IDL"]),
        .library(name: "IDLPlot", targets: ["IDLPlot"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-numerics", from: "1.1.1"),
    ],
    targets: [
        // System libraries, from Debian's libopenblas-dev, libpng-dev and zlib1g-dev.
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG"),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),

        // The core library.
        .target(
            name: "IDL",
            dependencies: [
                "CBLAS", "CZlib",
                .product(name: "RealModule", package: "swift-numerics"),
            ],
            path: "Sources/IDL",
            swiftSettings: optimise
        ),
        // Figures written as PNG.
        .target(
            name: "IDLPlot",
            dependencies: ["IDL", "CPNG"],
            path: "Sources/IDLPlot",
            swiftSettings: optimise
        ),

        // Experiments and benchmarks (run with -c release).
        .executableTarget(
            name: "gemm-bench",
            dependencies: ["IDL", "CBLAS"],
            path: "Experiments/gemm-bench",
            swiftSettings: optimise
        ),
        .executableTarget(
            name: "data-bench",
            dependencies: ["IDL"],
            path: "Experiments/data-bench",
            swiftSettings: optimise
        ),

        .executableTarget(
            name: "implicit-bench",
            dependencies: ["IDL"],
            path: "Experiments/implicit-bench",
            swiftSettings: optimise
        ),

        .executableTarget(
            name: "rnn-bench",
            dependencies: ["IDL"],
            path: "Experiments/rnn-bench",
            swiftSettings: optimise
        ),

        .testTarget(name: "IDLTests", dependencies: ["IDL"], path: "Tests/IDLTests"),
        .testTarget(name: "IDLPlotTests", dependencies: ["IDLPlot", "IDL"], path: "Tests/IDLPlotTests"),
    ]
)
