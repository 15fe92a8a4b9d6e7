import Foundation
import LatentTensor
import LatentImageIO
import LatentInversion
import LatentCore
import LatentModels

/// What a guidance encoder reads instead of a photo (pix2pix-style paired data).
public enum GuidanceKind: String, Codable, Sendable, CaseIterable {
    /// A semantic map: 8-bit gray PNG whose value is the class id; fed one-hot, `classes` channels.
    case seg
    /// A sketch / edge map: 8-bit gray, white strokes on black; fed as one channel in [0, 1].
    case sketch

    /// Encoder input channels for `classes` segmentation classes.
    public func inputChannels(classes: Int) -> Int { self == .seg ? classes : 1 }
}

/// A guidance map decoded for an encoder: `[C, R, R]` plus what the decoding had to change.
public struct GuidanceMap: Sendable {
    /// `[C, R, R]`: one-hot in {0, 1} (seg) or intensity in [0, 1] (sketch).
    public var tensor: Tensor
    /// Class id per pixel at the encoder's resolution (seg; row-major `[R·R]`), for drawing.
    public var classIds: [Int]?
    /// Set when the map was not at the encoder's resolution and was resized (nearest for class
    /// ids, so no label is invented; area for sketches).
    public var resizedFrom: (width: Int, height: Int)?
}

/// Decodes a guidance map at `resolution`.
/// - seg: gray value = class id; ids ≥ `classes` are refused (the encoder has no channel for
///   them); a map of another size is resized by nearest neighbour (labels are not averaged).
/// - sketch: gray value / 255; another size is resized with the area filter.
/// - Throws: `EncoderError` naming the file for unreadable images, non-gray colour maps (seg; an
///   RGB map with equal channels is accepted) and out-of-range class ids.
public func loadGuidanceMap(path: String, kind: GuidanceKind, classes: Int, resolution r: Int) throws -> GuidanceMap {
    let image: LoadedImage
    do { image = try loadImage(path: path) } catch { throw EncoderError(errorLine(error).hasPrefix(path) ? errorLine(error) : "\(path): \(errorLine(error))") }
    let h = image.info.height, w = image.info.width
    // Samples back to 0…255 (the loader gives uint8 / 127.5 − 1, gray replicated to RGB).
    let t = image.tensor
    let plane = h * w
    var values = [Int](repeating: 0, count: plane)
    for p in 0..<plane {
        let v = (0..<3).map { Int(((t.storage[$0 * plane + p] + 1) * 127.5).rounded()) }
        if kind == .seg && (v[0] != v[1] || v[1] != v[2]) {
            throw EncoderError("\(path): a segmentation map must be gray (value = class id); pixel (\(p % w), \(p / w)) is coloured")
        }
        values[p] = v[0]
    }
    let resized: (width: Int, height: Int)? = (h == r && w == r) ? nil : (w, h)
    switch kind {
    case .seg:
        if let bad = values.first(where: { $0 >= classes }) {
            throw EncoderError("\(path): class id \(bad) ≥ \(classes) (the encoder knows classes 0…\(classes - 1))")
        }
        var ids = [Int](repeating: 0, count: r * r)
        for y in 0..<r { for x in 0..<r {
            // Nearest neighbour at pixel centres.
            let sy = min(h - 1, Int((Double(y) + 0.5) * Double(h) / Double(r))), sx = min(w - 1, Int((Double(x) + 0.5) * Double(w) / Double(r)))
            ids[y * r + x] = values[sy * w + sx]
        } }
        var oneHot = [Float](repeating: 0, count: classes * r * r)
        for (p, c) in ids.enumerated() { oneHot[c * r * r + p] = 1 }
        return GuidanceMap(tensor: Tensor(shape: [classes, r, r], data: oneHot), classIds: ids, resizedFrom: resized)
    case .sketch:
        var m = Tensor(shape: [1, 1, h, w], data: values.map { Float($0) / 255 })
        if resized != nil { m = resize(m, height: r, width: r, method: .area) }
        return GuidanceMap(tensor: m.reshaped([1, r, r]), classIds: nil, resizedFrom: resized)
    }
}

