import Foundation
import LatentTensor
import LatentImageIO

/// The scene factors issue 17's recipe criteria read, measured on an image `[3, H, W]` in [-1, 1]
/// (quantised to 8 bits first, as the PNG a user gets): object height and centre x as image
/// fractions (`sceneStatistics`), the object's median hue and the wall's hue (HSV, [0, 1)).
public struct RecipeSceneFactors: Sendable {
    public var objectHeight: Double
    public var centreX: Double
    /// Circular median of the object pixels' hues.
    public var objectHue: Double
    /// Hue of the mean wall colour (the wall is uniform along rows).
    public var wallHue: Double
}

/// Signed circular hue difference `a − b` in [-0.5, 0.5).
public func hueDifference(_ a: Double, _ b: Double) -> Double {
    var d = (a - b).truncatingRemainder(dividingBy: 1)
    if d >= 0.5 { d -= 1 }
    if d < -0.5 { d += 1 }
    return d
}

/// Circular median of hues: the median of the offsets from their circular mean, plus that mean.
public func circularMedianHue(_ hues: [Double]) -> Double {
    guard !hues.isEmpty else { return 0 }
    let sx = hues.reduce(0) { $0 + Foundation.cos(2 * .pi * $1) }, sy = hues.reduce(0) { $0 + Foundation.sin(2 * .pi * $1) }
    var mean = Foundation.atan2(sy, sx) / (2 * .pi)
    if mean < 0 { mean += 1 }
    let offsets = hues.map { hueDifference($0, mean) }.sorted()
    let m = offsets.count % 2 == 1 ? offsets[offsets.count / 2] : (offsets[offsets.count / 2 - 1] + offsets[offsets.count / 2]) / 2
    var h = mean + m
    h -= h.rounded(.down)
    return h
}

/// Hue of an RGB colour in [0, 1] (Python's `colorsys.rgb_to_hsv`; 0 for grey).
func hue(rgb: [Double]) -> Double {
    let mx = rgb.max()!, mn = rgb.min()!
    guard mx > mn else { return 0 }
    let d = mx - mn
    let rc = (mx - rgb[0]) / d, gc = (mx - rgb[1]) / d, bc = (mx - rgb[2]) / d
    var h = rgb[0] == mx ? bc - gc : rgb[1] == mx ? 2 + rc - bc : 4 + gc - rc
    h = (h / 6).truncatingRemainder(dividingBy: 1)
    return h < 0 ? h + 1 : h
}

/// Measures `RecipeSceneFactors` of `[3, H, W]` in [-1, 1] after 8-bit quantisation.
public func sceneFactors(image: Tensor) -> RecipeSceneFactors {
    let q = quantized8Bit(image)
    let s = sceneStatistics(image: q)
    let hsv = hsvPixels(q)
    return RecipeSceneFactors(objectHeight: s.objectHeight, centreX: s.centroidX,
                        objectHue: circularMedianHue(s.objectPixels.map { hsv[$0].h }), wallHue: hue(rgb: s.wallColour))
}

/// The four recipes of issue 17 item 6 and their success criteria.
public enum RecipeCriterion: String, CaseIterable, Sendable {
    case largerObject = "larger-object"
    case moveLeft = "move-left"
    case redObject = "red-object"
    case redWall = "red-wall"

    /// Whether `edited` shows the recipe's effect against `original` (the reconstruction):
    /// - larger-object: height +≥ 0.03 of the image, centre x within 0.04;
    /// - move-left: centre x −≥ 0.03, height within 0.04;
    /// - red-object: object median hue within 0.06 of red (hue 0), height within 0.04;
    /// - red-wall: wall hue within 0.08 of red, object height within 0.04 and hue within 0.06.
    public func succeeds(original o: RecipeSceneFactors, edited e: RecipeSceneFactors) -> Bool {
        let dh = e.objectHeight - o.objectHeight, dx = e.centreX - o.centreX
        switch self {
        case .largerObject: return dh >= 0.03 && abs(dx) <= 0.04
        case .moveLeft: return dx <= -0.03 && abs(dh) <= 0.04
        case .redObject: return abs(hueDifference(e.objectHue, 0)) <= 0.06 && abs(dh) <= 0.04
        case .redWall:
            return abs(hueDifference(e.wallHue, 0)) <= 0.08 && abs(dh) <= 0.04 && abs(hueDifference(e.objectHue, o.objectHue)) <= 0.06
        }
    }
}
