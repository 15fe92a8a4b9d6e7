import LatentTensor
import LatentModels

/// Images of one direction across seeds and strengths, row-major (one row per seed, one column
/// per strength): `G(mapping(z(seed), ψ) + s · direction on layers)` with const noise.
/// - Parameters: `direction` `[wDim]`; `layers` half-open ws rows.
/// - Returns: `seeds.count · strengths.count` images `[C, R, R]`.
public func directionPreview(generator G: StyleGAN2Generator, direction: Tensor, layers: Range<Int>, seeds: [UInt32],
                             strengths: [Float], truncationPsi: Float = 0.7) throws -> [Tensor] {
    let ws = G.mapping(z: zFromSeeds(seeds, zDim: G.zDim), truncationPsi: truncationPsi)
    var edited: [Tensor] = []
    for i in seeds.indices {
        let w = ws.slice(i ..< i + 1)
        for s in strengths { edited.append(try applyDirection(ws: w, direction: direction, strength: s, layers: layers)) }
    }
    return G.synthesizeImages(ws: Tensor.concatenate(edited), noiseSeeds: [UInt64](repeating: 0, count: edited.count)).images
}
