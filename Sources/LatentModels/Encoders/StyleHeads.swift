import LatentTensor

/// The parts pSp's `GradualStyleEncoder` and e4e's `Encoder4Editing` share (same state-dict
/// names): the backbone, the FPN lateral layers, and one `GradualStyleBlock` per style —
/// `styles.0–2` read c3 (spatial 16), `styles.3–6` read p2 (32), the rest p1 (64)
/// (`coarse_ind` 3, `middle_ind` 7).
struct StyleHeads: Sendable {
    static let coarseIndex = 3, middleIndex = 7

    let backbone: IRBackbone
    let pyramid: FeaturePyramid
    let styles: [GradualStyleBlock]

    init(_ w: EncoderWeights, config: PSPEncoderConfig) throws {
        backbone = try IRBackbone(w, numLayers: config.numLayers, mode: config.mode, inputNc: config.inputNc)
        pyramid = try FeaturePyramid(w)
        styles = try (0..<config.styleCount).map { i in
            let spatial = i < StyleHeads.coarseIndex ? 16 : i < StyleHeads.middleIndex ? 32 : 64
            return try GradualStyleBlock(w, "styles.\(i)", inChannels: 512, outChannels: 512, spatial: spatial)
        }
    }

    /// Writes `rows` `[N, 512]` into style `i` of `codes` `[N, styleCount, 512]`, adding when `accumulate`.
    static func put(_ rows: Tensor, into codes: inout Tensor, style i: Int, accumulate: Bool) {
        let n = codes.shape[0], s = codes.shape[1], d = codes.shape[2]
        for b in 0..<n {
            let dst = (b * s + i) * d, src = b * d
            for k in 0..<d {
                if accumulate { codes.storage[dst + k] += rows.storage[src + k] } else { codes.storage[dst + k] = rows.storage[src + k] }
            }
        }
    }
}
