import LatentTensor

/// MS-SSIM loss `1 − MS-SSIM` per image (see `ImageMetrics.msSSIM` for the definition and
/// `SSIMWindowPolicy` for images under 161 px), with its exact backward.
///
/// Inputs in `range` (default [-1, 1]) are mapped to [0, 1] first. With a mask, every scale's SSIM
/// and cs maps are averaged with weights = the mask (pooled like the images) at each window centre,
/// normalised per scale; a mask of ones gives the unmasked loss.
public struct MSSSIMLoss: ImageLoss {
    public var range: PixelRange
    public var options: MSSSIMOptions

    public init(range: PixelRange = .minusOneToOne, options: MSSSIMOptions = MSSSIMOptions()) {
        self.range = range
        self.options = options
    }

    public func evaluate(reconstruction: Tensor, target: Tensor, mask: Tensor?) throws -> (loss: [Float], gradient: Tensor) {
        let s = try validateImagePair(reconstruction, target)
        let pyramid = try MSSSIMPyramid(h: s.h, w: s.w, options: options)
        var maskWeights: [[[Double]]]? = nil
        if let mask {
            let m = try PixelMask(mask, shape: s)
            maskWeights = try m.values.withUnsafeBufferPointer { mp in
                try (0..<(m.perImage ? s.n : 1)).map { try pyramid.maskWeights(mp.baseAddress! + $0 * s.plane) }
            }
        }
        let xd = unitDoubles(reconstruction, range), yd = unitDoubles(target, range)
        let chain = range.toUnit.scale
        var values = [Double](repeating: 0, count: s.n * s.c)
        var gradD = [Double](repeating: 0, count: reconstruction.count)
        values.withUnsafeMutableBufferPointer { pv in
            gradD.withUnsafeMutableBufferPointer { pg in
                let v = pv.baseAddress!, g = pg.baseAddress!
                Parallel.forEach(s.n * s.c) { p in
                    let n = p / s.c
                    let r = (p * s.plane)..<((p + 1) * s.plane)
                    let weights = maskWeights.map { $0[$0.count == 1 ? 0 : n] }
                    // d loss_n / d MS_{n,c} = −1/C; d x01 / d x = `chain`.
                    v[p] = pyramid.evaluate(x: Array(xd[r]), y: Array(yd[r]), weights: weights,
                                            upstream: -chain / Double(s.c), gradX: g + p * s.plane)
                }
            }
        }
        let losses = (0..<s.n).map { n in Float(1 - values[(n * s.c)..<((n + 1) * s.c)].reduce(0, +) / Double(s.c)) }
        return (losses, Tensor(shape: reconstruction.shape, data: gradD.map { Float($0) }))
    }
}
