import ArgumentParser
import Foundation
import LatentTensor
import LatentFormats
import LatentModels

/// `latentlab encode IMAGE|DIR --out DIR`: encoder inversion with the outputs of `invert` /
/// `project`; `--raw` gives a pSp/e4e encoder's raw codes for an already normalised tensor
/// (exactness scripts).
struct Encode: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Encode images to W+ latents with an encoder (one pass, or ReStyle refinements).",
        discussion: """
        IMAGE: writes DIR/latent.npz, target.png, reconstruction.png and metrics.json exactly as 'invert' does \
        (it is 'invert --method encoder'). A folder: one sub-folder per image plus summary.csv/summary.json and a \
        contact sheet, batched, resumable and shardable exactly as 'project' ('project --method encoder'). \
        Without --encoder the embedded scenes64 encoder serves the embedded generator. --iterations K runs \
        ReStyle refinement with an encoder trained by 'train-encoder --iterative'.
        --raw reads --input, a float32 .npy [N, C, H, W] already normalised as the encoder expects (pSp/e4e: \
        (image − 0.5) / 0.5, 256×256, C = the encoder's input_nc), and writes the network's raw codes \
        [N, numWs, 512] to --out (.npy) without latent_avg, exactly what the official encoder module returns. \
        Convert official checkpoints with 'latentlab convert e4e_ffhq_encode.pt OUT/' first.
        """)

    @Argument(help: "Image (PNG/JPEG) or folder of images to encode.") var path: String?
    @OptionGroup var net: NetworkOptions
    @Option(help: "Encoder .safetensors (from train-encoder or 'latentlab convert'). Default: the embedded scenes64 encoder.")
    var encoder: String?
    @Option(help: "ReStyle refinements (encoders trained with --iterative).") var iterations: Int = 1
    @OptionGroup var cropOption: CropOption
    @Option(help: "Folder: images encoded together in one batch.") var batch: Int = 16
    @Option(help: "Folder: shard K/N of the dataset (0-based K).") var shard: String = "0/1"
    @Flag(help: "Folder: redo finished images made with other settings.") var redo = false
    @Option(help: "--raw: input .npy, float32 [N, C, H, W], normalised.") var input: String?
    @Flag(help: "Write the raw codes of --input (no latent_avg) instead of encoding images.") var raw = false
    @Option(help: "Output folder (images) or .npy (--raw).") var out: String

    func validate() throws {
        guard !out.isEmpty else { throw ValidationError("the output path is empty") }
        if raw {
            guard input != nil, path == nil else { throw ValidationError("--raw takes --input X.npy (and no image argument)") }
            guard encoder != nil else { throw ValidationError("--raw needs --encoder E.safetensors") }
        } else {
            guard path != nil else { throw ValidationError("give an image or a folder to encode (or --raw --input X.npy)") }
            guard input == nil else { throw ValidationError("--input is for --raw") }
        }
        guard (1...100).contains(iterations) else { throw ValidationError("--iterations must be 1-100") }
        guard (1...4096).contains(batch) else { throw ValidationError("--batch must be 1-4096") }
    }

    func run() throws {
        if raw { return try runRaw() }
        let target = path!
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: target, isDirectory: &isDir) else {
            throw CommandFailure("\(target): no such file or folder")
        }
        var args = ["--out", out, "--method", "encoder", "--iterations", "\(iterations)", "--crop", cropOption.crop]
        if let encoder { args += ["--encoder", encoder] }
        if let network = net.network { args += ["--network", network] }
        if isDir.boolValue {
            args += ["--batch", "\(batch)", "--shard", shard] + (redo ? ["--redo"] : [])
            try Project.parse([target] + args).runProject(command: "encode")
        } else {
            try Invert.parse([target] + args).runInvert(command: "encode")
        }
    }

    func runRaw() throws {
        let encoderPath = encoder!, inputPath = input!
        _ = try sniffFileKind(path: encoderPath)
        _ = try sniffFileKind(path: inputPath)
        let enc = try PSPEncoder(path: encoderPath)
        let x = try readNpy(path: inputPath).toTensor()
        let codes: Tensor
        do { codes = try enc.codes(x, addLatentAvg: false) }
        catch let e as StyleGAN2InputError { throw CommandFailure("\(inputPath): \(e.reason) (encoder input must be [N, \(enc.config.inputNc), 256, 256])") }
        do { try writeNpy(codes, to: out) } catch { throw CommandFailure(error, context: out) }
        print("wrote \(out): codes \(codes.shape) (\(enc.config.encoderType.rawValue), raw, no latent_avg)")
    }
}
