import LatentTensor
import LatentFormats

/// The feature maps pSp/e4e read from the backbone (batch-first).
public struct IRFeatures: Sendable {
    /// `input_layer` output `[N, 64, H, W]`.
    public var inputLayer: Tensor
    /// Body unit 6 output `[N, 128, H/4, W/4]` (the FPN's fine input).
    public var c1: Tensor
    /// Body unit 20 output `[N, 256, H/8, W/8]`.
    public var c2: Tensor
    /// Body unit 23 output `[N, 512, H/16, W/16]` (the coarsest features).
    public var c3: Tensor
}

/// The IR-50/100/152 (optionally SE) backbone of pSp and e4e (`get_blocks` + `input_layer` +
/// `body` in `models/encoders/{helpers,psp_encoders}.py`):
/// `input_layer` = conv3×3 (input_nc → 64, no bias) → BN → PReLU, then the body's units, four
/// stages of depth 64, 128, 256, 512 whose first unit has stride 2.
///
/// The encoders tap body units 6, 20 and 23 (fixed indices in the official code). For IR-50 those
/// are the last units of stages 2, 3 and 4; for 100 and 152 unit 23 lies inside the 256-channel
/// stage, the official model cannot run, and loading refuses those depths with that reason (the
/// unit tables are here so the message can say so).
struct IRBackbone: Sendable {
    /// `(in_channel, depth, num_units)` per stage, from `get_blocks(num_layers)`.
    static func stages(numLayers: Int) -> [(inChannels: Int, depth: Int, units: Int)]? {
        let units: [Int]
        switch numLayers {
        case 50: units = [3, 4, 14, 3]
        case 100: units = [3, 13, 30, 3]
        case 152: units = [3, 8, 36, 3]
        default: return nil
        }
        return [(64, 64, units[0]), (64, 128, units[1]), (128, 256, units[2]), (256, 512, units[3])]
    }

    /// Body unit indices whose outputs are c1, c2, c3.
    static let taps = (c1: 6, c2: 20, c3: 23)

    let inputConv: Tensor      // [64, input_nc, 3, 3]
    let inputBN: BatchNorm2dLayer
    let inputPReLU: Tensor     // [64]
    let body: [IRBottleneck]

    init(_ w: EncoderWeights, numLayers: Int, mode: PSPEncoderConfig.Mode, inputNc: Int) throws {
        guard let stages = IRBackbone.stages(numLayers: numLayers) else {
            throw FormatError(w.source, "encoder: num_layers must be 50, 100 or 152 (got \(numLayers))")
        }
        inputConv = try w.take("input_layer.0.weight", [64, inputNc, 3, 3])
        inputBN = try BatchNorm2dLayer(w, "input_layer.1", channels: 64)
        inputPReLU = try w.take("input_layer.2.weight", [64])
        var units = [IRBottleneck]()
        for s in stages {
            for u in 0..<s.units {
                units.append(try IRBottleneck(w, "body.\(units.count)", inChannels: u == 0 ? s.inChannels : s.depth,
                                              depth: s.depth, stride: u == 0 ? 2 : 1, squeezeExcitation: mode == .irSE))
            }
        }
        let t = IRBackbone.taps
        guard units.count > t.c3, units[t.c1].depth == 128, units[t.c2].depth == 256, units[t.c3].depth == 512 else {
            throw FormatError(w.source, "encoder: with num_layers \(numLayers) the official FPN taps (body units 6, 20, 23) have "
                + "\(units[t.c1].depth)/\(units[t.c2].depth)/\(units[t.c3].depth) channels, not 128/256/512: pSp/e4e only run with num_layers 50")
        }
        body = units
    }

    /// `[N, input_nc, H, W]` → the tapped features. Units after 23 (none for IR-50) are not run:
    /// the encoders never read them.
    func callAsFunction(_ x: Tensor) -> IRFeatures {
        let first = prelu(inputBN(conv2d(x, weight: inputConv, stride: 1, padding: 1)), weight: inputPReLU)
        var h = first
        var c1 = h, c2 = h
        for (i, unit) in body.enumerated() where i <= IRBackbone.taps.c3 {
            h = unit(h)
            if i == IRBackbone.taps.c1 { c1 = h } else if i == IRBackbone.taps.c2 { c2 = h }
        }
        return IRFeatures(inputLayer: first, c1: c1, c2: c2, c3: h)
    }
}
