// swift-tools-version: 6.2
// LayerPack: convert, quantize, pack and verify transformer checkpoints (Gemma 3 / 3n / 4).
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

/// Library targets in dependency order: each imports only targets listed above it (`PackageLayeringTests` reads
/// this file and every import line to keep that true).
let package = Package(
    name: "LayerPack",
    platforms: [.macOS(.v15), .iOS(.v18)],
    products: [
        .executable(name: "lpk-inspect", targets: ["lpk-inspect"]),
        .executable(name: "lpk-quantize", targets: ["lpk-quantize"]),
        .executable(name: "lpk-pack", targets: ["lpk-pack"]),
        .executable(name: "lpk-verify", targets: ["lpk-verify"]),
        .executable(name: "lpk-plan", targets: ["lpk-plan"]),
        // For apps: open a pack (or a safetensors/GGUF checkpoint), tokenize, and run the reference inference.
        .library(name: "LayerPackRuntime", targets: [
            "TensorTypes", "ByteIO", "StrictJSON", "SafetensorsFormat", "GGUFFormat", "TensorModel", "PackFormat",
            "SourceAdapters", "GemmaInference",
        ]),
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
        .target(name: "CChecksum"),
        .target(name: "TensorTypes", swiftSettings: swiftSettings),
        .target(name: "ByteIO", dependencies: ["CChecksum"], swiftSettings: swiftSettings),
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
            dependencies: ["ByteIO", "StrictJSON", "TensorTypes", "GGUFFormat"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Quantization",
            dependencies: ["CDotKernels", "ByteIO", "TensorTypes", "TensorModel"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "PackFormat",
            dependencies: ["ByteIO", "TensorTypes", "TensorModel", "GGUFFormat", "CZstd"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SourceAdapters",
            dependencies: ["ByteIO", "StrictJSON", "TensorTypes", "SafetensorsFormat", "GGUFFormat", "TensorModel", "PackFormat"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "GemmaInference",
            dependencies: ["CDotKernels", "ByteIO", "StrictJSON", "TensorTypes", "GGUFFormat", "TensorModel"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Verification",
            dependencies: ["ByteIO", "TensorTypes", "TensorModel", "Quantization"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Conversion",
            dependencies: ["CDotKernels", "ByteIO", "TensorTypes", "StrictJSON", "GGUFFormat", "SafetensorsFormat", "TensorModel", "Quantization",
                           "PackFormat", "GemmaInference"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Planning",
            dependencies: ["ByteIO", "TensorTypes", "TensorModel", "Quantization", "PackFormat", "GemmaInference", "Verification",
                           "Conversion"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ToolCommands",
            dependencies: [
                "ByteIO", "TensorTypes", "TensorModel", "Quantization", "PackFormat", "SourceAdapters", "GemmaInference",
                "Verification", "Conversion", "Planning",
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
            name: "lpk-plan",
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
            dependencies: ["ByteIO", "Conversion", "GemmaInference", "GGUFFormat", "PackFormat", "SafetensorsFormat", "SourceAdapters",
                           "StrictJSON", "TensorModel", "TensorTypes"],
            swiftSettings: swiftSettings
        ),

        .target(
            name: "TestSupport",
            dependencies: ["ByteIO", "StrictJSON"],
            path: "Tests/TestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "TensorTypesTests", dependencies: ["TensorTypes", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "ByteIOTests", dependencies: ["ByteIO", "CChecksum", "TestSupport"], swiftSettings: swiftSettings),
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
            dependencies: ["TensorModel", "ByteIO", "GGUFFormat", "StrictJSON", "TensorTypes", "TestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "QuantizationTests",
            dependencies: ["CDotKernels", "Quantization", "TensorModel", "TensorTypes", "TestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PackFormatTests",
            dependencies: ["PackFormat", "ByteIO", "GGUFFormat", "TensorModel", "TensorTypes", "TestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SourceAdaptersTests",
            dependencies: ["SourceAdapters", "ByteIO", "Conversion", "GGUFFormat", "PackFormat", "TensorModel", "TensorTypes", "TestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "GemmaInferenceTests",
            dependencies: ["ByteIO", "CDotKernels", "GemmaInference", "GGUFFormat", "Quantization", "Conversion", "SafetensorsFormat", "SourceAdapters",
                           "StrictJSON", "TensorModel", "TensorTypes", "TestSupport", "Verification"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "VerificationTests",
            dependencies: ["Verification", "ByteIO", "StrictJSON", "TensorModel", "TensorTypes", "TestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ConversionTests",
            dependencies: ["Conversion", "ByteIO", "GGUFFormat", "PackFormat", "Quantization", "SafetensorsFormat", "SourceAdapters", "StrictJSON", "TensorModel",
                           "TensorTypes", "TestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ToolCommandsTests",
            dependencies: ["ToolCommands", "ByteIO", "CDotKernels", "Conversion", "GGUFFormat", "Planning", "SafetensorsFormat", "SourceAdapters", "StrictJSON", "TensorModel",
                           "TensorTypes", "TestSupport", "Verification"],
            swiftSettings: swiftSettings
        ),
    ]
)
