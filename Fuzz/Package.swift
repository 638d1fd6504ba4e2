// swift-tools-version:6.0
// libFuzzer harnesses for the file readers of IDL and IDLPlot. A separate package, so the
// normal `swift build` / `swift test` of the library never sees them; build and run them with
// scripts/fuzz.sh (see README.md here).
import PackageDescription

/// Fuzz target name → the products it reads through.
let targets: [(String, [String])] = [
    ("idx", ["IDL"]),
    ("npy", ["IDL"]),
    ("safetensors", ["IDL"]),
    ("cifar", ["IDL"]),
    ("png", ["IDL", "IDLPlot"]),
]

let package = Package(
    name: "IDLFuzz",
    dependencies: [.package(name: "ImplicitDeepLearning", path: "..")],
    targets: targets.map { name, products in
        .executableTarget(
            name: "fuzz-\(name)",
            dependencies: products.map { .product(name: $0, package: "ImplicitDeepLearning") },
            path: name
        )
    }
)
