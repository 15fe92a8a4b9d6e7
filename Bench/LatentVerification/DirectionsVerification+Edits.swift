import Foundation
import LatentTensor
import LatentImageIO
import LatentModels
import LatentEditing

extension VerificationContext {
    // MARK: layers

    /// Applies a direction at ±strength on every contiguous ws-row range of sampled latents and
    /// ranks the ranges by how much they move the target attribute's CLIP probability against
    /// how much they move the other attributes'.
    func layerSweep() throws {
        let (file, entry) = parseDirectionReference(try args.require("direction"))
        let set = try DirectionSet.load(path: file)
        let dir = set.direction(try entry.map { try set.index(of: $0) } ?? 0)
        let attrs = try args.attributes()
        guard attrs.count == 1 else { throw EditingError("layers: give one --attribute") }
        let target = attrs[0]
        let s = Float(try args.double("strength", 3)), n = try args.int("samples", 24), seed = try args.int("seed", 200_000)
        let probe = try probe()
        let numWs = generator.numWs
        let w = mapFirstRows(generator: generator, z: zFromSeeds((0..<n).map { UInt32(seed + $0) }, zDim: generator.zDim))
        let ws = broadcastToWs(w, numWs: numWs)
        let base = try probe.read(generator.synthesis(ws: ws))
        var rows: [(range: Range<Int>, target: Double, off: Double, pixel: Double, background: Double)] = []
        for a in 0..<numWs { for b in a ..< numWs {
            let r = a ..< b + 1
            let up = try probe.read(generator.synthesis(ws: try applyDirection(ws: ws, direction: dir, strength: s, layers: r)))
            let down = try probe.read(generator.synthesis(ws: try applyDirection(ws: ws, direction: dir, strength: -s, layers: r)))
            var t = 0.0, off = 0.0, pix = 0.0
            for i in 0..<n {
                t += up[i].probability[target]! - down[i].probability[target]!
                pix += AttributeProbe.pixelValue(up[i].stats, target) - AttributeProbe.pixelValue(down[i].stats, target)
                for o in SceneAttribute.allCases where o != target {
                    off += (abs(up[i].probability[o]! - base[i].probability[o]!) + abs(down[i].probability[o]! - base[i].probability[o]!)) / 2
                }
            }
            let others = Double(SceneAttribute.allCases.count - 1)
            rows.append((r, t / Double(n), off / Double(n) / others, pix / Double(n), 0))
        } }
        print("direction \(file)\(entry.map { ":" + $0 } ?? "") → \(target.rawValue) (+ = \(target.positiveName)), strength ±\(s), \(n) samples (seeds \(seed)…)")
        print("| ws rows | target ΔP (+s − −s) | others mean abs ΔP | Δ \(AttributeProbe.pixelName(target)) (+s − −s) |")
        print("| --- | --- | --- | --- |")
        for r in rows.sorted(by: { $0.target - $0.off > $1.target - $1.off }).prefix(12) + rows.filter({ $0.range.count == 1 }) {
            print(String(format: "| %d-%d | %+.3f | %.3f | %+.4f |", r.range.lowerBound, r.range.upperBound - 1, r.target, r.off, r.pixel))
        }
    }

    // MARK: scenes

