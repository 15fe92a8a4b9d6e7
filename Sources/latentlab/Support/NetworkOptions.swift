import ArgumentParser
import Foundation
import LatentModels

/// `--network`: a generator checkpoint (safetensors with the official key names); the embedded
/// default when omitted.
struct NetworkOptions: ParsableArguments {
    @Option(name: .long, help: "Generator checkpoint (.safetensors, official NVlabs key names). Default: the embedded scenes64 model.")
    var network: String?

    func loadGenerator() throws -> StyleGAN2Generator {
        if let path = network {
            if path.lowercased().hasSuffix(".pkl") {
                throw ValidationError("\(path): NVIDIA .pkl snapshots must be converted first: latentlab convert \(path) OUT.safetensors")
            }
            return try StyleGAN2Generator(path: path)
        }
        return try StyleGAN2Generator.loadDefault()
    }

    /// A short name for records: the file name, or "default:scenes64".
    var networkName: String { network.map { URL(fileURLWithPath: $0).lastPathComponent } ?? "default:scenes64" }
}
