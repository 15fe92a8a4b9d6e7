import Foundation
import LatentFormats

/// Architecture of an NVlabs StyleGAN2 generator, parsed from the `config` metadata JSON of a
/// checkpoint (the keyword arguments of `training/networks_stylegan2.py` `Generator(**config)`).
///
/// Only what changes the fp32 math is kept: `num_fp16_res`, `fp16_channels_last` and
/// `fused_modconv_default` are accepted and ignored (we always compute in fp32 with the
/// non-fused formulation, which is the same function).
public struct StyleGAN2Config: Sendable, Equatable {
    public var zDim: Int
    public var wDim: Int
    public var imgResolution: Int
    public var imgChannels: Int
    /// `mapping_kwargs.num_layers` (reference default 8).
    public var mappingLayers: Int
    /// `mapping_kwargs.lr_multiplier` (reference default 0.01).
    public var mappingLrMultiplier: Float
    /// Reference default 32768.
    public var channelBase: Int
    /// Reference default 512.
    public var channelMax: Int
    /// Clamp of the convolution outputs, nil = none (reference `conv_clamp`).
    public var convClamp: Float?
    /// Explicit channels per block resolution, replacing `min(channel_base / res, channel_max)`.
    /// Not an NVlabs option: converted rosinality generators whose channel table the NVlabs
    /// formula cannot express (e.g. `channel_multiplier` 1, or hand-reduced tables) carry it as the
    /// config key `channels` (`{"4": 512, "8": 512, …}`). nil for NVlabs checkpoints.
    public var channelsByResolution: [Int: Int]? = nil

    public init(zDim: Int, wDim: Int, imgResolution: Int, imgChannels: Int = 3, mappingLayers: Int = 8,
                mappingLrMultiplier: Float = 0.01, channelBase: Int = 32768, channelMax: Int = 512,
                convClamp: Float? = nil) {
        self.zDim = zDim; self.wDim = wDim; self.imgResolution = imgResolution; self.imgChannels = imgChannels
        self.mappingLayers = mappingLayers; self.mappingLrMultiplier = mappingLrMultiplier
        self.channelBase = channelBase; self.channelMax = channelMax; self.convClamp = convClamp
    }

    /// `[4, 8, …, imgResolution]`.
    public var blockResolutions: [Int] {
        var r = [Int](), res = 4
        while res <= imgResolution { r.append(res); res *= 2 }
        return r
    }

    /// Channels of the block at `res`: `min(channel_base // res, channel_max)`.
    public func channels(at res: Int) -> Int { channelsByResolution?[res] ?? min(channelBase / res, channelMax) }

    /// Number of `w` vectors the synthesis network consumes: one per conv layer plus the last ToRGB.
    public var numWs: Int { 2 * blockResolutions.count }

    /// Checks the values are a generator we can build.
    public func validate(source: String) throws {
        func fail(_ why: String) -> FormatError { FormatError(source, "StyleGAN2 config: \(why)") }
        guard zDim > 0, wDim > 0 else { throw fail("z_dim and w_dim must be positive (got \(zDim), \(wDim))") }
        guard imgResolution >= 4, imgResolution & (imgResolution - 1) == 0 else {
            throw fail("img_resolution must be a power of two >= 4 (got \(imgResolution))")
        }
        guard imgChannels > 0 else { throw fail("img_channels must be positive") }
        guard mappingLayers >= 1 else { throw fail("mapping num_layers must be >= 1") }
        guard channelBase > 0, channelMax > 0 else { throw fail("channel_base/channel_max must be positive") }
        guard blockResolutions.allSatisfy({ channels(at: $0) > 0 }) else {
            throw fail("channel_base \(channelBase) gives zero channels at resolution \(imgResolution)")
        }
        if let c = convClamp, !(c >= 0) { throw fail("conv_clamp must be >= 0") }
        if let table = channelsByResolution {
            guard blockResolutions.allSatisfy({ (table[$0] ?? 0) > 0 }), table.keys.allSatisfy(blockResolutions.contains) else {
                throw fail("'channels' must give a positive count for exactly the resolutions \(blockResolutions) (got \(table.sorted { $0.key < $1.key }))")
            }
        }
    }

