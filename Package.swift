// swift-tools-version:6.0
import PackageDescription

// LatentLab: StyleGAN2 inversion and latent editing on the CPU.
// One concern per module; C libraries enter through thin system-library shims.
let package = Package(
    name: "LatentLab",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "latentlab", targets: ["latentlab"]),
        .library(name: "LatentLab", targets: ["LatentTensor", "LatentFormats", "LatentImageIO", "LatentModels",
                                              "LatentCLIP", "LatentCore", "LatentInversion", "LatentEditing", "LatentEncoders"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // MARK: C libraries (Debian -dev packages, installed by scripts/setup.sh)
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CFFTW", pkgConfig: "fftw3f", providers: [.apt(["libfftw3-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CJPEG", pkgConfig: "libjpeg", providers: [.apt(["libjpeg-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // glibc's mallopt (HeapTuning); part of libc.
        .systemLibrary(name: "CMalloc"),
        // libjpeg/libpng error exits need setjmp/longjmp, which Swift cannot call.
        .target(name: "CImageCodecs", dependencies: ["CPNG", "CJPEG"]),

        // MARK: Swift modules
        .target(name: "LatentTensor", dependencies: ["CBLAS", "CFFTW", "CMalloc"]),
        // Its tests exercise internal parsers (@testable) in the release test build that CI runs.
        .target(name: "LatentFormats", dependencies: ["LatentTensor", "CZlib"],
                swiftSettings: [.unsafeFlags(["-enable-testing"])]),
        .target(name: "LatentImageIO", dependencies: ["LatentTensor", "CImageCodecs"]),
        .target(name: "LatentModels", dependencies: ["LatentTensor", "LatentFormats"],
                resources: [.copy("Resources")]),
        // OpenAI CLIP (tokenizer, text cleaning, ViT + text towers) and the embedded clip-scenes64.
        .target(name: "LatentCLIP", dependencies: ["LatentTensor", "LatentFormats"], resources: [.copy("Resources")]),
        // What inversion and editing share: the latent file, latent spaces, the optimisation
        // schedule, ws ranges, mask weights, run records.
        .target(name: "LatentCore", dependencies: ["LatentTensor", "LatentFormats", "LatentImageIO", "LatentModels"]),
        .target(name: "LatentInversion", dependencies: ["LatentTensor", "LatentFormats", "LatentImageIO", "LatentModels", "LatentCore",
                                                        "LatentCLIP"]),
        .target(name: "LatentEditing", dependencies: ["CBLAS", "LatentTensor", "LatentFormats", "LatentImageIO", "LatentModels",
                                                      "LatentCLIP", "LatentCore"]),
        // Trainable CPU encoders (e4e design, ReStyle mode) and their trainer.
        .target(name: "LatentEncoders", dependencies: ["LatentTensor", "LatentFormats", "LatentImageIO", "LatentModels", "LatentCore",
                                                       "LatentInversion", "LatentCLIP"],
                resources: [.copy("Resources")]),
        .executableTarget(name: "latentlab", dependencies: [
            "LatentTensor", "LatentFormats", "LatentImageIO", "LatentModels", "LatentCLIP", "LatentCore", "LatentInversion", "LatentEditing",
            "LatentEncoders",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Verification harnesses on the test scenes (CLIP zero-shot + pixel statistics): used only
        // by LatentBench and the tests, never by the library or the command line.
        .target(name: "_LatentVerification", dependencies: ["LatentTensor", "LatentFormats", "LatentImageIO", "LatentModels",
                                                            "LatentCLIP", "LatentCore", "LatentInversion", "LatentEditing"],
                path: "Bench/LatentVerification"),
        .executableTarget(name: "LatentBench", dependencies: ["LatentTensor", "LatentFormats", "LatentImageIO", "LatentModels", "LatentCore",
                                                              "LatentInversion", "LatentEditing", "LatentEncoders", "_LatentVerification"],
                          path: "Bench/LatentBench"),

        // MARK: Tests
        .target(name: "_TestSupport", dependencies: ["LatentTensor", "LatentFormats", "LatentModels", "LatentCLIP", "CZlib"], path: "Tests/_TestSupport"),
        .testTarget(name: "LatentTensorTests", dependencies: ["LatentTensor", "_TestSupport"]),
        .testTarget(name: "LatentFormatsTests", dependencies: ["LatentFormats", "_TestSupport"],
                    resources: [.copy("Resources")]),
        .testTarget(name: "LatentImageIOTests", dependencies: ["LatentImageIO", "_TestSupport"],
                    resources: [.copy("Resources")]),
        .testTarget(name: "LatentModelsTests", dependencies: ["LatentModels", "_TestSupport"],
                    resources: [.copy("Resources")]),
        .testTarget(name: "LatentCLIPTests", dependencies: ["LatentCLIP", "_TestSupport"],
                    resources: [.copy("Resources")]),
        .testTarget(name: "LatentCoreTests", dependencies: ["LatentCore", "_TestSupport"]),
        .testTarget(name: "LatentInversionTests", dependencies: ["LatentInversion", "LatentCLIP", "_TestSupport"],
                    resources: [.copy("Resources")]),
        .testTarget(name: "LatentEditingTests", dependencies: ["LatentEditing", "_LatentVerification", "_TestSupport"],
                    resources: [.copy("Resources")]),
        .testTarget(name: "LatentEncodersTests", dependencies: ["LatentEncoders", "LatentCLIP", "LatentCore", "LatentInversion", "_TestSupport"]),
        .testTarget(name: "LatentLabCLITests", dependencies: ["latentlab", "_TestSupport", "_LatentVerification"],
                    resources: [.copy("Resources")]),
    ],
    swiftLanguageModes: [.v5]
)
