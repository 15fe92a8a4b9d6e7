import Foundation
import LatentTensor
import LatentFormats
import LatentModels

/// Where the embedded default encoders live: the `scenes64` image encoder and the seg / sketch
/// guidance encoders shipped next to the embedded default generator (trained by
/// `latentlab train-encoder`; commands in `Bench/encoders.md` and `Latents/README.md`).
public enum DefaultEncoder {
    /// The image encoder (`--method encoder|hybrid` without `--encoder`).
    public static var url: URL { resource("scenes64-encoder") }

    /// The guidance encoder for `kind` (`translate --encoder seg|sketch`).
    public static func url(guidance kind: GuidanceKind) -> URL { resource("scenes64-\(kind.rawValue)-encoder") }

    /// Loads the embedded image encoder.
    public static func load() throws -> TrainedEncoder { try TrainedEncoder(path: url.path) }

    /// Loads the embedded guidance encoder for `kind`.
    public static func load(guidance kind: GuidanceKind) throws -> TrainedEncoder { try TrainedEncoder(path: url(guidance: kind).path) }

    static func resource(_ name: String) -> URL {
        Bundle.module.url(forResource: name, withExtension: "safetensors", subdirectory: "Resources")
            ?? Bundle.module.bundleURL.appendingPathComponent("Resources/\(name).safetensors")
    }
}

/// Loads any encoder file LatentLab reads: one trained by `train-encoder` (metadata `format`
/// `latentlab-e4e`) or an official pSp/e4e encoder converted by `latentlab convert` (metadata
/// `config` with `encoder_type`).
/// - Throws: `EncoderError` / `FormatError` naming `path` for anything else.
public func loadLatentEncoder(path: String) throws -> LatentEncoder {
    let file = try SafeTensorsFile(path: path)
    if file.metadata["format"] == EncoderFileConfig.formatName { return try TrainedEncoder(path: path) }
    if let json = file.metadata["config"], json.contains("encoder_type") {
        return try OfficialEncoder(encoder: PSPEncoder(file: file))
    }
    throw EncoderError("\(path): not an encoder file (neither a 'latentlab-e4e' encoder from train-encoder nor a pSp/e4e encoder from 'latentlab convert')")
}

/// Checks that `encoder` produces latents `generator` can render from images at its resolution.
/// - Returns: a note when the encoder was trained for another generator of the same shape
///   (it runs, but its codes were fitted to other weights), else nil.
/// - Throws: `EncoderError` when the shapes differ.
@discardableResult
public func checkEncoder(_ encoder: LatentEncoder, matches generator: StyleGAN2Generator) throws -> String? {
    guard encoder.numWs == generator.numWs, encoder.wDim == generator.wDim, encoder.resolution == generator.resolution else {
        throw EncoderError("the encoder makes \(encoder.numWs)×\(encoder.wDim) codes from \(encoder.resolution)² images; the generator needs \(generator.numWs)×\(generator.wDim) at \(generator.resolution)²")
    }
    if let trained = encoder as? TrainedEncoder, trained.config.generatorFingerprint != generator.fingerprint {
        return "the encoder was trained for generator \(trained.config.generatorFingerprint), not this one (\(generator.fingerprint)): its codes may fit poorly"
    }
    return nil
}
