import Foundation

extension NVLabsSnapshot {
    /// The network's architecture config as JSON text.
    ///
    /// For a StyleGAN2 `Generator` this is the `config` metadata format of LatentLab's
    /// safetensors models (`Generator(**config)` keyword names):
    /// `{"z_dim": …, "c_dim": …, "w_dim": …, "img_resolution": …, "img_channels": …,
    /// "mapping_kwargs": {"num_layers": …}, "channel_base": …, "channel_max": …,
    /// "num_fp16_res": …, "conv_clamp": …}`, followed by any further synthesis keywords the
    /// snapshot recorded (e.g. `"architecture"`; the speed-only `fused_modconv_default` is
    /// dropped). It comes from `_init_kwargs` (flattening the
    /// stylegan2-ada `synthesis_kwargs`; NVlabs defaults for keywords left out) and is checked
    /// against the tensor shapes; without `_init_kwargs` it is inferred from the shapes
    /// (`num_fp16_res` 0 and `conv_clamp` null then, which shapes cannot tell).
    /// For other networks it is `_init_kwargs` as recorded.
    public func configJSON(network: String = "G_ema") throws -> String {
        try configWithSource(network: network).json
    }

    /// The config and where it came from (`"init_kwargs"` or `"inferred from tensor shapes"`).
    public func configWithSource(network: String) throws -> (json: String, source: String) {
        let m = try module(network: network)
        return try wrap {
            if m.className == "Generator" {
                let shapes = try GeneratorShapes(try m.stateTensors())
                return try generatorConfig(m, shapes)
            }
            let kw = try m.mergedInitKwargs()
            guard !kw.isEmpty else { throw PickleError("network '\(network)' (\(m.className)) recorded no _init_kwargs") }
            return (try jsonObjectText(kw, path: network), "init_kwargs")
        }
    }
}

/// Architecture facts read off a StyleGAN2 generator's `state_dict()` shapes
/// (`training/networks_stylegan2.py`: `MappingNetwork`, `SynthesisNetwork`).
struct GeneratorShapes {
    var fc0In = 0, wDim = 0, numLayers = 0
    /// `mapping.embed.weight` `[embed_features, c_dim]` when conditional.
    var embed: (features: Int, cDim: Int)?
    /// Block resolutions 4, 8, …, img_resolution.
    var resolutions: [Int] = []
    /// Output channels of each block (`b{res}.conv1.weight[0]`).
    var channels: [Int: Int] = [:]
    var imgChannels = 0
    /// `skip`, `resnet` or `orig` (`SynthesisBlock` creates `torgb` in every block only for skip).
    var architecture = "skip"

    init(_ tensors: [(name: String, tensor: TorchTensor)]) throws {
        var shape: [String: [Int]] = [:]
        for (n, t) in tensors { shape[n] = t.size }
        if shape["synthesis.input.affine.weight"] != nil {
            throw PickleError("this is a StyleGAN3 generator (synthesis.input.*), which LatentLab does not support")
        }
        guard shape["synthesis.b4.const"] != nil else {
            throw PickleError("not a StyleGAN2 generator: no synthesis.b4.const")
        }
        while let w = shape["mapping.fc\(numLayers).weight"], w.count == 2 {
            if numLayers == 0 { fc0In = w[1] }
            wDim = w[0]
            numLayers += 1
        }
        guard numLayers > 0 else { throw PickleError("not a StyleGAN2 generator: no mapping.fc0.weight") }
        if let e = shape["mapping.embed.weight"], e.count == 2 { embed = (e[0], e[1]) }
        var res = 4, torgbs = 0
        while let w = shape["synthesis.b\(res).conv1.weight"], w.count == 4 {
            resolutions.append(res)
            channels[res] = w[0]
            if let rgb = shape["synthesis.b\(res).torgb.weight"], rgb.count == 4 { imgChannels = rgb[0]; torgbs += 1 }
            res *= 2
        }
        guard imgChannels > 0 else { throw PickleError("not a StyleGAN2 generator: no torgb layer") }
        if torgbs < resolutions.count {
            architecture = tensors.contains { $0.name.hasSuffix(".skip.weight") } ? "resnet" : "orig"
        }
    }

    /// The channel_base/channel_max pair that reproduces `channels` through
    /// `min(channel_base // res, channel_max)`, choosing the smallest channel_base.
    func channelBaseMax() throws -> (base: Int, max: Int) {
        let cmax = channels.values.max() ?? 0
        let top = resolutions.last ?? 4
        let below = resolutions.filter { channels[$0]! < cmax }
        let base = below.last.map { channels[$0]! * $0 } ?? cmax * top
        for r in resolutions where min(base / r, cmax) != channels[r]! {
            throw PickleError("block channels \(resolutions.map { channels[$0]! }) follow no channel_base/channel_max rule")
        }
        return (base, cmax)
    }
}

/// Key order of the `config` metadata in LatentLab's stylegan2 safetensors.
private let topKeys = ["z_dim", "c_dim", "w_dim", "img_resolution", "img_channels"]
/// Synthesis keywords that only choose a faster code path with the same result
/// (stylegan3-repo snapshots record `fused_modconv_default='inference_only'`); left out of the config.
private let speedOnlyKeys: Set<String> = ["fused_modconv_default"]
private let synthesisDefaults: [(String, PickleValue)] = [
    ("channel_base", .int(32768)), ("channel_max", .int(512)), ("num_fp16_res", .int(4)), ("conv_clamp", .none),
]

