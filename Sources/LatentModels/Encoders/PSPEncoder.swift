import Foundation
import LatentTensor
import LatentFormats

/// A pSp or e4e encoder with its config and `latent_avg`, loaded from an encoder safetensors
/// file (written by `latentlab convert` from an official checkpoint):
///
/// - tensors: the official `Encoder4Editing` / `GradualStyleEncoder` `state_dict()` names
///   (`input_layer.0.weight`, `body.3.shortcut_layer.1.running_var`, `styles.7.linear.weight`,
///   `latlayer1.bias`, …), with or without the `encoder.` prefix the pSp container gives them;
/// - `latent_avg`: `[512]`, `[1, 512]` or `[styleCount, 512]` (pSp training repeats it per style);
///   optional when `start_from_latent_avg` is false;
/// - metadata `config`: `PSPEncoderConfig` JSON.
///
/// ```swift
/// let enc = try PSPEncoder(path: "e4e_ffhq_encode/encoder.safetensors")
/// let w = try enc.codes(x, addLatentAvg: true)   // x [N, 3, 256, 256] in [-1, 1] → [N, 18, 512]
/// ```
public struct PSPEncoder: Sendable {
    public let config: PSPEncoderConfig
    /// `[styleCount, 512]` (broadcast from the stored shape), nil when the file has none.
    public let latentAvg: Tensor?
    let heads: StyleHeads

    public var styleCount: Int { config.styleCount }

    /// Builds the encoder from official-name tensors (`encoder.` prefix allowed) and `latent_avg`.
    /// - Throws: `FormatError(source, …)` naming a missing, misshapen or unexpected tensor.
    public init(config: PSPEncoderConfig, tensors: [String: Tensor], source: String) throws {
        try config.validate(source: source)
        var named = [String: Tensor]()
        var avg: Tensor?
        let prefixed = tensors.keys.contains { $0.hasPrefix("encoder.") }
        for (k, v) in tensors {
            if k == "latent_avg" { avg = v; continue }
            if prefixed {
                guard k.hasPrefix("encoder.") else { throw FormatError(source, "encoder: tensor '\(k)' lacks the 'encoder.' prefix the others have") }
                named[String(k.dropFirst("encoder.".count))] = v
            } else {
                named[k] = v
            }
        }
        let w = EncoderWeights(tensors: named, source: source)
        heads = try StyleHeads(w, config: config)
        try w.checkAllUsed()
        self.config = config
        if let avg {
            latentAvg = try PSPEncoder.broadcastLatentAvg(avg, styleCount: config.styleCount, source: source)
        } else if config.startFromLatentAvg {
            throw FormatError(source, "encoder: start_from_latent_avg is set but the file has no 'latent_avg'")
        } else {
            latentAvg = nil
        }
    }

    /// The names and shapes of every tensor an encoder of `config` reads (official state-dict
    /// names without `encoder.`, `num_batches_tracked` and `latent_avg` excluded), in network order.
    public static func stateDictShapes(config: PSPEncoderConfig) throws -> [(name: String, shape: [Int])] {
        let w = EncoderWeights(listingShapesFor: "encoder config")
        _ = try StyleHeads(w, config: config)
        return w.requested
    }

    /// Loads an encoder safetensors file (see the type's documentation).
    public init(file: SafeTensorsFile) throws {
        guard let json = file.metadata["config"] else {
            throw FormatError(file.path, "not a pSp/e4e encoder: no 'config' in the safetensors metadata")
        }
        try self.init(config: try PSPEncoderConfig(json: json, source: file.path), tensors: try file.allTensors(), source: file.path)
    }

    public init(path: String) throws { try self.init(file: try SafeTensorsFile(path: path)) }

    /// `latent_avg` as `psp.py` adds it: `[512]` and `[1, 512]` broadcast to every style,
    /// `[styleCount, 512]` as is.
    static func broadcastLatentAvg(_ t: Tensor, styleCount: Int, source: String) throws -> Tensor {
        let d = t.shape.last ?? 0
        guard d == 512, t.count == 512 || t.shape == [styleCount, 512] else {
            throw FormatError(source, "encoder: latent_avg has shape \(t.shape), expected [512], [1, 512] or [\(styleCount), 512]")
        }
        if t.count == 512 { return Tensor.concatenate(Array(repeating: t.reshaped([1, 512]), count: styleCount)) }
        return t
    }

    /// Checks `x` is `[N, input_nc, H, W]` with 16 ≤ H, W ≤ 256 (the official models take 256×256;
    /// larger inputs do not reduce to 1×1 in the style blocks) and finite.
    public func validate(input x: Tensor) throws {
        func fail(_ why: String) -> StyleGAN2InputError { StyleGAN2InputError(argument: "encoder input", reason: why) }
        guard x.rank == 4, x.shape[1] == config.inputNc else {
            throw fail("shape \(x.shape), expected [N, \(config.inputNc), 256, 256]")
        }
        guard (16...256).contains(x.shape[2]), (16...256).contains(x.shape[3]) else {
            throw fail("spatial size \(x.shape[2])×\(x.shape[3]) is outside 16…256 (the encoders take 256×256)")
        }
        guard x.isFinite else { throw fail("has NaN or infinite values") }
    }

    /// The backbone features of `x` `[N, input_nc, H, W]`.
    public func features(_ x: Tensor) -> IRFeatures { heads.backbone(x) }

    /// The encoder's raw output `[N, styleCount, 512]` for given features (no `latent_avg`).
    public func rawCodes(features f: IRFeatures) -> Tensor {
        switch config.encoderType {
        case .gradualStyleEncoder: return GradualStyleEncoder(heads: heads).codes(features: f)
        case .encoder4Editing: return Encoder4Editing(heads: heads, progressiveStage: config.progressiveStage).codes(features: f)
        }
    }

    /// Codes of `x` `[N, input_nc, H, W]` (normalised as the encoder was trained, for pSp/e4e
    /// `(img − 0.5) / 0.5`): `[N, styleCount, 512]`. With `addLatentAvg` (and
    /// `start_from_latent_avg` in the config) `latent_avg` is added per style, as `models/psp.py`
    /// `forward` does; these are the W+ codes for the generator.
    public func codes(_ x: Tensor, addLatentAvg: Bool) throws -> Tensor {
        try validate(input: x)
        var c = rawCodes(features: features(x))
        if addLatentAvg && config.startFromLatentAvg, let avg = latentAvg {
            c += avg.reshaped([1, styleCount, 512])
        }
        return c
    }
}
