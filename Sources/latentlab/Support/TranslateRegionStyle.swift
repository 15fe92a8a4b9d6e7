import Foundation
import LatentTensor
import LatentCore
import LatentModels
import LatentEditing
import LatentEncoders

/// `translate MAP --region-style CLASS=IMG … [--layers a-b] [--blend-res R]` (SEAN: one style per
/// region of the map).
extension Translate {
    /// The map's codes rendered with the `--region-style` exemplars, each confined to its
    /// region of the map (`renderRegionStyles`). A listed region the map does not contain is
    /// skipped with a warning (a style for nothing; a folder of maps need not show every class),
    /// but when none is present the command refuses (the output would be the plain one).
    /// Every argument is checked (class, file) before any exemplar is inverted.
    /// - Parameter plain: the map's own output `[1, 3, R, R]`, shown in the strip.
    /// - Returns: the region-styled image `[1, 3, R, R]`, the strip's pictures (the exemplars'
    ///   renders, then the plain output) and the record's entries.
    func applyRegionStyles(ws: Tensor, plain: Tensor, map: GuidanceMap, kind: GuidanceKind, classes: Int, generator G: StyleGAN2Generator)
        throws -> (image: Tensor, stripExtras: [Tensor], record: [String: RecordValue]) {
        guard kind == .seg, let ids = map.classIds else {
            throw CommandFailure("--region-style needs a seg encoder (a \(kind.rawValue) map has no classes)")
        }
        var parsed: [(text: String, region: SegRegion, exemplar: String, mask: Tensor)] = []
        for text in variants.regionStyle {
            let p: (region: SegRegion, exemplar: String)
            do { p = try parseRegionStyleArgument(text, classes: classes) } catch { throw CommandFailure("--region-style \(error)") }
            guard FileManager.default.fileExists(atPath: p.exemplar) else { throw CommandFailure("--region-style \(text): \(p.exemplar): no such file") }
            let mask = try p.region.mask(mapClassIds: ids, resolution: G.resolution)
            if mask.storage.contains(where: { $0 > 0 }) {
                parsed.append((text, p.region, p.exemplar, mask))
            } else {
                printError("warning: --region-style \(text): the map has no \(p.region.name) pixels; skipped")
            }
        }
        guard !parsed.isEmpty else { throw CommandFailure("--region-style: none of the regions is in \(input)") }
        let layers: Range<Int>
        do { layers = try variants.layers.map { try parseLayerSelection($0, numWs: G.numWs) } ?? RegionStyle.defaultLayers(numWs: G.numWs) }
        catch { throw CommandFailure("--layers: \(error)") }
        let blendRes = variants.blendRes ?? MaskedEdit.defaultBlendResolution(imageResolution: G.resolution)
        guard G.blendResolutions.contains(blendRes) else {
            throw CommandFailure("--blend-res \(blendRes): not a block of this generator (one of \(G.blendResolutions.map(String.init).joined(separator: ", ")))")
        }
        // An exemplar listed for several regions is inverted once.
        var latents: [String: Tensor] = [:]
        for p in parsed where latents[p.exemplar] == nil {
            do { latents[p.exemplar] = try exemplarLatent(p.exemplar, option: "--region-style", generator: G) }
            catch let f as CommandFailure { throw f } catch { throw CommandFailure(error, context: p.exemplar) }
        }
        let styles = parsed.map { RegionStyle(mask: $0.mask, exemplarWs: latents[$0.exemplar]!) }
        let image: Tensor
        do { image = try renderRegionStyles(generator: G, ws: ws, styles: styles, layers: layers, blendResolution: blendRes).image }
        catch { throw CommandFailure(error) }
        var seen = Set<String>()
        let pictures = parsed.filter { seen.insert($0.exemplar).inserted }.map { G.synthesis(ws: latents[$0.exemplar]!).row(0).map { min(max($0, -1), 1) } }
        let record: [String: RecordValue] = [
            "region_styles": .array(parsed.map { p in
                .object(["region": .string(p.region.name), "class_ids": .array(p.region.classIds.map { .int($0) }), "exemplar": .string(p.exemplar),
                         "pixels": .int(p.mask.storage.reduce(0) { $0 + Int($1) })])
            }),
            "region_layers": .string(wsRangeText(layers)),
            "blend_resolution": .int(blendRes),
        ]
        print("\(parsed.count) region style(s) (rows \(wsRangeText(layers)), blended from \(blendRes)²): "
              + parsed.map { "\($0.region.name) ← \($0.exemplar)" }.joined(separator: ", "))
        return (image, pictures + [plain.row(0).map { min(max($0, -1), 1) }], record)
    }
}
