import Foundation
import LatentTensor
import LatentModels

/// Per-region styles on a semantic map's translation (SEAN's "one style per region"): each listed
/// region of the map takes an exemplar's appearance — the map's codes with the exemplar's style
/// rows (`exemplarCrossover`) — confined to that region by feature blending
/// (`regionBlendedSynthesis`), while outside every region the image is the map's own.
public struct SegRegion: Sendable, Equatable {
    /// The class names of the 7-class scene maps (`/work/shared/README.md`), id = index.
    public static let sceneClassNames = ["wall", "floor", "shadow", "sphere", "cube", "cylinder", "cone"]
    /// `object` = any of sphere, cube, cylinder, cone on the scene maps.
    public static let sceneObjectIds = [3, 4, 5, 6]

    /// As written (`wall`, `object`, `3`).
    public var name: String
    /// The class ids the region covers, ascending.
    public var classIds: [Int]

    /// Parses a region of a map with `classes` classes: a class id `0 … classes−1` (any map), or
    /// a scene class name / `object` (only for the 7-class scene maps, whose names these are).
    /// - Throws: `EditingError` for an unknown name, a name on a map of another class count, an
    ///   id out of range.
    public init(parsing text: String, classes: Int) throws {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        name = t
        if let id = Int(t) {
            guard (0..<classes).contains(id) else { throw EditingError("region \(text): class id must be 0-\(classes - 1)") }
            classIds = [id]
            return
        }
        let known = Self.sceneClassNames + ["object"]
        guard known.contains(t) else {
            throw EditingError("region '\(text)': unknown class (one of \(known.joined(separator: ", ")), or a class id)")
        }
        guard classes == Self.sceneClassNames.count else {
            throw EditingError("region '\(text)': class names apply to the 7-class scene maps; this encoder has \(classes) classes, give a class id")
        }
        classIds = t == "object" ? Self.sceneObjectIds : [Self.sceneClassNames.firstIndex(of: t)!]
    }

    /// The region's binary mask `[1, 1, R, R]` (1 where the map's class is one of `classIds`).
    /// - Parameter mapClassIds: the map's class per pixel, row-major `[R·R]` (`GuidanceMap.classIds`).
    public func mask(mapClassIds: [Int], resolution r: Int) throws -> Tensor {
        guard mapClassIds.count == r * r else { throw EditingError("class map has \(mapClassIds.count) pixels, expected \(r)×\(r)") }
        let ids = Set(classIds)
        return Tensor(shape: [1, 1, r, r], data: mapClassIds.map { ids.contains($0) ? 1 : 0 })
    }
}

/// A `--region-style CLASS=IMG` argument split at its first `=`: the region and the exemplar path.
/// - Throws: `EditingError` for a missing `=`, region or path, and as `SegRegion(parsing:classes:)`.
public func parseRegionStyleArgument(_ text: String, classes: Int) throws -> (region: SegRegion, exemplar: String) {
    guard let eq = text.firstIndex(of: "=") else { throw EditingError("'\(text)': expected CLASS=IMAGE (e.g. wall=a.png)") }
    let exemplar = String(text[text.index(after: eq)...])
    guard !exemplar.isEmpty else { throw EditingError("'\(text)': no exemplar after '='") }
    return (try SegRegion(parsing: String(text[..<eq]), classes: classes), exemplar)
}

/// One region's style: where (`mask`) and whose appearance (`exemplarWs`).
public struct RegionStyle: Sendable {
    /// `[1, 1, R, R]` in [0, 1].
    public var mask: Tensor
    /// `[1, numWs, wDim]`, the exemplar's codes.
    public var exemplarWs: Tensor

    public init(mask: Tensor, exemplarWs: Tensor) { self.mask = mask; self.exemplarWs = exemplarWs }

    /// The default style rows: every row after the coarse (layout) ones, as `translate --exemplar`.
    /// Not only `fine`: on scenes64 the hues live in the 16² rows 4-7, the fine rows 8-9 move
    /// them by 0.02 only (Bench/mask-exemplar.md); the blend keeps the middle rows' layout
    /// changes inside the region.
    public static func defaultLayers(numWs: Int) -> Range<Int> { LayerPreset.middle.range(numWs: numWs).lowerBound ..< numWs }
}

/// The map's codes rendered with per-region styles.
/// - Parameters:
///   - ws: `[1, numWs, wDim]`, the map's codes (from the guidance encoder).
///   - styles: in priority order; where masks overlap the later style wins.
///   - layers: the rows each region takes from its exemplar (the map keeps the rest, its layout).
///   - blendResolution: the first blended block (one of `G.blendResolutions`).
///   - noise: as `synthesis` (nil = the generator's const noise).
/// - Returns: the image `[1, 3, R, R]` and each region's styled codes `[1, numWs, wDim]`.
/// - Throws: `EditingError` for shapes that do not match the generator, an empty or outside row
///   range, a blend resolution that is not a block, no styles.
public func renderRegionStyles(generator G: StyleGAN2Generator, ws: Tensor, styles: [RegionStyle], layers: Range<Int>,
                               blendResolution: Int, noise: NoiseMaps? = nil) throws -> (image: Tensor, styledWs: [Tensor]) {
    guard ws.rank == 3, ws.shape[0] == 1, ws.shape[1] == G.numWs, ws.shape[2] == G.wDim else {
        throw EditingError("the latent must be [1, \(G.numWs), \(G.wDim)], got \(ws.shape)")
    }
    guard !styles.isEmpty else { throw EditingError("no region styles") }
    guard G.blendResolutions.contains(blendResolution) else {
        throw EditingError("blend resolution \(blendResolution) is not a block of this generator (one of \(G.blendResolutions.map(String.init).joined(separator: ", ")))")
    }
    for s in styles {
        guard s.mask.shape == [1, 1, G.resolution, G.resolution] else {
            throw EditingError("region mask must be [1, 1, \(G.resolution), \(G.resolution)], got \(s.mask.shape)")
        }
    }
    let styled = try styles.map { try exemplarCrossover(ws: ws, exemplarWs: $0.exemplarWs, layers: layers) }
    let image = G.regionBlendedSynthesis(baseWs: ws, regionWs: styled, masks: styles.map(\.mask), blendResolution: blendResolution, noise: noise)
    return (image, styled)
}
