import LatentModels

/// One style-consuming layer of the synthesis network: its official name prefix
/// (`synthesis.b8.conv0`), the row of `ws` it reads, and whether it is a ToRGB layer.
public struct StyleLayer: Sendable, Equatable {
    public var name: String
    public var wsIndex: Int
    public var isToRGB: Bool
}

/// The style layers of a StyleGAN2 generator in synthesis order, with the ws row each reads.
///
/// NVIDIA's `SynthesisNetwork.forward` hands block `b` the rows `w_idx ..< w_idx + num_conv +
/// num_torgb` and then advances `w_idx` by `num_conv`, so a block's ToRGB shares its row with
/// the next block's first conv: b4.conv1 → 0, b4.torgb → 1, b8.conv0 → 1, b8.conv1 → 2,
/// b8.torgb → 3, …
public func styleLayers(resolution: Int) -> [StyleLayer] {
    var out: [StyleLayer] = []
    var wIdx = 0
    var res = 4
    while res <= resolution {
        let convs = res == 4 ? ["conv1"] : ["conv0", "conv1"]
        for (i, c) in convs.enumerated() {
            out.append(StyleLayer(name: "synthesis.b\(res).\(c)", wsIndex: wIdx + i, isToRGB: false))
        }
        out.append(StyleLayer(name: "synthesis.b\(res).torgb", wsIndex: wIdx + convs.count, isToRGB: true))
        wIdx += convs.count
        res *= 2
    }
    return out
}
