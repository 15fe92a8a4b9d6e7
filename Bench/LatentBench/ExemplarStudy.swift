import Foundation
import LatentTensor
import LatentModels
import LatentCore
import LatentEditing
import _LatentVerification

/// One way of giving a scene an exemplar's appearance, as measured in `Bench/mask-exemplar.md`
/// ("Exemplar transfer by layer range").
enum ExemplarTransfer {
    /// `exemplarCrossover` of these ws rows (pSp `--latent_mask`).
    case rows(Range<Int>)
    /// Only the ToRGB styles of these rows' ToRGB layers take the exemplar's values
    /// (`StyleSpaceEdit`): every convolution keeps the scene's styles, so its features (the
    /// geometry) are untouched; `convRows` also crosses those rows over.
    case toRGB(Range<Int>, convRows: Range<Int>?)
    /// Rows `rows` move by the difference of the two latents' mean over all rows (the W part of
    /// a W+ code), keeping each row's own deviation from that mean.
    case wMean(Range<Int>)
    /// Every row moves by the part of (exemplar − scene) inside the top-`k` principal
    /// components of W = mapping(z) (`principalComponents` of 10 000 samples, GANSpace's basis):
    /// this generator's z sets colours, not layout, so W's main directions are colour directions.
    case pcaSubspace(Int)
    /// The channels of a set (`StyleChannelSet`, e.g. `Latents/scenes64-colour-channels.json`)
    /// take the exemplar's values (`exemplarStyleTransfer`).
    case channels(StyleChannelSet)

    var label: String {
        switch self {
        case .rows(let r): return "rows " + wsRangeText(r)
        case .toRGB(let r, let c): return "ToRGB of rows " + wsRangeText(r) + (c.map { " + rows " + wsRangeText($0) } ?? "")
        case .wMean(let r): return "W mean, rows " + wsRangeText(r)
        case .pcaSubspace(let k): return "W PCA top \(k), all rows"
        case .channels(let set): return "StyleSpace set '\(set.name)' (\(set.count) channels)"
        }
    }

    /// The variants of the extended study (`--exemplar-study`), after the row ranges of the main table.
    static func study(numWs: Int) -> [ExemplarTransfer] {
        [.rows(0 ..< numWs), .rows(1 ..< numWs), .rows(2 ..< numWs), .rows(3 ..< numWs),
         .toRGB(1 ..< numWs, convRows: nil), .toRGB(1 ..< 6, convRows: nil), .toRGB(1 ..< numWs, convRows: numWs - 3 ..< numWs),
         .wMean(0 ..< numWs), .wMean(4 ..< numWs), .pcaSubspace(4), .pcaSubspace(16), .pcaSubspace(64)]
    }

    /// The scene `ws` `[1, numWs, wDim]` rendered with `exemplarWs`'s appearance by `generator`.
    func render(generator G: StyleGAN2Generator, ws: Tensor, exemplarWs: Tensor, noise: NoiseMaps, pcaBasis: Tensor?) throws -> Tensor {
        let d = G.wDim, numWs = G.numWs
        switch self {
        case .rows(let r):
            return G.synthesis(ws: try exemplarCrossover(ws: ws, exemplarWs: exemplarWs, layers: r), noise: noise).row(0)
        case .toRGB(let r, let convRows):
            let base = try convRows.map { try exemplarCrossover(ws: ws, exemplarWs: exemplarWs, layers: $0) } ?? ws
            var channels = [String: [Int]]()
            for layer in G.styleLayers where layer.name.hasSuffix(".torgb") && r.contains(layer.wIndex) {
                channels[layer.name] = Array(0 ..< layer.channels)
            }
            return G.synthesis(ws: base, noise: noise,
                               styleEdit: StyleSpaceEdit(targets: G.styles(ws: exemplarWs), channels: channels)).row(0)
        case .channels(let set):
            // As `edit --exemplar --channels` does it: lowered to a W+ latent.
            return G.synthesis(ws: try exemplarStyleTransfer(generator: G, ws: ws, exemplarWs: exemplarWs, channels: set).ws, noise: noise).row(0)
        case .wMean(let r):
            var moved = ws
            for j in 0..<d {
                var shift: Float = 0
                for q in 0..<numWs { shift += exemplarWs.storage[q * d + j] - ws.storage[q * d + j] }
                shift /= Float(numWs)
                for q in r { moved.storage[q * d + j] += shift }
            }
            return G.synthesis(ws: moved, noise: noise).row(0)
        case .pcaSubspace(let k):
            let basis = pcaBasis!
            var moved = ws
            for q in 0..<numWs {
                for c in 0..<k {
                    var dot: Float = 0
                    for j in 0..<d { dot += (exemplarWs.storage[q * d + j] - ws.storage[q * d + j]) * basis.storage[c * d + j] }
                    for j in 0..<d { moved.storage[q * d + j] += dot * basis.storage[c * d + j] }
                }
            }
            return G.synthesis(ws: moved, noise: noise).row(0)
        }
    }
}
