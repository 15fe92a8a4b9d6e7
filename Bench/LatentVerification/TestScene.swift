import Foundation
import LatentTensor
import LatentImageIO
import LatentEditing

/// One rendered test scene of `testdata/scenes/` with its `factors.json` entry: an object
/// (sphere, cube, cone or cylinder) of hue `obj_hue` on a floor in front of a wall.
public struct TestScene: Sendable {
    /// File name, e.g. `scene_000.png`; `stem` without the extension.
    public var name: String
    public var stem: String { (name as NSString).deletingPathExtension }
    /// Numeric factors (renderer units: hues in [0, 1), sizes and positions as image fractions).
    public var factors: [String: Double]
    /// `sphere`, `cube`, `cone` or `cylinder`.
    public var shapeName: String
    public var caption: String
    /// The photo `[3, H, W]` in [-1, 1].
    public var photo: Tensor

    /// The object's colour word (`TestScene.colourName` of its hue).
    public var colour: String { Self.colourName(hue: factors["obj_hue"] ?? 0) }

    /// The eight colour words of the scene captions.
    public static let colourWords = ["red", "orange", "yellow", "green", "cyan", "blue", "purple", "pink"]

    /// The renderer's hue bins (upper bounds) and their colour words; red wraps around 1.
    static let hueBins: [(Double, String)] = [(0.03, "red"), (0.12, "orange"), (0.2, "yellow"), (0.47, "green"), (0.55, "cyan"),
                                              (0.72, "blue"), (0.8, "purple"), (0.93, "pink"), (1.01, "red")]

    /// Colour word of a hue in [0, 1) (the bins the captions of `factors.json` use).
    public static func colourName(hue: Double) -> String {
        let h = hue - hue.rounded(.down)
        return hueBins.first { h < $0.0 }?.1 ?? "red"
    }

    /// The scene described from its factors, with the object's colour and/or shape replaced:
    /// "a red sphere on a purple floor in front of a yellow wall".
    public func description(colour: String? = nil, shape: String? = nil) -> String {
        func a(_ w: String) -> String { ("aeiou".contains(w.first!) ? "an " : "a ") + w }
        return "\(a(colour ?? self.colour)) \(shape ?? shapeName) on \(a(Self.colourName(hue: factors["floor_hue"] ?? 0))) floor"
            + " in front of \(a(Self.colourName(hue: factors["wall_hue"] ?? 0))) wall"
    }

    /// A box that contains the object with a margin, from the factors (half-open pixel bounds
    /// at `resolution`): the object stands at `horizon + base·(1 − horizon)` with height
    /// `size`, centred at `cx`; shadows and the cone's and cube's widths are covered by the
    /// padding (checked on all 24 scenes against the pixel statistics' object box).
    public func objectBox(resolution r: Int) -> (x0: Int, y0: Int, x1: Int, y1: Int) {
        let res = Double(r), margin = 2.0
        let h = (factors["size"] ?? 0) * res
        let yb = ((factors["horizon"] ?? 0) + (factors["base"] ?? 0) * (1 - (factors["horizon"] ?? 0))) * res
        let cx = (factors["cx"] ?? 0.5) * res
        return (Int(max(0, cx - 1.1 * h - margin)), Int(max(0, yb - h - 0.15 * h - margin)),
                Int(min(res, cx + 1.1 * h + margin + 1)), Int(min(res, yb + 0.3 * h + margin + 1)))
    }

    /// `[R, R]` row-major: true inside `objectBox`.
    public func boxMask(resolution r: Int) -> [Bool] {
        let b = objectBox(resolution: r)
        var m = [Bool](repeating: false, count: r * r)
        for y in b.y0 ..< b.y1 { for x in b.x0 ..< b.x1 { m[y * r + x] = true } }
        return m
    }

    /// Object pixels of the photo, independently of any model: inside the box, saturated
    /// (> 0.55), not dark (value > 0.15) and within 0.04 of the object's hue.
    public func objectPixels() -> [Bool] {
        let r = photo.shape[2]
        let inBox = boxMask(resolution: r), hue = factors["obj_hue"] ?? 0
        let hsv = hsvPixels(photo)
        return (0 ..< r * r).map { i in
            let d = abs(hsv[i].h - hue)
            return inBox[i] && min(d, 1 - d) < 0.04 && hsv[i].s > 0.55 && hsv[i].v > 0.15
        }
    }

    /// Loads `factors.json` and the images of a test-scene folder, sorted by name.
    public static func loadAll(directory dir: String) throws -> [TestScene] {
        let path = dir + "/factors.json"
        guard let data = FileManager.default.contents(atPath: path),
              let obj = try JSONSerialization.jsonObject(with: data) as? [String: [String: Any]], !obj.isEmpty else {
            throw EditingError("\(path): not a factors.json (object of image name → factors)")
        }
        return try obj.keys.sorted().map { name in
            let e = obj[name]!
            guard let shape = e["shape_name"] as? String else { throw EditingError("\(path): \(name) has no shape_name") }
            return TestScene(name: name, factors: e.compactMapValues { ($0 as? NSNumber)?.doubleValue }, shapeName: shape,
                             caption: e["caption"] as? String ?? "", photo: try loadImage(path: dir + "/" + name).tensor)
        }
    }
}

/// HSV of every pixel of `[3, H, W]` in [-1, 1] (Python's `colorsys.rgb_to_hsv` on [0, 1]
/// values, clamped), row-major.
public func hsvPixels(_ image: Tensor) -> [(h: Double, s: Double, v: Double)] {
    let hw = image.shape[1] * image.shape[2]
    return (0..<hw).map { i in
        let rgb = (0..<3).map { min(max((Double(image[flat: $0 * hw + i]) + 1) / 2, 0), 1) }
        let mx = rgb.max()!, mn = rgb.min()!
        guard mx > mn else { return (0, 0, mx) }
        let d = mx - mn
        let rc = (mx - rgb[0]) / d, gc = (mx - rgb[1]) / d, bc = (mx - rgb[2]) / d
        var h = rgb[0] == mx ? bc - gc : rgb[1] == mx ? 2 + rc - bc : 4 + gc - rc
        h = (h / 6).truncatingRemainder(dividingBy: 1)
        if h < 0 { h += 1 }
        return (h, d / mx, mx)
    }
}

/// Saturation-weighted circular mean hue of `image` `[3, H, W]` over `pixels` (row-major mask).
public func meanHue(_ image: Tensor, pixels: [Bool]) -> Double {
    var sx = 0.0, sy = 0.0
    for (i, p) in hsvPixels(image).enumerated() where pixels[i] {
        sx += p.s * Foundation.cos(2 * .pi * p.h); sy += p.s * Foundation.sin(2 * .pi * p.h)
    }
    let h = Foundation.atan2(sy, sx) / (2 * .pi)
    return h < 0 ? h + 1 : h
}

/// PSNR (dB, images in [0, 1]) between `[3, H, W]` images in [-1, 1] over `pixels`.
public func maskedPSNR(_ a: Tensor, _ b: Tensor, pixels: [Bool]) -> Double {
    let hw = a.shape[1] * a.shape[2]
    var s = 0.0, n = 0.0
    for c in 0..<3 { for i in 0..<hw where pixels[i] {
        let d = (Double(a[flat: c * hw + i]) - Double(b[flat: c * hw + i])) / 2
        s += d * d; n += 1
    } }
    return 10 * Foundation.log10(1 / max(s / max(n, 1), 1e-12))
}
