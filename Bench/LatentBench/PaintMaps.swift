import Foundation
import LatentTensor
import LatentImageIO
import LatentEncoders

/// Flat colours per class of the paired scenes' seg maps (wall, floor, shadow, sphere, cube,
/// cylinder, cone), RGB in [0, 1]: a pink wall, a blue floor, its shadow darker, an orange object —
/// distinct hues so the embedded image encoder sees every boundary of the map.
let scenePalette: [[Float]] = [[0.75, 0.45, 0.5], [0.2, 0.45, 0.85], [0.12, 0.27, 0.51],
                               [0.95, 0.6, 0.1], [0.95, 0.6, 0.1], [0.95, 0.6, 0.1], [0.95, 0.6, 0.1]]

/// A seg map's class ids (`[R·R]`, row-major) painted in `scenePalette`: `[1, 3, R, R]` in [-1, 1].
func paintSegMap(ids: [Int], resolution r: Int) -> Tensor {
    var pic = Tensor.zeros([1, 3, r, r])
    for q in 0..<(r * r) { for c in 0..<3 { pic.storage[c * r * r + q] = scenePalette[min(ids[q], scenePalette.count - 1)][c] * 2 - 1 } }
    return pic
}

/// Paints every seg map of a paired folder (`DIR/seg/*.png`) in `scenePalette`, one PNG of the same
/// name per map in OUT: the colour-free pictures whose image-encoder codes (`latentlab encode OUT`)
/// are a deterministic layout target for guidance encoders (`train-encoder --pair-latents`).
///
///     LatentBench paint-maps --pairs ../shared/paired/scenes/train --out painted [--resolution 64]
func runPaintMaps(arguments: [String]) {
    let a = BenchArguments(arguments)
    guard let root = a.values["pairs"], let out = a.values["out"] else { print("usage: LatentBench paint-maps --pairs DIR --out DIR [--resolution R]"); return }
    do {
        let r = a.int("resolution", 64)
        let pairs = try GuidancePairs(folder: root, kind: .seg, classes: scenePalette.count)
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        for path in pairs.maps {
            let map = try loadGuidanceMap(path: path, kind: .seg, classes: scenePalette.count, resolution: r)
            try saveImage(paintSegMap(ids: map.classIds!, resolution: r).row(0), to: out + "/" + (path as NSString).lastPathComponent)
        }
        print("painted \(pairs.maps.count) maps → \(out)")
    } catch { print("paint-maps: \(error)") }
}
