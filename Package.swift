// swift-tools-version: 6.0
// Whittle: fine-tune small language models on ordinary CPUs.
// Layering (a target imports only targets below it) is described in README.md and ../shared/docs/architecture.md.
import PackageDescription

/// Release builds are what users and benchmarks run; these flags were measured (see README "Build settings").
let optimized: [SwiftSetting] = [
    .unsafeFlags(["-O", "-wmo", "-target-cpu", "native", "-Xcc", "-fno-math-errno"], .when(configuration: .release)),
]

let package = Package(
    name: "Whittle",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "whittle", targets: ["WhittleCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // L0: OpenBLAS through pkg-config (Debian: libopenblas-dev).
        .systemLibrary(
            name: "COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        // A C twin of the GEMM timing loop, so `whittle bench gemm` can compare Swift's call path with C's in one run.
        .target(name: "CBenchSupport", dependencies: ["COpenBLAS"], exclude: ["README.md"]),
        // L0: atomic writes, memory maps, SHA-256 (checkpoints, token cache, provenance).
        .target(name: "FileSupport", exclude: ["README.md"], swiftSettings: optimized),
        // L1: tensors and kernels.
        .target(name: "Tensors", dependencies: ["COpenBLAS"], exclude: ["README.md"], swiftSettings: optimized),
        // L1: text ⇄ token ids (tokenizer.json, llama2.c tokenizer.bin, GGUF vocabularies), chat templates, and the
        // order-keeping JSON they and the data pipeline share; Foundation only.
        .target(name: "Tokenization", exclude: ["README.md", "ChatTemplate/README.md"], swiftSettings: optimized),
        // L2: domain data files to examples (then tokens, masks, packing).
        .target(name: "TrainingData", dependencies: ["Tokenization", "Tensors", "FileSupport"], exclude: ["README.md"], swiftSettings: optimized),
        // L4: optimizers, schedules, clipping (the trainer joins when models land).
        .target(name: "Training", dependencies: ["Models", "TrainingData", "Tensors"], exclude: ["README.md"], swiftSettings: optimized),
        // L5: the composition root: recipes (strict YAML, --set overrides), run folders, wiring of the stages.
        .target(name: "FineTuning", dependencies: ["Training", "TrainingData", "Models", "ModelFormats", "Evaluation", "Tokenization",
                                                  "FileSupport", "Tensors", "Yams"], exclude: ["README.md"], swiftSettings: optimized),
        // L2: layers, each a forward/backward pair.
        .target(name: "Layers", dependencies: ["Tensors"], exclude: ["README.md"], swiftSettings: optimized),
        // L3: Llama-family and GPT-2 models with HF parameter names; generation over token ids.
        .target(name: "Models", dependencies: ["Layers", "Tensors"], exclude: ["README.md"], swiftSettings: optimized),
        // L4: safetensors, HF folders, llama2.c checkpoints.
        .target(name: "ModelFormats", dependencies: ["Models", "Tensors", "FileSupport", "Tokenization"], exclude: ["README.md"], swiftSettings: optimized),
        // L4: measuring models: generation, scoring, task metrics, base-vs-adapter evaluation runs and their reports.
        .target(name: "Evaluation", dependencies: ["Models", "ModelFormats", "TrainingData", "Tokenization", "Tensors", "FileSupport"],
                exclude: ["README.md", "REPORT.md"], swiftSettings: optimized),
        // L2: the bundled datasets' deterministic generators (general corpus, orders, helpdesk).
        .target(name: "DatasetGenerators", dependencies: ["Tensors", "Tokenization", "FileSupport"], exclude: ["README.md"], swiftSettings: optimized),
        // Benchmarks behind `whittle bench`.
        .target(name: "Benchmarking", dependencies: ["Tensors", "CBenchSupport", "Tokenization", "Models", "TrainingData", "Training"], exclude: ["README.md"], swiftSettings: optimized),
        // L6: the command-line tool.
        .executableTarget(
            name: "WhittleCLI",
            dependencies: [
                "Tensors", "Benchmarking", "Tokenization", "ModelFormats", "TrainingData", "Evaluation", "Models", "FineTuning", "DatasetGenerators",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: optimized
        ),
        .target(name: "TestSupport", dependencies: ["Tensors"], path: "Tests/TestSupport"),
        .testTarget(name: "TensorsTests", dependencies: ["Tensors", "TestSupport"]),
        .testTarget(name: "TrainingDataTests", dependencies: ["TrainingData", "Tokenization", "TestSupport"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "ModelFormats", "Models", "TrainingData", "Tensors", "TestSupport"]),
        .testTarget(name: "FileSupportTests", dependencies: ["FileSupport", "TestSupport"]),
        .testTarget(name: "FineTuningTests", dependencies: ["FineTuning", "Evaluation", "Training", "TrainingData", "Models", "ModelFormats", "Tensors", "TestSupport"]),
        .testTarget(name: "TokenizationTests", dependencies: ["Tokenization"]),
        .testTarget(name: "ChatTemplateTests", dependencies: ["Tokenization"]),
        .testTarget(name: "EvaluationTests", dependencies: ["Evaluation", "ModelFormats", "Models", "Tokenization", "TrainingData", "Tensors", "TestSupport"]),
        .testTarget(name: "LayersTests", dependencies: ["Layers", "Tensors", "TestSupport"]),
        .testTarget(name: "ModelsTests", dependencies: ["ModelFormats", "Models", "Layers", "Tensors", "TestSupport"]),
        .testTarget(name: "DatasetGeneratorsTests", dependencies: ["DatasetGenerators", "TrainingData", "Tokenization"]),
        .testTarget(name: "ModelFormatsTests", dependencies: ["ModelFormats", "Models", "Layers", "Tokenization", "Tensors", "FileSupport", "TestSupport"]),
    ]
)