/// A picture of a guidance map for strips, `[3, R, R]` in [-1, 1]: seg classes in fixed distinct
/// colours, sketches white on black.
public func guidanceMapPicture(_ map: GuidanceMap, kind: GuidanceKind) -> Tensor {
    let r = map.tensor.shape[1]
    switch kind {
    case .sketch:
        let v = map.tensor.storage.map { $0 * 2 - 1 }
        return Tensor(shape: [3, r, r], data: v + v + v)
    case .seg:
        // Hues spread by the golden ratio so neighbouring ids differ.
        var out = [Float](repeating: 0, count: 3 * r * r)
        for (p, c) in (map.classIds ?? []).enumerated() {
            let hue = (Double(c) * 0.618_033_988_75).truncatingRemainder(dividingBy: 1)
            let rgb = hsvToRGB(h: hue, s: c == 0 ? 0.25 : 0.75, v: c == 0 ? 0.55 : 0.9)
            for k in 0..<3 { out[k * r * r + p] = Float(rgb[k] * 2 - 1) }
        }
        return Tensor(shape: [3, r, r], data: out)
    }
}

private func hsvToRGB(h: Double, s: Double, v: Double) -> [Double] {
    let i = Int(h * 6) % 6, f = h * 6 - Double(Int(h * 6))
    let p = v * (1 - s), q = v * (1 - f * s), t = v * (1 - (1 - f) * s)
    switch i {
    case 0: return [v, t, p]
    case 1: return [q, v, p]
    case 2: return [p, v, t]
    case 3: return [p, q, v]
    case 4: return [t, p, v]
    default: return [v, p, q]
    }
}

/// Paired training data: `DIR/<kind>/NAME` and `DIR/photo/NAME` for every name present in both
/// (pix2pix layout).
public struct GuidancePairs: Sendable {
    public var kind: GuidanceKind
    public var classes: Int
    /// Absolute paths, matched by name, sorted.
    public var maps: [String]
    public var photos: [String]
    /// `[P, numWs, wDim]`: W+ codes of the photos (from `project` or an image encoder), the
    /// targets of a latent loss; nil when training from image losses alone.
    public var latents: Tensor? = nil

    /// Lists the pairs under `folder`.
    /// - Throws: `EncoderError` when `folder/<kind>` or `folder/photo` is missing, a map has no
    ///   photo (or the reverse: both are listed), or there are no pairs.
    public init(folder: String, kind: GuidanceKind, classes: Int) throws {
        guard classes >= 1, classes <= 256 else { throw EncoderError("classes must be in 1...256, got \(classes)") }
        let mapDir = folder + "/" + kind.rawValue, photoDir = folder + "/photo"
        let mapNames: [String], photoNames: Set<String>
        do { mapNames = try listImages(root: mapDir); photoNames = Set(try listImages(root: photoDir)) }
        catch { throw EncoderError("\(folder): not a paired folder with \(kind.rawValue)/ and photo/ (\(errorLine(error)))") }
        let unpaired = mapNames.filter { !photoNames.contains($0) }
        guard unpaired.isEmpty else {
            throw EncoderError("\(mapDir)/\(unpaired[0]): no photo of that name in \(photoDir) (\(unpaired.count) unpaired maps)")
        }
        self.kind = kind; self.classes = classes
        maps = mapNames.map { mapDir + "/" + $0 }
        photos = mapNames.map { photoDir + "/" + $0 }
    }

    /// Loads W+ targets for every pair from `folder`, the output of `latentlab encode` or
    /// `project` run on this pair folder's `photo/`: `folder/<name>/latent.npz` with the sub-folder
    /// names those commands give the photo listing (`outputFolderNames`).
    /// - Throws: `EncoderError` naming the first missing or unusable latent file (`loadImageLatents`).
    public mutating func attachLatents(folder: String, generator G: StyleGAN2Generator) throws {
        latents = try loadImageLatents(for: photos, listedFrom: parentPath(photos.first ?? ""), folder: folder, generator: G)
    }
}
