import ArgumentParser
import Foundation
import LatentFormats
import LatentModels

/// `--network`: a generator checkpoint (safetensors with the official key names); the embedded
/// default when omitted.
struct NetworkOptions: ParsableArguments {
    @Option(name: .long, help: "Generator checkpoint (.safetensors, official NVlabs key names). Default: the embedded scenes64 model.")
    var network: String?

    /// Loads `--network` (or the default model).
    /// - Throws: `CommandFailure` naming the file when it is missing, a folder, an NVIDIA pickle
    ///   (convert it first), another kind of file, or a safetensors checkpoint that is not a
    ///   StyleGAN2 generator.
    func loadGenerator() throws -> StyleGAN2Generator {
        guard let path = network else { return try StyleGAN2Generator.loadDefault() }
        let kind = try sniffFileKind(path: path)
        if kind == .pickle || path.lowercased().hasSuffix(".pkl") {
            throw CommandFailure("\(path): NVIDIA .pkl snapshots must be converted first: latentlab convert \(path) OUT.safetensors")
        }
        guard kind == .safetensors else {
            throw CommandFailure("\(path): \(kind.noun), not a generator checkpoint (a .safetensors file with a StyleGAN2 config)")
        }
        let file = try SafeTensorsFile(path: path)
        // The loader would only say which config key it does not know; the format names the culprit.
        if let format = file.metadata["format"], format != "stylegan2" {
            throw CommandFailure("\(path): not a StyleGAN2 generator (its metadata says format '\(format)')")
        }
        return try StyleGAN2Generator(file: file)
    }

    /// A short name for records: the file name, or "default:scenes64".
    var networkName: String { network.map { URL(fileURLWithPath: $0).lastPathComponent } ?? "default:scenes64" }
}
