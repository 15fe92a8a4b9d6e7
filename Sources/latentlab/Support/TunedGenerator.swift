import Foundation
import LatentTensor
import LatentCore
import LatentInversion
import LatentModels

/// A latent's folder from `--method pti` holds `generator-delta.safetensors`: its latent only
/// reproduces the image with the base generator plus that delta, so edits render with it.
struct TunedGenerator {
    let generator: StyleGAN2Generator
    /// The delta file applied.
    let deltaPath: String
    let rank: Int?

    /// The tuned generator for the latent at `latentPath`, or nil when its folder holds no delta.
    /// - Throws: `CommandFailure` naming the delta file when it cannot be read or was made for
    ///   another base generator than `base` (one line with both fingerprints).
    static func forLatent(at latentPath: String, base: StyleGAN2Generator) throws -> TunedGenerator? {
        guard let path = GeneratorDelta.path(besideLatent: latentPath) else { return nil }
        do {
            let delta = try GeneratorDelta.read(path: path)
            return TunedGenerator(generator: try delta.applied(to: base), deltaPath: path, rank: delta.rank)
        } catch { throw CommandFailure(error, context: path) }
    }

    /// What an edit record says about it.
    var record: [String: RecordValue] {
        ["tuned_generator": .string(deltaPath), "tuned_generator_fingerprint": .string(generator.fingerprint),
         "tuned_generator_rank": rank.map { .int($0) } ?? .string("full")]
    }
}
