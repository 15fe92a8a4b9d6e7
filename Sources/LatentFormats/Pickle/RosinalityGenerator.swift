import Foundation
import LatentTensor

/// Converts a rosinality/stylegan2-pytorch `Generator` state dict (`g_ema` of a `.pt`, or the
/// `decoder.*` of a pSp/e4e checkpoint) into NVlabs `networks_stylegan2.Generator` names, so
/// LatentLab's generator reproduces rosinality's images.
///
/// The two implementations compute the same function (checked against
/// `../shared/golden/rosinality_tiny32_golden.safetensors`); only names, shapes and where the
/// equalized-learning-rate scale is applied differ:
///
/// | rosinality | NVlabs | note |
/// | --- | --- | --- |
/// | `style.{k}.weight/bias` (k = 1…n_mlp; `style.0` is PixelNorm) | `mapping.fc{k−1}.*` | both apply lr_mul/√in and lr_mul at run time (lr_mlp 0.01 assumed, rosinality's default) |
/// | `latent_avg` (`mean_latent`) | `mapping.w_avg` | truncation lerps toward it in both |
/// | `input.input` [1, C, 4, 4] | `synthesis.b4.const` [C, 4, 4] | |
/// | `conv1`, `convs.{2j}` (upsampling), `convs.{2j+1}` | `b4.conv1`, `b{8·2^j}.conv0`, `.conv1` | |
/// | `….conv.weight` [1, out, in, 3, 3] | `….weight` [out, in, 3, 3] × 1/√(in·9) | NVlabs applies no scale (demodulation cancels it but for the 1e-8 eps), so the scale is baked in |
/// | `….conv.modulation.weight/bias` | `….affine.weight/bias` | both scale by 1/√w_dim at run time |
/// | `….noise.weight` [1] | `….noise_strength` [] | `x + weight·noise`, added after the conv in both |
/// | `noises.noise_{i}` [1, 1, R, R] | `….noise_const` [R, R] | noise_0 → b4.conv1, noise_{2j+1} → conv0, noise_{2j+2} → conv1 |
/// | `….activate.bias` | `….bias` | bias then leaky ReLU 0.2 × √2 in both |
/// | `to_rgb1`, `to_rgbs.{j}` `conv.weight` [1, 3, in, 1, 1] | `b{res}.torgb.weight` [3, in, 1, 1] | raw: NVlabs multiplies the style by 1/√in |
/// | `to_rgb*.bias` [1, 3, 1, 1] | `torgb.bias` [3] | |
/// | `….blur.kernel`, `….upsample.kernel` | (fixed `setup_filter([1,3,3,1])`) | must be outer([1,3,3,1])/64 × 4 |
///
/// The up-sampling convolution needs no flip: rosinality and NVlabs both run `conv_transpose2d`
/// with the stored kernel followed by the [1,3,3,1] FIR (pad 1, gain 4); both flipped the
/// original TensorFlow kernels when porting.
///
/// - Parameters:
///   - stateDict: the generator's tensors with rosinality names (after stripping any `decoder.` prefix).
///   - latentAvg: `[w_dim]`, `[1, w_dim]` or `[n, w_dim]` (pSp stores it repeated per style; rows that
///     differ are averaged). nil (training checkpoints have none): `mapping.w_avg` is zeros and the
///     metadata `w_avg_source` is `missing`, for the caller to fill in (`convertTorchCheckpoint` does).
///   - source: the file name, for errors and the `source` metadata.
/// - Returns: NVlabs-named float32 tensors and metadata (`format` stylegan2, `architecture`,
///   `config` NVlabs JSON with `channels` when the table is not `min(channel_base/res, channel_max)`,
///   `source`, `converted_from`).
/// - Throws: `FormatError` naming the first missing, misshapen, non-float or unexpected tensor.
public func convertRosinalityGenerator(stateDict: [(name: String, tensor: TorchTensor)], latentAvg: TorchTensor?,
                                       source: String) throws -> (tensors: [(name: String, tensor: Tensor)], metadata: [String: String]) {
    func fail(_ why: String) -> FormatError { FormatError(source, "rosinality generator: \(why)") }
    var sd = [String: TorchTensor]()
    for (k, t) in stateDict { sd[k] = t }
    var used = Set<String>()
    func take(_ name: String, _ shape: [Int]? = nil) throws -> Tensor {
        guard let t = sd[name] else { throw fail("missing tensor '\(name)'") }
        guard t.dtype.isFloatingPoint else { throw fail("tensor '\(name)' has dtype \(t.dtype.name), expected a floating-point type") }
        if let shape, t.size != shape { throw fail("tensor '\(name)' has shape \(t.size), expected \(shape)") }
        used.insert(name)
        let f = t.floatTensor()
        guard f.isFinite else { throw fail("tensor '\(name)' has NaN or infinite values") }
        return f
    }

    // Shapes that fix the config.
    guard let modW = sd["conv1.conv.modulation.weight"], modW.size.count == 2 else { throw fail("missing tensor 'conv1.conv.modulation.weight'") }
    let wDim = modW.size[1]
    var nMLP = 0
    while sd["style.\(nMLP + 1).weight"] != nil { nMLP += 1 }
    guard nMLP >= 1 else { throw fail("no mapping layers ('style.1.weight' missing)") }
    var nRGB = 0
    while sd["to_rgbs.\(nRGB).conv.weight"] != nil { nRGB += 1 }
    let resolution = 4 << nRGB
    guard let inputT = sd["input.input"], inputT.size.count == 4 else { throw fail("missing tensor 'input.input'") }
    var channels = [4: inputT.size[1]]
    for j in 0..<nRGB {
        guard let w = sd["convs.\(2 * j).conv.weight"], w.size.count == 5 else { throw fail("missing tensor 'convs.\(2 * j).conv.weight'") }
        channels[8 << j] = w.size[1]
    }

    var out = [(name: String, tensor: Tensor)]()
    func put(_ name: String, _ t: Tensor) { out.append((name, t)) }
    for k in 1...nMLP {
        put("mapping.fc\(k - 1).weight", try take("style.\(k).weight", [wDim, wDim]))
        put("mapping.fc\(k - 1).bias", try take("style.\(k).bias", [wDim]))
    }
    var wAvgSource = "latent_avg"
    if let avgT = latentAvg {
    guard avgT.dtype.isFloatingPoint, avgT.size.last == wDim, avgT.count % wDim == 0, avgT.count > 0 else {
        throw fail("latent_avg has shape \(avgT.size) (\(avgT.dtype.name)), expected [\(wDim)] or [n, \(wDim)]")
    }
    // pSp stores latent_avg repeated per style: identical rows give row 0 exactly, else the mean.
    let avgRows = avgT.floatTensor().reshaped([avgT.count / wDim, wDim])
    let first = avgRows.row(0)
    let identical = (0..<avgRows.shape[0]).allSatisfy { avgRows.row($0) == first }
    put("mapping.w_avg", identical ? first : avgRows.sum(axis: 0) / Float(avgRows.shape[0]))
    } else {
        // Training checkpoints ({'g', 'd', 'g_ema', …}) have none; the caller computes it.
        put("mapping.w_avg", Tensor.zeros([wDim]))
        wAvgSource = "missing"
    }

    let standardKernel = [Float]([1, 3, 3, 1].flatMap { a in [1, 3, 3, 1].map { b in Float(a * b) / 64 * 4 } })
    func checkKernel(_ name: String) throws {
        guard sd[name] != nil else { return }
        let k = try take(name, [4, 4])
        guard zip(k.storage, standardKernel).allSatisfy({ abs($0 - $1) <= 1e-6 }) else {
            throw fail("'\(name)' is not the [1, 3, 3, 1] FIR kernel; other blur kernels are not supported")
        }
    }
    var noiseIndex = 0
    func styledConv(_ src: String, _ dst: String, inC: Int, outC: Int, res: Int) throws {
        let scale = 1 / Float(inC * 9).squareRoot()
        put(dst + ".weight", try take(src + ".conv.weight", [1, outC, inC, 3, 3]).reshaped([outC, inC, 3, 3]) * scale)
        put(dst + ".affine.weight", try take(src + ".conv.modulation.weight", [inC, wDim]))
        put(dst + ".affine.bias", try take(src + ".conv.modulation.bias", [inC]))
        put(dst + ".bias", try take(src + ".activate.bias", [outC]))
        put(dst + ".noise_strength", try take(src + ".noise.weight", [1]).reshaped([]))
        put(dst + ".noise_const", try take("noises.noise_\(noiseIndex)", [1, 1, res, res]).reshaped([res, res]))
        noiseIndex += 1
        try checkKernel(src + ".conv.blur.kernel")
    }
    func toRGB(_ src: String, _ dst: String, inC: Int) throws {
        put(dst + ".weight", try take(src + ".conv.weight", [1, 3, inC, 1, 1]).reshaped([3, inC, 1, 1]))
        put(dst + ".affine.weight", try take(src + ".conv.modulation.weight", [inC, wDim]))
        put(dst + ".affine.bias", try take(src + ".conv.modulation.bias", [inC]))
        put(dst + ".bias", try take(src + ".bias", [1, 3, 1, 1]).reshaped([3]))
        try checkKernel(src + ".upsample.kernel")
    }

    let c4 = channels[4]!
    put("synthesis.b4.const", try take("input.input", [1, c4, 4, 4]).reshaped([c4, 4, 4]))
    try styledConv("conv1", "synthesis.b4.conv1", inC: c4, outC: c4, res: 4)
    try toRGB("to_rgb1", "synthesis.b4.torgb", inC: c4)
    for j in 0..<nRGB {
        let res = 8 << j, inC = channels[res / 2]!, outC = channels[res]!
        try styledConv("convs.\(2 * j)", "synthesis.b\(res).conv0", inC: inC, outC: outC, res: res)
        try styledConv("convs.\(2 * j + 1)", "synthesis.b\(res).conv1", inC: outC, outC: outC, res: res)
        try toRGB("to_rgbs.\(j)", "synthesis.b\(res).torgb", inC: outC)
    }
    if let extra = stateDict.map(\.name).first(where: { !used.contains($0) }) {
        throw fail("unexpected tensor '\(extra)' (not part of a rosinality Generator of size \(resolution), style_dim \(wDim), n_mlp \(nMLP))")
    }

    // channel_base / channel_max that reproduce the table, else an explicit table.
    let channelMax = channels.values.max()!
    let bases = Set(channels.filter { $0.value < channelMax }.map { $0.key * $0.value })
    let channelBase = bases.count == 1 ? bases.first! : channelMax * resolution
    let formulaFits = bases.count <= 1 && channels.allSatisfy { min(channelBase / $0.key, channelMax) == $0.value }
    var config = "{\"z_dim\": \(wDim), \"c_dim\": 0, \"w_dim\": \(wDim), \"img_resolution\": \(resolution), \"img_channels\": 3, "
        + "\"mapping_kwargs\": {\"num_layers\": \(nMLP), \"lr_multiplier\": 0.01}, \"channel_base\": \(channelBase), "
        + "\"channel_max\": \(channelMax), \"num_fp16_res\": 0, \"conv_clamp\": null"
    if !formulaFits {
        config += ", \"channels\": {" + channels.keys.sorted().map { "\"\($0)\": \(channels[$0]!)" }.joined(separator: ", ") + "}"
    }
    config += "}"
    let metadata = [
        "format": "stylegan2",
        "architecture": "NVlabs networks_stylegan2.Generator",
        "config": config,
        "source": (source as NSString).lastPathComponent,
        "converted_from": "rosinality/stylegan2-pytorch Generator (lr_mlp 0.01 assumed)",
        "w_avg_source": wAvgSource,
    ]
    return (out, metadata)
}
