import Foundation
import LatentTensor
import LatentModels
import LatentInversion
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

/// Per-sample noise maps of several batches as one batch (the layers of the first).
func concatenateNoise(_ parts: [NoiseMaps]) -> NoiseMaps {
    guard let first = parts.first else { return NoiseMaps() }
    return NoiseMaps(Dictionary(uniqueKeysWithValues: first.maps.keys.map { key in (key, Tensor.concatenate(parts.map { $0[key]! })) }))
}

/// Projects `targets` `[N, 3, R, R]` in batches of 8 with `options`, or reads the latents a
/// previous run cached at `cache` (an `.npz` written here), so a rerun of a bench's measurements
/// does not invert again.
/// - Returns: the ws `[N, numWs, wDim]`, the per-sample noise maps, and the projector's
///   reconstructions when it ran (nil when read from the cache).
func projectInBatches(generator G: StyleGAN2Generator, targets: Tensor, mask: Tensor? = nil, options: ProjectorOptions,
                      cache: String) throws -> (ws: Tensor, noise: NoiseMaps, reconstructions: Tensor?) {
    if FileManager.default.fileExists(atPath: cache) {
        let file = try LatentFile.read(path: cache, generator: G)
        print("  read \(cache)")
        return (file.ws(generator: G), file.noise ?? NoiseMaps(), nil)
    }
    let n = targets.shape[0]
    var ws: [Tensor] = [], images: [Tensor] = [], noises: [NoiseMaps] = []
    var s = 0
    while s < n {
        let e = min(s + 8, n)
        let res = try project(generator: G, targets: targets.slice(s ..< e), loss: PixelL2Loss(), mask: mask?.slice(s ..< e), options: options)
        ws.append(res.ws); images.append(res.reconstruction); noises.append(res.noise)
        print("  projected \(e)/\(n) (\(String(format: "%.1f", res.seconds)) s for the batch of \(e - s))")
        s = e
    }
    let all = Tensor.concatenate(ws), noise = concatenateNoise(noises)
    try LatentFile(ws: all, noise: noise).write(to: cache)
    return (all, noise, Tensor.concatenate(images))
}

/// Circular distance of two hues in [0, 1) (0 … 0.5).
func hueDistance(_ a: Double, _ b: Double) -> Double { let d = abs(a - b); return min(d, 1 - d) }

/// The figures of an exemplar transfer over a set of scenes, scene k taking scene `exemplarOf[k]`'s
/// appearance: the circular distance of the object's and the wall's mean hue (`meanHue` over the
/// scene's own object / wall pixels) to the exemplar's, before and after, and the change of the
/// object's centroid x and height (`sceneStatistics`). Everything about the scenes before the
/// transfer is measured once, at `init`.
struct ExemplarTransferMeasure {
    struct Figures {
        /// Means over the scenes.
        var objectBefore: Double, objectAfter: Double, wallBefore: Double, wallAfter: Double
        /// Per scene.
        var centroidXChange: [Double], heightChange: [Double]
        /// The mean hue-distance reduction of the object and the wall, averaged.
        var hueReduction: Double { ((objectBefore - objectAfter) + (wallBefore - wallAfter)) / 2 }
    }

    let objectPixels: [[Bool]], wallPixels: [[Bool]]
    let exemplarObjectHue: [Double], exemplarWallHue: [Double]
    let objectBefore: [Double], wallBefore: [Double]
    let statsBefore: [SceneStatistics]

    /// - Parameters: `before` `[3, R, R]` per scene (the exemplars are scenes of the same list).
    init(before: [Tensor], exemplarOf: [Int], objectPixels: [[Bool]], wallPixels: [[Bool]]) {
        self.objectPixels = objectPixels; self.wallPixels = wallPixels
        let objectHue = before.indices.map { meanHue(before[$0], pixels: objectPixels[$0]) }
        let wallHue = before.indices.map { meanHue(before[$0], pixels: wallPixels[$0]) }
        exemplarObjectHue = exemplarOf.map { objectHue[$0] }; exemplarWallHue = exemplarOf.map { wallHue[$0] }
        objectBefore = before.indices.map { hueDistance(objectHue[$0], objectHue[exemplarOf[$0]]) }
        wallBefore = before.indices.map { hueDistance(wallHue[$0], wallHue[exemplarOf[$0]]) }
        statsBefore = before.map { sceneStatistics(image: $0) }
    }

    /// - Parameter after: `[3, R, R]` per scene, the transfer's results.
    func measure(after: [Tensor]) -> Figures {
        func mean(_ v: [Double]) -> Double { v.reduce(0, +) / Double(max(v.count, 1)) }
        let stats = after.map { sceneStatistics(image: $0) }
        return Figures(objectBefore: mean(objectBefore),
                       objectAfter: mean(after.indices.map { hueDistance(meanHue(after[$0], pixels: objectPixels[$0]), exemplarObjectHue[$0]) }),
                       wallBefore: mean(wallBefore),
                       wallAfter: mean(after.indices.map { hueDistance(meanHue(after[$0], pixels: wallPixels[$0]), exemplarWallHue[$0]) }),
                       centroidXChange: after.indices.map { abs(stats[$0].centroidX - statsBefore[$0].centroidX) },
                       heightChange: after.indices.map { abs(stats[$0].objectHeight - statsBefore[$0].objectHeight) })
    }
}
