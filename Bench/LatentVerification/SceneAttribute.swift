import Foundation
import LatentTensor

/// The named attributes of the default generator's tabletop scenes, with the two classes each
/// direction separates (positive first), their CLIP prompts, and ground truth from z.
///
/// The default model (`scenes64`) was trained so that z[0:9], each through the standard normal
/// CDF Φ, drive wall hue, floor hue, horizon, shape (4 bins: sphere, cube, cylinder, cone),
/// object hue, size, object x, depth and light (`/work/shared/README.md`). Hue bands follow the
/// renderer's captions: "red" hue within 0.04 of 0.985 (wrapping), "blue" within 0.06 of 0.63.
public enum SceneAttribute: String, CaseIterable, Sendable {
    case size, colour, position, shape, wall

    /// What the positive and the negative end mean (a `+` strength moves towards `positiveName`).
    public var positiveName: String {
        switch self { case .size: "large"; case .colour: "red object"; case .position: "left"; case .shape: "sphere"; case .wall: "red wall" }
    }
    public var negativeName: String {
        switch self { case .size: "small"; case .colour: "blue object"; case .position: "right"; case .shape: "cube"; case .wall: "blue wall" }
    }

    /// CLIP prompts of the positive class, in the vocabulary of the scenes' captions and ensembled
    /// over the object words so the other attributes average out.
    public var positivePrompts: [String] { prompts(positive: true) }
    public var negativePrompts: [String] { prompts(positive: false) }

    static let objectWords = ["ball", "sphere", "cube", "box", "cylinder", "cone"]

    func prompts(positive: Bool) -> [String] {
        switch self {
        case .size:
            let adj = positive ? ["large", "big", "huge"] : ["small", "little", "tiny"]
            return adj.flatMap { a in Self.objectWords.map { "a \(a) \($0)" } }
        case .colour:
            let c = positive ? "red" : "blue"
            return Self.objectWords.map { "a \(c) \($0)" }
        case .position:
            let side = positive ? "on the left" : "on the right"
            return Self.objectWords.map { "a \($0) \(side)" }
        case .shape:
            return positive ? ["a ball", "a sphere", "a red ball", "a blue ball", "a green sphere"]
                            : ["a cube", "a box", "a block", "a red cube", "a blue box", "a green block"]
        case .wall:
            let c = positive ? "red" : "blue"
            return ["a \(c) wall", "an object in front of a \(c) wall", "a ball with a \(c) background", "a cube with a \(c) background"]
        }
    }

    /// Ground-truth class of a sample of the default model from its z (`[zDim]`, zDim ≥ 9):
    /// true = positive, false = negative, nil = in neither class (e.g. a green object).
    public func groundTruth(z: [Float]) -> Bool? {
        let f = SceneFactors(z: z)
        switch self {
        case .size: return f.size > 0.5
        case .position: return f.cx < 0.5
        case .shape: return f.shapeBin == 0 ? true : f.shapeBin == 1 ? false : nil
        case .colour: return Self.hueClass(f.objectHue)
        case .wall: return Self.hueClass(f.wallHue)
        }
    }

    /// Red → true, blue → false, other hues → nil.
    static func hueClass(_ h: Double) -> Bool? {
        func circular(_ a: Double, _ b: Double) -> Double { let d = abs(a - b).truncatingRemainder(dividingBy: 1); return min(d, 1 - d) }
        if circular(h, 0.985) < 0.04 { return true }
        if circular(h, 0.63) < 0.06 { return false }
        return nil
    }
}

/// The default model's nine scene factors for a z, each Φ(z[k]) in (0, 1) (the renderer maps
/// them onto its ranges monotonically, e.g. size 0.18–0.34 of the image height).
public struct SceneFactors: Sendable {
    public var wallHue, floorHue, horizon, shape, objectHue, size, cx, base, light: Double
    public init(z: [Float]) {
        precondition(z.count >= 9, "SceneFactors needs z[0:9]")
        func phi(_ x: Float) -> Double { 0.5 * Foundation.erfc(-Double(x) / 2.0.squareRoot()) }
        wallHue = phi(z[0]); floorHue = phi(z[1]); horizon = phi(z[2]); shape = phi(z[3]); objectHue = phi(z[4])
        size = phi(z[5]); cx = phi(z[6]); base = phi(z[7]); light = phi(z[8])
    }
    /// 0 sphere, 1 cube, 2 cylinder, 3 cone.
    public var shapeBin: Int { min(3, Int(shape * 4)) }
}
