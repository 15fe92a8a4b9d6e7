import LatentTensor

/// Named regions of a tabletop scene (the default scenes64 generator's domain: one object on a
/// floor in front of a wall), computed from an image without any model, so `edit --mask object`
/// (or `wall`, `floor`) confines an edit without a hand-drawn mask.
///
/// Wall and floor are uniform along a row, so each row's median colour is its background; the
/// horizon is the split of the row medians into a wall part above and a floor part below with
/// the least squared error; the object is the largest 4-connected region of pixels more than
/// `threshold` (max over RGB on [0, 1]) from their row's median that are not its cast shadow,
/// grown by one pixel. Wall = rows above the horizon, floor = the rest (the shadow included),
/// both without the object's own pixels.
///
/// Two choices measured with `LatentBench recipes` (`Bench/pti.md`, session 6):
/// - A shadow pixel is darker than its row's colour (sum of RGB below 0.97 of it) with the same
///   chromaticity (RGB / sum within 0.06, summed over channels), the test of the scene estimator
///   in `Bench/LatentVerification`. An object recoloured inside a mask that held its shadow took
///   the new colour into the shadow, which reads as a taller object (red-object on the PTI
///   latents of the test scenes: 24/24 with the shadow left out, 18/24 with it).
/// - The object's one-pixel rim of mixed colours belongs to the object and to the region around
///   it, so an edit of either reaches it. A wall without the rim kept a ring of the old wall
///   colour around the object after a wall edit, which also reads as a taller object (red-wall:
///   17/24 with the shared rim, 13/24 without; 20/24 with the recipe's hard edge, `feather` 0).
public enum SceneRegion: String, CaseIterable, Sendable {
    case object, wall, floor

    /// The region's mask `[1, 1, H, W]` (1 inside) of `image` `[3, H, W]` in [-1, 1].
    public func mask(image: Tensor, threshold: Float = 0.12) -> Tensor {
        precondition(image.rank == 3 && image.shape[0] == 3 && image.shape[1] >= 4, "SceneRegion: image must be [3, H, W], got \(image.shape)")
        let h = image.shape[1], w = image.shape[2], hw = h * w
        func px(_ c: Int, _ q: Int) -> Float { (image.storage[c * hw + q] + 1) / 2 }
        var medians = [[Float]](repeating: [0, 0, 0], count: h)
        for y in 0..<h { for c in 0..<3 {
            let v = (0..<w).map { px(c, y * w + $0) }.sorted()
            medians[y][c] = w % 2 == 1 ? v[w / 2] : (v[w / 2 - 1] + v[w / 2]) / 2
        } }
        func isShadow(_ q: Int) -> Bool {
            let ref = medians[q / w], refSum = max(ref.reduce(0, +), 1e-6)
            let p = (0..<3).map { min(max(px($0, q), 0), 1) }, sum = max(p.reduce(0, +), 1e-6)
            let chroma = (0..<3).reduce(Float(0)) { $0 + abs(p[$1] / sum - ref[$1] / refSum) }
            return sum < refSum * 0.97 && chroma < 0.06
        }
        let core = Self.objectCore(h: h, w: w, threshold: threshold) { q, c in isShadow(q) ? 0 : abs(px(c, q) - medians[q / w][c]) }
        if self == .object { return Tensor(shape: [1, 1, h, w], data: Self.grown(core, h: h, w: w).map { $0 ? 1 : 0 }) }
        let horizon = Self.horizonRow(medians)
        return Tensor(shape: [1, 1, h, w], data: (0..<hw).map { q in
            !core[q] && ((q / w < horizon) == (self == .wall)) ? 1 : 0
        })
    }

    /// The row (1 … H−1) where the floor starts: least squared error of a two-part fit.
    static func horizonRow(_ rows: [[Float]]) -> Int {
        let h = rows.count
        func sse(_ part: ArraySlice<[Float]>) -> Double {
            var total = 0.0
            for c in 0..<3 {
                let m = part.reduce(0.0) { $0 + Double($1[c]) } / Double(part.count)
                for v in part { total += (Double(v[c]) - m) * (Double(v[c]) - m) }
            }
            return total
        }
        var best = 1, bestE = Double.infinity
        for y in 1..<h {
            let e = sse(rows[0..<y]) + sse(rows[y...])
            if e < bestE { bestE = e; best = y }
        }
        return best
    }

    /// The largest 4-connected region of pixels whose colour difference exceeds `threshold`; all
    /// false when no pixel differs.
    static func objectCore(h: Int, w: Int, threshold: Float, difference: (Int, Int) -> Float) -> [Bool] {
        let hw = h * w
        let candidate = (0..<hw).map { q in (0..<3).contains { difference(q, $0) > threshold } }
        var label = [Int](repeating: -1, count: hw)
        var best: [Int] = []
        for start in 0..<hw where candidate[start] && label[start] < 0 {
            var stack = [start], members: [Int] = []
            label[start] = start
            while let q = stack.popLast() {
                members.append(q)
                let (y, x) = (q / w, q % w)
                for (ny, nx) in [(y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)] where ny >= 0 && ny < h && nx >= 0 && nx < w {
                    let n = ny * w + nx
                    if candidate[n] && label[n] < 0 { label[n] = start; stack.append(n) }
                }
            }
            if members.count > best.count { best = members }
        }
        var out = [Bool](repeating: false, count: hw)
        for q in best { out[q] = true }
        return out
    }

    /// `mask` grown by one pixel (4-neighbours).
    static func grown(_ mask: [Bool], h: Int, w: Int) -> [Bool] {
        var out = mask
        for q in 0..<(h * w) where mask[q] {
            let (y, x) = (q / w, q % w)
            for (ny, nx) in [(y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)] where ny >= 0 && ny < h && nx >= 0 && nx < w { out[ny * w + nx] = true }
        }
        return out
    }
}
