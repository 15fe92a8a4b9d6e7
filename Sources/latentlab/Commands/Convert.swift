import ArgumentParser
import Foundation
import LatentFormats
import LatentModels

/// `latentlab convert SNAPSHOT.pkl OUT.safetensors`: NVIDIA training snapshots to safetensors,
/// without executing any pickled code.
struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert an NVIDIA StyleGAN2 training snapshot (.pkl) to safetensors.",
        discussion: """
        The snapshot is read by a restricted unpickler that knows only the opcodes and globals these files use;
        anything else is refused and nothing in the file is executed. The architecture config goes into the
        safetensors metadata ('config'), so the result loads with --network.
        """)

    @Argument(help: "NVIDIA snapshot (network-snapshot-*.pkl).") var snapshot: String
    @Argument(help: "Output .safetensors file.") var out: String
    @Option(help: "Which network to convert: G_ema (default) or G.") var network: String = "G_ema"

    func run() throws {
        let (tensors, metadata) = try convertSnapshot(path: snapshot, network: network)
        try writeSafeTensors(tensors, metadata: metadata, to: out)
        // Loading the result proves it is a complete generator before we report success.
        let g = try StyleGAN2Generator(path: out)
        print("wrote \(out): \(tensors.count) tensors, \(g.resolution)×\(g.resolution), numWs \(g.numWs), fingerprint \(g.fingerprint)")
    }
}
