// swift-tools-version: 6.1
//
// Benchmarks for kura, kept out of the main package so that building or testing kura never
// resolves the benchmark tooling. Run from this directory:
//
//     swift package --allow-writing-to-package-directory benchmark
//
// (add `--filter Chunker` for one group). The `MallocInterposer` trait keeps the benchmark
// package's optional runtime interposer, and its extra dependency, switched off.
import PackageDescription

let package = Package(
    name: "KuraBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "kura", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "KuraBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "KuraChunker", package: "kura"),
                .product(name: "KuraCrypto", package: "kura"),
                .product(name: "KuraRepository", package: "kura"),
                .product(name: "KuraStore", package: "kura"),
                .product(name: "KuraArchiver", package: "kura"),
                .product(name: "KuraRestorer", package: "kura"),
            ],
            path: "Benchmarks/KuraBenchmarks",
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark"),
            ]
        ),
    ]
)