    /// Parses the `config` JSON of a checkpoint. `source` names the file in errors.
    public init(json: String, source: String) throws {
        func fail(_ why: String) -> FormatError { FormatError(source, "StyleGAN2 config: \(why)") }
        guard let data = json.data(using: .utf8),
              let obj = try? JSONSerialization.jsonObject(with: data), let d = obj as? [String: Any] else {
            throw fail("metadata 'config' is not a JSON object")
        }
        func int(_ dict: [String: Any], _ key: String, default def: Int? = nil) throws -> Int {
            guard let v = dict[key], !(v is NSNull) else {
                if let def { return def }
                throw fail("missing '\(key)'")
            }
            guard let n = v as? NSNumber, let i = Int(exactly: n.doubleValue) else { throw fail("'\(key)' must be an integer") }
            return i
        }
        let known: Set<String> = ["z_dim", "c_dim", "w_dim", "img_resolution", "img_channels", "mapping_kwargs",
                                  "channel_base", "channel_max", "num_fp16_res", "conv_clamp", "architecture",
                                  "resample_filter", "fp16_channels_last", "fused_modconv_default", "use_noise",
                                  "activation", "kernel_size", "channels"]
        if let extra = d.keys.first(where: { !known.contains($0) }) { throw fail("unsupported key '\(extra)'") }
        let cDim = try int(d, "c_dim", default: 0)
        guard cDim == 0 else { throw fail("conditional generators (c_dim = \(cDim)) are not supported") }
        if let a = d["architecture"] as? String, a != "skip" {
            throw fail("architecture '\(a)' is not supported (only the default 'skip')")
        }
        if let f = d["resample_filter"] as? [NSNumber], f.map(\.doubleValue) != [1, 3, 3, 1] {
            throw fail("resample_filter \(f) is not supported (only [1, 3, 3, 1])")
        }
        if let u = d["use_noise"] as? Bool, !u { throw fail("use_noise = false is not supported") }
        if let a = d["activation"] as? String, a != "lrelu" { throw fail("synthesis activation '\(a)' is not supported") }
        if d["kernel_size"] != nil, try int(d, "kernel_size") != 3 { throw fail("kernel_size must be 3") }
        var mappingLayers = 8
        var lr: Float = 0.01
        if let mk = d["mapping_kwargs"] {
            guard let m = mk as? [String: Any] else { throw fail("'mapping_kwargs' must be an object") }
            let mKnown: Set<String> = ["num_layers", "lr_multiplier", "w_avg_beta", "activation", "layer_features",
                                       "embed_features", "freeze_layers", "freeze_embed"]
            if let extra = m.keys.first(where: { !mKnown.contains($0) }) { throw fail("unsupported mapping_kwargs key '\(extra)'") }
            mappingLayers = try int(m, "num_layers", default: 8)
            if let v = m["lr_multiplier"] as? NSNumber { lr = v.floatValue }
            if let a = m["activation"] as? String, a != "lrelu" { throw fail("mapping activation '\(a)' is not supported") }
            if let lf = m["layer_features"], !(lf is NSNull) {
                guard let n = lf as? NSNumber, n.intValue == (try int(d, "w_dim")) else {
                    throw fail("mapping layer_features different from w_dim is not supported")
                }
            }
        }
        var table: [Int: Int]? = nil
        if let c = d["channels"], !(c is NSNull) {
            guard let obj = c as? [String: Any] else { throw fail("'channels' must be an object {\"resolution\": channels}") }
            var t = [Int: Int]()
            for (k, v) in obj {
                guard let res = Int(k), let n = v as? NSNumber, let ch = Int(exactly: n.doubleValue) else {
                    throw fail("'channels' entry \"\(k)\": \(v) is not resolution: integer")
                }
                t[res] = ch
            }
            table = t
        }
        var clamp: Float? = nil
        if let c = d["conv_clamp"], !(c is NSNull) {
            guard let n = c as? NSNumber else { throw fail("'conv_clamp' must be a number or null") }
            clamp = n.floatValue
        }
        self.init(zDim: try int(d, "z_dim"), wDim: try int(d, "w_dim"), imgResolution: try int(d, "img_resolution"),
                  imgChannels: try int(d, "img_channels", default: 3), mappingLayers: mappingLayers,
                  mappingLrMultiplier: lr, channelBase: try int(d, "channel_base", default: 32768),
                  channelMax: try int(d, "channel_max", default: 512), convClamp: clamp)
        channelsByResolution = table
        try validate(source: source)
    }

    /// The config as NVlabs keyword-argument JSON (for writing checkpoints).
    public var json: String {
        let clamp = convClamp.map { "\($0)" } ?? "null"
        return "{\"z_dim\": \(zDim), \"c_dim\": 0, \"w_dim\": \(wDim), \"img_resolution\": \(imgResolution), "
            + "\"img_channels\": \(imgChannels), \"mapping_kwargs\": {\"num_layers\": \(mappingLayers), "
            + "\"lr_multiplier\": \(mappingLrMultiplier)}, \"channel_base\": \(channelBase), "
            + "\"channel_max\": \(channelMax), \"num_fp16_res\": 0, \"conv_clamp\": \(clamp)\(channelsJSON)}"
    }

    /// `, "channels": {"4": 64, …}` when the table is explicit, else empty.
    var channelsJSON: String {
        guard let t = channelsByResolution else { return "" }
        return ", \"channels\": {" + t.keys.sorted().map { "\"\($0)\": \(t[$0]!)" }.joined(separator: ", ") + "}"
    }
}
