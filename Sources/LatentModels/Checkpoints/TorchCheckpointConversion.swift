import Foundation
import LatentTensor
import LatentFormats

/// What `convertTorchCheckpoint` found and converted.
public struct TorchCheckpointConversion {
    public enum Kind: String, Sendable {
        /// rosinality `{'g_ema': …, 'latent_avg': …}` (StyleCLIP and many repositories).
        case rosinalityGenerator = "rosinality generator"
        /// pSp/e4e training-coach checkpoint `{'state_dict': encoder.* + decoder.*, 'opts', 'latent_avg'}`.
        case pspEncoder = "pSp/e4e checkpoint"
    }
    public var kind: Kind
    /// The generator as NVlabs-named tensors with stylegan2 metadata (loads with `--network`).
    public var generator: (tensors: [(name: String, tensor: Tensor)], metadata: [String: String])
    /// pSp/e4e only: the encoder's official names (without `encoder.`), `latent_avg`, metadata
    /// `config` (`PSPEncoderConfig` JSON) and `opts` (the checkpoint's options as JSON).
    public var encoder: (tensors: [(name: String, tensor: Tensor)], metadata: [String: String])?
    /// The built generator (proof that the tensors are complete and consistent).
    public var builtGenerator: StyleGAN2Generator
    /// The built encoder; nil when the conversion was asked not to require a complete one.
    public var builtEncoder: PSPEncoder?
}

/// Converts a PyTorch `.pt` checkpoint (torch's zip format, read without executing code) to
/// LatentLab tensor sets: a rosinality generator, or a pSp/e4e checkpoint's decoder and encoder.
///
/// - Parameters:
///   - path: the `.pt` file.
///   - requireCompleteEncoder: build the encoder and refuse the file when its tensors are not a
///     complete `GradualStyleEncoder` / `Encoder4Editing` (default). `false` converts what is
///     there (for inspecting truncated or partial checkpoints); the generator is always checked.
/// - Throws: `FormatError(path, …)` for unsafe, truncated or malformed files and unsupported
///   checkpoint layouts (e.g. ReStyle's `BackboneEncoder`).
public func convertTorchCheckpoint(path: String, requireCompleteEncoder: Bool = true) throws -> TorchCheckpointConversion {
    let ckpt = try TorchCheckpoint(path: path)
    let name = (path as NSString).lastPathComponent
    guard let root = ckpt.rootDict else {
        throw FormatError(path, "the checkpoint holds \(ckpt.root), not a dict ({'g_ema': …} or {'state_dict': …, 'opts': …})")
    }
    let latentAvg = root["latent_avg"]?.tensorValue
    if root["latent_avg"] != nil && latentAvg == nil, let v = root["latent_avg"], !v.isNone {
        throw FormatError(path, "'latent_avg' is \(v), not a tensor")
    }
    if root["g_ema"] != nil {
        let sd = try ckpt.tensorDict("g_ema")
        var g = try convertRosinalityGenerator(stateDict: sd, latentAvg: latentAvg, source: path)
        var built = try buildGenerator(g, source: "\(name) [g_ema]")
        if g.metadata["w_avg_source"] == "missing" { (g, built) = try withComputedWAvg(g, built, source: "\(name) [g_ema]") }
        return TorchCheckpointConversion(kind: .rosinalityGenerator, generator: g, encoder: nil, builtGenerator: built, builtEncoder: nil)
    }
    guard root["state_dict"] != nil else {
        throw FormatError(path, "not a rosinality or pSp/e4e checkpoint: top-level keys are \(ckpt.topLevelKeys.joined(separator: ", ")) (expected 'g_ema' or 'state_dict')")
    }
    let sd = try ckpt.tensorDict("state_dict")
    var encoderPart = [(name: String, tensor: TorchTensor)](), decoderPart = [(name: String, tensor: TorchTensor)]()
    for (k, t) in sd {
        if k.hasPrefix("encoder.") { encoderPart.append((String(k.dropFirst(8)), t)) }
        else if k.hasPrefix("decoder.") { decoderPart.append((String(k.dropFirst(8)), t)) }
        else { throw FormatError(path, "state_dict entry '\(k)' is neither encoder.* nor decoder.* (not a pSp/e4e checkpoint)") }
    }
    guard !encoderPart.isEmpty, !decoderPart.isEmpty else {
        throw FormatError(path, "state_dict lacks the \(encoderPart.isEmpty ? "encoder" : "decoder") part of a pSp/e4e checkpoint")
    }
    var g = try convertRosinalityGenerator(stateDict: decoderPart, latentAvg: latentAvg, source: path)
    var builtG = try buildGenerator(g, source: "\(name) [decoder]")
    if g.metadata["w_avg_source"] == "missing" { (g, builtG) = try withComputedWAvg(g, builtG, source: "\(name) [decoder]") }

    let opts = try root["opts"].map { v -> PickleDict in
        guard let d = v.dictValue else { throw FormatError(path, "'opts' is \(v), not a dict of options") }
        return d
    }
    let config = try pspEncoderConfig(opts: opts, generatorResolution: builtG.resolution, hasLatentAvg: latentAvg != nil, path: path)
    var tensors = [(name: String, tensor: Tensor)]()
    for (k, t) in encoderPart {
        guard t.dtype.isFloatingPoint || k.hasSuffix("num_batches_tracked") else {
            throw FormatError(path, "encoder tensor '\(k)' has dtype \(t.dtype.name), expected a floating-point type")
        }
        if k.hasSuffix("num_batches_tracked") { continue }   // training counter, never read
        tensors.append((k, t.floatTensor()))
    }
    if let latentAvg {
        guard latentAvg.dtype.isFloatingPoint else { throw FormatError(path, "'latent_avg' has dtype \(latentAvg.dtype.name)") }
        tensors.append(("latent_avg", latentAvg.floatTensor()))
    }
    var builtE: PSPEncoder?
    if requireCompleteEncoder {
        var dict = [String: Tensor]()
        for (k, t) in tensors { dict[k] = t }
        builtE = try PSPEncoder(config: config, tensors: dict, source: "\(path) [encoder]")
    }
    var metadata = ["format": "psp-encoder", "config": config.json, "source": name]
    if let opts { metadata["opts"] = try wrapPickle(path) { try PickleValue.dict(opts).jsonText(path: "opts") } }
    return TorchCheckpointConversion(kind: .pspEncoder, generator: g, encoder: (tensors, metadata),
                                     builtGenerator: builtG, builtEncoder: builtE)
}

