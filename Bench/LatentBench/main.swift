// LatentBench: speed measurements, one subcommand per area.
//
//   swift build -c release --product LatentBench
//   .build/release/LatentBench all            # every benchmark below, in order
//   .build/release/LatentBench gemm|conv ...  # one area; each accepts its own options
//
// Each subcommand is a function `([String]) -> Void` taking the arguments after its name. To add an
// area, implement it in its own file and add one line to `commands`.
import Foundation
import LatentTensor
import LatentEditing
import _LatentVerification

struct BenchCommand {
    let name: String
    let summary: String
    let run: ([String]) -> Void
    /// Whether `all` runs it.
    let inAll: Bool
}

let commands: [BenchCommand] = [
    BenchCommand(name: "gemm", summary: "sgemm GFLOP/s at n = 512, 1024, 2048 (the practical peak)",
                 run: { runGemmBench(arguments: $0) }, inAll: true),
    BenchCommand(name: "conv", summary: "conv2d forward / backward-input / backward-weight GFLOP/s at StyleGAN shapes",
                 run: { runConvBench(arguments: $0) }, inAll: true),
    BenchCommand(name: "generator", summary: "StyleGAN2 synthesis forward / step per image (GeneratorBench.swift)",
                 run: { runGeneratorBench(arguments: $0) }, inAll: true),
    BenchCommand(name: "lpips", summary: "LPIPS-VGG forward and forward+backward at 256² (the projector's loss network)",
                 run: { runLPIPSBench(arguments: $0) }, inAll: true),
    BenchCommand(name: "encoder", summary: "pSp / e4e IR-SE50 encoder forward per image at 256² (EncoderBench.swift)",
                 run: { runEncoderBench(arguments: $0) }, inAll: false),
    BenchCommand(name: "inversion", summary: "projector quality (PSNR vs the reference) and speed per step / image (InversionBench.swift)",
                 run: { runInversionBench(arguments: $0) }, inAll: false),
    BenchCommand(name: "conditional", summary: "a guidance encoder's layout fidelity, shape, PSNR and speed on the paired test maps (ConditionalBench.swift)",
                 run: { runConditionalBench(arguments: $0) }, inAll: false),
    BenchCommand(name: "paint-maps", summary: "paint a paired folder's seg maps in flat colours (layout targets for guidance encoders, PaintMaps.swift)",
                 run: { runPaintMaps(arguments: $0) }, inAll: false),
    BenchCommand(name: "region-style", summary: "translate --region-style wall=PHOTO: wall hue towards the exemplar's, object hue kept (RegionStyleBench.swift)",
                 run: { runRegionStyleBench(arguments: $0) }, inAll: false),
    BenchCommand(name: "trained-encoder", summary: "a trained encoder's PSNR on the test scenes and its ms per image (TrainedEncoderBench.swift)",
                 run: { runTrainedEncoderBench(arguments: $0) }, inAll: false),
    BenchCommand(name: "directions", summary: "verify the direction library on the test scenes (the direction library on the test scenes, Bench/directions.md)",
                 run: { runDirectionsVerification(arguments: $0) }, inAll: false),
    BenchCommand(name: "recipes", summary: "recipe success (issue 17 criteria) on every latent of a project folder (RecipeBench.swift)",
                 run: { runRecipeBench(arguments: $0) }, inAll: false),
    BenchCommand(name: "scene-factors", summary: "the recipe criteria's scene factors of every latent under a folder, as a regression --labels CSV (SceneFactorsBench.swift)",
                 run: { runSceneFactorsBench(arguments: $0) }, inAll: false),
    BenchCommand(name: "pti", summary: "PTI pivot + tuning seconds per step and peak memory on a random official-config generator (PTIBench.swift)",
                 run: { runPTIBench(arguments: $0) }, inAll: false),
    BenchCommand(name: "clip-edit", summary: "verify text-guided colour and shape edits on the test scenes (TextEditVerification.swift)",
                 run: { if !runTextEditVerification(arguments: $0) { exit(1) } }, inAll: false),
    BenchCommand(name: "style-channels", summary: "find the default generator's StyleSpace colour channels on inverted training scenes (StyleChannelsBench.swift)",
                 run: { runStyleChannelsBench(arguments: $0) }, inAll: false),
    BenchCommand(name: "mask-exemplar", summary: "inpainting, confined edits, exemplar transfer and diversity on the test scenes (Bench/mask-exemplar.md)",
                 run: { runMaskExemplarBench(arguments: $0) }, inAll: false),
]

/// Runs `body` with `--key value` pairs as a dictionary (keys without the dashes); an error is
/// one line on stderr and exit 1.
func runWithOptions(_ name: String, _ arguments: [String], _ body: ([String: String]) throws -> Void) {
    var opts: [String: String] = [:]
    var i = 0
    while i + 1 < arguments.count { opts[String(arguments[i].drop { $0 == "-" })] = arguments[i + 1]; i += 2 }
    do { try body(opts) } catch {
        FileHandle.standardError.write("\(name): \(error)\n".data(using: .utf8)!)
        exit(1)
    }
}

func printUsage() {
    print("usage: LatentBench <command> [options]\n\ncommands:")
    print("  all        run every benchmark marked for it, in order")
    for c in commands { print("  \(c.name.padding(toLength: 10, withPad: " ", startingAt: 0)) \(c.summary)") }
}

// As latentlab does: large feature maps reuse freed heap pages (LatentTensor's HeapTuning).
HeapTuning.keepLargeAllocationsInHeap()
// Line-buffered output, so progress shows when the output goes to a file or a pipe.
setvbuf(stdout, nil, _IOLBF, 0)
let argv = Array(CommandLine.arguments.dropFirst())
guard let name = argv.first else { printUsage(); exit(0) }
let rest = Array(argv.dropFirst())
// Under --json stdout holds only JSON rows; the header goes to stderr.
let header = "LatentBench \(name) — \(benchMachineDescription())"
if rest.contains("--json") { FileHandle.standardError.write(Data((header + "\n").utf8)) } else { print(header) }
if name == "all" {
    for c in commands where c.inAll { print("\n== \(c.name) =="); c.run(rest) }
} else if let c = commands.first(where: { $0.name == name }) {
    c.run(rest)
} else {
    FileHandle.standardError.write("LatentBench: unknown command '\(name)'\n".data(using: .utf8)!)
    printUsage()
    exit(2)
}