private func generatorConfig(_ m: NVLabsModule, _ shapes: GeneratorShapes) throws -> (json: String, source: String) {
    let kw = try m.mergedInitKwargs()
    guard !kw.isEmpty else { return (try inferredConfig(shapes), "inferred from tensor shapes") }

    var top: [String: PickleValue] = [:], mapping: [(key: String, value: PickleValue)] = [], synthesis: [(key: String, value: PickleValue)] = []
    for (k, v) in kw {
        switch k {
        case _ where topKeys.contains(k): top[k] = v
        case "mapping_kwargs", "synthesis_kwargs":
            guard let d = v.dictValue else { throw PickleError("Generator \(k) is \(v), not a dict") }
            for (kk, vv) in d.items {
                guard let ks = kk.stringValue else { throw PickleError("Generator \(k) has a non-string key") }
                if k == "mapping_kwargs" { mapping.append((ks, vv)) } else { synthesis.append((ks, vv)) }
            }
        default: synthesis.append((k, v)) // stylegan3-repo Generators take synthesis keywords flat
        }
    }
    func int(_ v: PickleValue?, _ name: String) throws -> Int {
        guard let i = v?.intValue else { throw PickleError("Generator \(name) is \(v ?? .none), not an integer") }
        return i
    }
    let z = try int(top["z_dim"], "z_dim"), c = try int(top["c_dim"], "c_dim"), w = try int(top["w_dim"], "w_dim")
    let res = try int(top["img_resolution"], "img_resolution"), ch = try int(top["img_channels"], "img_channels")
    if !mapping.contains(where: { $0.key == "num_layers" }) { mapping.insert(("num_layers", .int(8)), at: 0) }
    var synth = synthesisDefaults.map { d in (d.0, synthesis.last { $0.key == d.0 }?.value ?? d.1) }
    synth += synthesis.filter { s in !synthesisDefaults.contains { $0.0 == s.key } && !speedOnlyKeys.contains(s.key) }

    // The recorded arguments must describe the tensors we convert.
    let layers = try int(mapping.first { $0.key == "num_layers" }?.value, "mapping_kwargs.num_layers")
    let base = try int(synth[0].1, "channel_base"), cmax = try int(synth[1].1, "channel_max")
    var problems: [String] = []
    if layers != shapes.numLayers { problems.append("num_layers \(layers) vs \(shapes.numLayers) mapping layers") }
    if w != shapes.wDim { problems.append("w_dim \(w) vs \(shapes.wDim)") }
    if z + (c > 0 ? shapes.embed?.features ?? 0 : 0) != shapes.fc0In { problems.append("z_dim \(z) vs mapping.fc0 input \(shapes.fc0In)") }
    if c != (shapes.embed?.cDim ?? 0) { problems.append("c_dim \(c) vs \(shapes.embed?.cDim ?? 0)") }
    if res != shapes.resolutions.last { problems.append("img_resolution \(res) vs last block \(shapes.resolutions.last ?? 0)") }
    if ch != shapes.imgChannels { problems.append("img_channels \(ch) vs \(shapes.imgChannels)") }
    for r in shapes.resolutions where base > 0 && min(base / r, cmax) != shapes.channels[r]! {
        problems.append("b\(r) has \(shapes.channels[r]!) channels, channel_base \(base)/channel_max \(cmax) give \(min(base / r, cmax))")
    }
    if !problems.isEmpty {
        throw PickleError("Generator _init_kwargs disagree with its tensors: " + problems.joined(separator: "; "))
    }

    var entries: [(key: String, value: PickleValue)] = topKeys.map { ($0, top[$0]!) }
    let mappingDict = PickleDict()
    for (k, v) in mapping { try mappingDict.set(.string(k), v) }
    entries.append(("mapping_kwargs", .dict(mappingDict)))
    entries += synth.map { ($0.0, $0.1) }
    return (try jsonObjectText(entries, path: "config"), "init_kwargs")
}

private func inferredConfig(_ s: GeneratorShapes) throws -> String {
    let (base, cmax) = try s.channelBaseMax()
    let mapping = PickleDict()
    try mapping.set(.string("num_layers"), .int(s.numLayers))
    var entries: [(key: String, value: PickleValue)] = [
        ("z_dim", .int(s.fc0In - (s.embed?.features ?? 0))), ("c_dim", .int(s.embed?.cDim ?? 0)), ("w_dim", .int(s.wDim)),
        ("img_resolution", .int(s.resolutions.last!)), ("img_channels", .int(s.imgChannels)),
        ("mapping_kwargs", .dict(mapping)),
        ("channel_base", .int(base)), ("channel_max", .int(cmax)), ("num_fp16_res", .int(0)), ("conv_clamp", .none),
    ]
    if s.architecture != "skip" { entries.append(("architecture", .string(s.architecture))) }
    return try jsonObjectText(entries, path: "config")
}

/// `{"k": v, …}` in `json.dumps` style from ordered entries.
func jsonObjectText(_ entries: [(key: String, value: PickleValue)], path: String) throws -> String {
    let parts = try entries.map { jsonQuoted($0.key) + ": " + (try $0.value.jsonText(path: "\(path).\($0.key)")) }
    return "{" + parts.joined(separator: ", ") + "}"
}
