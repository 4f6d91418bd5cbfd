// swift-tools-version: 6.2
// LayerPack: convert, quantize, pack and verify transformer checkpoints (Gemma 3 / 3n / 4).
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

/// Library targets in dependency order: each may only import the ones above it.
let package = Package(
    name: "LayerPack",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "lpk-inspect", targets: ["lpk-inspect"]),
        .executable(name: "lpk-quantize", targets: ["lpk-quantize"]),
        .executable(name: "lpk-pack", targets: ["lpk-pack"]),
        .executable(name: "lpk-verify", targets: ["lpk-verify"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CZstd",
            pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"]), .brew(["zstd"])]
        ),
        .target(name: "CDotKernels"),
        .target(name: "TensorTypes", swiftSettings: swiftSettings),
        .target(name: "ByteIO", swiftSettings: swiftSettings),
        .target(name: "StrictJSON", swiftSettings: swiftSettings),
        .target(
            name: "SafetensorsFormat",
            dependencies: ["ByteIO", "StrictJSON", "TensorTypes"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "GGUFFormat",
            dependencies: ["ByteIO", "TensorTypes"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TensorModel",
            dependencies: ["ByteIO", "StrictJSON", "TensorTypes", "SafetensorsFormat", "GGUFFormat", "Quantization"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Quantization",
            dependencies: ["TensorTypes"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "PackFormat",
            dependencies: ["ByteIO", "TensorTypes", "TensorModel", "Quantization", "GGUFFormat"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "GemmaInference",
            dependencies: ["CDotKernels", "ByteIO", "TensorTypes", "TensorModel", "Quantization", "GGUFFormat"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Verification",
            dependencies: ["ByteIO", "TensorModel", "TensorTypes", "Quantization"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Conversion",
            dependencies: ["ByteIO", "TensorTypes", "TensorModel", "Quantization", "PackFormat", "GGUFFormat",
                           "SafetensorsFormat", "CZstd"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ToolCommands",
            dependencies: [
                "Conversion", "TensorModel", "TensorTypes", "Quantization", "PackFormat", "ByteIO", "GemmaInference", "Verification",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "lpk-inspect",
            dependencies: ["ToolCommands", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "lpk-quantize",
            dependencies: ["ToolCommands", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "lpk-pack",
            dependencies: ["ToolCommands", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "lpk-verify",
            dependencies: ["ToolCommands", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "lpk-bench",
            dependencies: ["ToolCommands", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "lpk-fuzz",
            dependencies: ["ByteIO", "Conversion", "GemmaInference", "GGUFFormat", "PackFormat", "SafetensorsFormat", "StrictJSON", "TensorTypes"],
            swiftSettings: swiftSettings
        ),

        .target(
            name: "TestSupport",
            dependencies: ["ByteIO", "StrictJSON"],
            path: "Tests/TestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "TensorTypesTests", dependencies: ["TensorTypes", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "ByteIOTests", dependencies: ["ByteIO", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "StrictJSONTests", dependencies: ["StrictJSON", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "SafetensorsFormatTests",
            dependencies: ["SafetensorsFormat", "ByteIO", "StrictJSON", "TensorTypes", "TestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "GGUFFormatTests",
            dependencies: ["GGUFFormat", "ByteIO", "StrictJSON", "TensorTypes", "TestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TensorModelTests",
            dependencies: ["TensorModel", "ByteIO", "Conversion", "PackFormat", "Quantization", "StrictJSON", "TensorTypes", "TestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "QuantizationTests",
            dependencies: ["Quantization", "TensorTypes", "TestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PackFormatTests",
            dependencies: ["PackFormat", "ByteIO", "TensorModel", "TensorTypes", "Quantization", "TestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ConversionTests",
            dependencies: ["Conversion", "ByteIO", "PackFormat", "Quantization", "SafetensorsFormat", "TensorModel",
                           "TensorTypes", "TestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "GemmaInferenceTests",
            dependencies: ["ByteIO", "GemmaInference", "GGUFFormat", "Quantization", "Conversion", "StrictJSON", "TensorModel", "TensorTypes", "TestSupport", "Verification"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ToolCommandsTests",
            dependencies: ["ToolCommands", "ByteIO", "SafetensorsFormat", "StrictJSON", "TestSupport", "Verification"],
            swiftSettings: swiftSettings
        ),
    ]
)
