import ArgumentParser
import Foundation
import LatentFormats
import LatentTensor
import LatentModels

/// `latentlab convert SNAPSHOT.pkl OUT.safetensors`: NVIDIA training snapshots to safetensors,
/// without executing any pickled code.
struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert an NVIDIA snapshot (.pkl) or a PyTorch checkpoint (.pt) to safetensors.",
        discussion: """
        The snapshot is read by a restricted unpickler that knows only the opcodes and globals these files use; \
        anything else is refused and nothing in the file is executed. The architecture config goes into the \
        safetensors metadata ('config'), so the result loads with --network. The converted generator is \
        built and checked before anything is written; the output is written atomically.
        PyTorch .pt files (torch's zip format) are read the same way: a rosinality/stylegan2-pytorch generator \
        ({'g_ema', 'latent_avg'}, as StyleCLIP and many repositories ship) converts to OUT.safetensors with \
        NVIDIA's names; a pSp or e4e checkpoint converts to the folder OUT with generator.safetensors (its \
        decoder) and encoder.safetensors (the official encoder names without the 'encoder.' prefix, \
        latent_avg, and the options as metadata 'config').
        A .safetensors input (a generator or an encoder) is rewritten with every tensor in --dtype (f16 halves \
        the file: the embedded default encoder ships that way), metadata kept; the copy is loaded back as what \
        the original was before the command reports success.
        """)

    @Argument(help: "NVIDIA snapshot (network-snapshot-*.pkl) or PyTorch checkpoint (.pt).") var snapshot: String
    @Argument(help: "Output .safetensors file (a folder for pSp/e4e checkpoints).") var out: String
    @Option(help: "Which network to convert: G_ema (default) or G.") var network: String = "G_ema"
    @Flag(name: .customLong("partial-encoder"),
          help: "pSp/e4e: write encoder.safetensors even when the encoder's tensors are incomplete (to inspect truncated checkpoints; such a file does not load as an encoder).")
    var partialEncoder = false
    @Option(help: "For a .safetensors input: the dtype of the copy (f16, bf16 or f32).") var dtype: String = "f16"

    func validate() throws {
        guard !out.isEmpty else { throw ValidationError("the output path is empty") }
        if URL(fileURLWithPath: out).standardizedFileURL == URL(fileURLWithPath: snapshot).standardizedFileURL {
            throw ValidationError("the output would overwrite the snapshot \(snapshot)")
        }
    }

    func run() throws {
        if Convert.isTorchCheckpoint(snapshot) { _ = try sniffFileKind(path: snapshot); return try runTorch() }
        if snapshot.lowercased().hasSuffix(".safetensors") { return try runSafeTensorsCopy() }
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: out, isDirectory: &isDir), isDir.boolValue {
            throw CommandFailure("\(out): is a folder; give the output .safetensors file name")
        }
        // A missing file or a folder gets the same one-line error as in `inspect`.
        _ = try sniffFileKind(path: snapshot)
        let (tensors, metadata) = try convertSnapshot(path: snapshot, network: network)
        // Building the generator proves the tensor set is complete and consistent with the config
        // before a file exists that --network would later refuse.
        let config = try StyleGAN2Config(json: metadata["config"] ?? "", source: snapshot)
        var parameters: [String: Tensor] = [:]
        for (name, t) in tensors { parameters[name] = t }
        let g = try StyleGAN2Generator(config: config, parameters: parameters, source: "\(snapshot) [\(network)]")
        do { try writeSafeTensors(tensors, metadata: metadata, to: out) } catch { throw CommandFailure(error, context: out) }
        print("wrote \(out): \(network), \(tensors.count) tensors, \(g.resolution)×\(g.resolution), z \(g.zDim), w \(g.wDim), numWs \(g.numWs), fingerprint \(g.fingerprint)")
    }
}