    /// The closing verification: every recipe of `--recipes` applied to every inverted scene
    /// at `--multipliers` × its strength; measures the target and the other attributes.
    func verifyOnScenes() throws {
        let invDir = try args.require("inversions"), recipeDir = try args.require("recipes")
        let multipliers = try args.doubles("multipliers", [-1, -0.5, 0.5, 1])
        let outDir = args.string("out")
        let probe = try probe()
        let names = try FileManager.default.contentsOfDirectory(atPath: invDir)
            .filter { FileManager.default.fileExists(atPath: invDir + "/" + $0 + "/latent.npz") }.sorted()
        guard !names.isEmpty else { throw EditingError("\(invDir): no <scene>/latent.npz") }
        let latents = try names.map { try loadInversionLatent(invDir + "/" + $0 + "/latent.npz") }
        func render(_ edit: (Tensor) throws -> Tensor) throws -> [Tensor] {
            try latents.map { (ws, noise) in generator.synthesis(ws: try edit(ws), noise: noise).row(0) }
        }
        let baseImages = try render { $0 }
        let base = try probe.read(Tensor.concatenate(baseImages.map { $0.reshaped([1] + $0.shape) }))
        let recipes = try FileManager.default.contentsOfDirectory(atPath: recipeDir).filter { $0.hasSuffix(".json") }.sorted()
        if let outDir { try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true) }
        var matrix: [(String, [SceneAttribute: Double])] = []
        print("\(names.count) inverted scenes; strengths = multiplier × the recipe's strength; ΔP = change of CLIP's probability of the positive class")
        for file in recipes {
            let recipe = try EditRecipe.load(path: recipeDir + "/" + file)
            guard let step = recipe.steps.first, let entry = parseDirectionReference(step.direction).entry,
                  let target = SceneAttribute(rawValue: entry) else {
                print("\n\(file): not a named scene-attribute direction; skipped"); continue
            }
            print("\n### \(recipe.name) (\(file): \(recipe.steps.map { "\($0.direction) × \($0.strength) on ws \($0.layers ?? "default")" }.joined(separator: " + ")))")
            print("| × strength | target P before → after | target moved right way | Δ \(AttributeProbe.pixelName(target)) | pixel moved right way | others mean abs ΔP | others' label flips | abs Δ height | abs Δ centroid x | object abs ΔRGB | wall abs ΔRGB | background change |")
            print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
            var strips: [[Tensor]] = baseImages.map { [$0] }
            var effect: [SceneAttribute: [Double]] = [:]
            for m in multipliers {
                var scaled = recipe
                scaled.steps = recipe.steps.map { var s = $0; s.strength *= Float(m); return s }
                let images = try render { try applyRecipe(scaled, ws: $0, recipeDirectory: recipeDir) }
                let after = try probe.read(Tensor.concatenate(images.map { $0.reshaped([1] + $0.shape) }))
                for i in images.indices { strips[i].append(images[i]) }
                let sign = m > 0 ? 1.0 : -1.0
                var pBefore = 0.0, pAfter = 0.0, rightP = 0, dPix = 0.0, rightPix = 0, offP = 0.0, flips = 0, offCount = 0
                var dH = 0.0, dX = 0.0, dObj = 0.0, dWall = 0.0, bg = 0.0
                for i in images.indices {
                    let b = base[i], a = after[i]
                    pBefore += b.probability[target]!; pAfter += a.probability[target]!
                    if sign * (a.probability[target]! - b.probability[target]!) > 0 { rightP += 1 }
                    let dp = AttributeProbe.pixelValue(a.stats, target) - AttributeProbe.pixelValue(b.stats, target)
                    dPix += dp
                    if sign * dp > 0 { rightPix += 1 }
                    for o in SceneAttribute.allCases where o != target {
                        offP += abs(a.probability[o]! - b.probability[o]!)
                        if (a.probability[o]! > 0.5) != (b.probability[o]! > 0.5) { flips += 1 }
                        offCount += 1
                    }
                    for o in SceneAttribute.allCases { effect[o, default: []].append(sign * (a.probability[o]! - b.probability[o]!)) }
                    dH += abs(a.stats.objectHeight - b.stats.objectHeight)
                    dX += abs(a.stats.centroidX - b.stats.centroidX)
                    dObj += zip(a.stats.objectColour, b.stats.objectColour).reduce(0) { $0 + abs($1.0 - $1.1) } / 3
                    dWall += zip(a.stats.wallColour, b.stats.wallColour).reduce(0) { $0 + abs($1.0 - $1.1) } / 3
                    let box = (min(a.stats.box.top, b.stats.box.top), max(a.stats.box.bottom, b.stats.box.bottom),
                               min(a.stats.box.left, b.stats.box.left), max(a.stats.box.right, b.stats.box.right))
                    bg += backgroundChange(images[i], baseImages[i], box: box)
                }
                let k = Double(images.count)
                print(String(format: "| %+.2f | %.3f → %.3f | %d/%d | %+.4f | %d/%d | %.3f | %d/%d | %.4f | %.4f | %.4f | %.4f | %.4f |",
                             m, pBefore / k, pAfter / k, rightP, images.count, dPix / k, rightPix, images.count,
                             offP / Double(offCount), flips, offCount, dH / k, dX / k, dObj / k, dWall / k, bg / k))
            }
            matrix.append((entry, effect.mapValues { $0.reduce(0, +) / Double($0.count) }))
            if let outDir {
                let rows = strips.prefix(8).map { try? imageGrid($0, columns: $0.count, padding: 1) }.compactMap { $0 }
                try saveImage(try imageGrid(rows, columns: 1, padding: 1), to: outDir + "/\(entry).png")
            }
        }
        print("\nMean signed ΔP (towards the strength's sign, averaged over multipliers and scenes): row = edited direction, column = measured attribute")
        print("| direction | " + SceneAttribute.allCases.map(\.rawValue).joined(separator: " | ") + " |")
        print("| --- |" + String(repeating: " --- |", count: SceneAttribute.allCases.count))
        for (name, e) in matrix {
            print("| \(name) | " + SceneAttribute.allCases.map { String(format: "%+.3f", e[$0] ?? 0) }.joined(separator: " | ") + " |")
        }
    }
}