/// The encoder config from a checkpoint's `opts`: `encoder_type` (default GradualStyleEncoder, as
/// pSp's option default), `stylegan_size` (e4e) or `output_size` (pSp), else the decoder's
/// resolution, `input_nc` (default 3), `start_from_latent_avg` (default: whether the checkpoint has
/// a `latent_avg`). `psp.py` builds every encoder as IR-SE50, so `num_layers` 50 and `mode` ir_se.
func pspEncoderConfig(opts: PickleDict?, generatorResolution: Int, hasLatentAvg: Bool, path: String) throws -> PSPEncoderConfig {
    func fail(_ why: String) -> FormatError { FormatError(path, "opts: \(why)") }
    let typeName = opts?["encoder_type"]?.stringValue ?? PSPEncoderConfig.EncoderType.gradualStyleEncoder.rawValue
    guard let type = PSPEncoderConfig.EncoderType(rawValue: typeName) else {
        throw fail("encoder_type '\(typeName)' is not supported (only GradualStyleEncoder and Encoder4Editing; ReStyle's backbone encoders are not yet)")
    }
    var size = generatorResolution
    for key in ["stylegan_size", "output_size"] {
        if let v = opts?[key], !v.isNone {
            guard let s = v.intValue else { throw fail("'\(key)' is \(v), not an integer") }
            guard s == generatorResolution else { throw fail("'\(key)' is \(s) but the decoder generates \(generatorResolution)×\(generatorResolution)") }
            size = s
        }
    }
    var inputNc = 3
    if let v = opts?["input_nc"], !v.isNone {
        guard let n = v.intValue else { throw fail("'input_nc' is \(v), not an integer") }
        inputNc = n
    }
    var start = hasLatentAvg
    if let v = opts?["start_from_latent_avg"], !v.isNone {
        guard let b = v.boolValue else { throw fail("'start_from_latent_avg' is \(v), not a boolean") }
        start = b
    }
    if start && !hasLatentAvg { throw fail("start_from_latent_avg is set but the checkpoint has no 'latent_avg'") }
    if let v = opts?["learn_in_w"], v.boolValue == true { throw fail("learn_in_w encoders (one w for all styles) are not supported") }
    let config = PSPEncoderConfig(encoderType: type, numLayers: 50, mode: .irSE, styleganSize: size, inputNc: inputNc,
                                  startFromLatentAvg: start)
    try config.validate(source: path)
    return config
}

/// The generator with `mapping.w_avg` = `computeWAvg(generator:)`, for checkpoints without `latent_avg`.
private func withComputedWAvg(_ g: (tensors: [(name: String, tensor: Tensor)], metadata: [String: String]), _ built: StyleGAN2Generator,
                              source: String) throws -> ((tensors: [(name: String, tensor: Tensor)], metadata: [String: String]), StyleGAN2Generator) {
    let mean = computeWAvg(generator: built)
    var out = g
    out.tensors = g.tensors.map { $0.name == "mapping.w_avg" ? ($0.name, mean) : $0 }
    out.metadata["w_avg_source"] = "mean of mapping(z) over z = RandomState(seed).randn for seeds 0-\(computedWAvgSamples - 1) (the checkpoint has no latent_avg)"
    return (out, try buildGenerator(out, source: source))
}

private func buildGenerator(_ g: (tensors: [(name: String, tensor: Tensor)], metadata: [String: String]), source: String) throws -> StyleGAN2Generator {
    let config = try StyleGAN2Config(json: g.metadata["config"] ?? "", source: source)
    var parameters = [String: Tensor]()
    for (k, t) in g.tensors { parameters[k] = t }
    return try StyleGAN2Generator(config: config, parameters: parameters, source: source)
}

private func wrapPickle<T>(_ path: String, _ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as PickleError { throw FormatError(path, e.reason) }
}
