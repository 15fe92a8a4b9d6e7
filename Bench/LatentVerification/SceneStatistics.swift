import LatentTensor

/// Pixel statistics of one tabletop scene (an object on a floor in front of a wall), measured
/// without any model: the object is the largest 4-connected region of pixels that differ from
/// their row's median colour (wall and floor are uniform along a row; the object never fills
/// half a row) and are not shadow (darker than the row's colour with the same chromaticity).
public struct SceneStatistics: Sendable {
    /// Object pixels / all pixels.
    public var objectArea: Double
    /// Object bounding-box height / image height.
    public var objectHeight: Double
    /// Object centroid x / image width (0 left … 1 right).
    public var centroidX: Double
    /// Mean object colour, RGB in [0, 1].
    public var objectColour: [Double]
    /// Mean wall colour (rows above the horizon, object box excluded), RGB in [0, 1].
    public var wallColour: [Double]
    /// How far the object's row widths are from an ellipse filling its bounding box (mean
    /// |width − ellipse width| over the rows, over the widest row): ~0 for a sphere's disc,
    /// larger for a cube's hexagon or a cone's triangle.
    public var ellipseMisfit: Double
    /// Horizon: the first row (below the top fifth) whose row colour jumps from the row above, as a
    /// fraction of the image height (1 when no row jumps).
    public var horizon: Double = 1
    /// Object bounding box (inclusive pixel rows/columns); empty object gives an empty box.
    public var box: (top: Int, bottom: Int, left: Int, right: Int)
    /// Row-major indices of the object's pixels (the component measured).
    public var objectPixels: [Int] = []
    public var objectRedMinusBlue: Double { objectColour[0] - objectColour[2] }
    public var wallRedMinusBlue: Double { wallColour[0] - wallColour[2] }
}

/// Measures `SceneStatistics` of an image `[3, H, W]` in [-1, 1].
public func sceneStatistics(image: Tensor) -> SceneStatistics {
    precondition(image.rank == 3 && image.shape[0] == 3, "sceneStatistics: image must be [3, H, W], got \(image.shape)")
    let h = image.shape[1], w = image.shape[2], hw = h * w
    func px(_ c: Int, _ y: Int, _ x: Int) -> Double { min(max((Double(image[flat: c * hw + y * w + x]) + 1) / 2, 0), 1) }
    func median(_ v: [Double]) -> Double { let s = v.sorted(); return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2 }
    // Reference colour of each row.
    var rowRef = [[Double]](repeating: [0, 0, 0], count: h)
    for y in 0..<h { for c in 0..<3 { rowRef[y][c] = median((0..<w).map { px(c, y, $0) }) } }
    var candidate = [Bool](repeating: false, count: hw)
    for y in 0..<h {
        let ref = rowRef[y]
        let refSum = max(ref.reduce(0, +), 1e-6)
        for x in 0..<w {
            let p = [px(0, y, x), px(1, y, x), px(2, y, x)]
            let dist = zip(p, ref).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
            guard dist > 0.12 else { continue }
            let sum = max(p.reduce(0, +), 1e-6)
            let chroma = (0..<3).reduce(0.0) { $0 + abs(p[$1] / sum - ref[$1] / refSum) }
            let isShadow = sum < refSum * 0.97 && chroma < 0.06
            candidate[y * w + x] = !isShadow
        }
    }
    // Largest 4-connected component.
    var label = [Int](repeating: -1, count: hw)
    var best: [Int] = []
    for start in 0..<hw where candidate[start] && label[start] < 0 {
        var stack = [start], comp: [Int] = []
        label[start] = start
        while let i = stack.popLast() {
            comp.append(i)
            let y = i / w, x = i % w
            for (ny, nx) in [(y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)] where ny >= 0 && ny < h && nx >= 0 && nx < w {
                let j = ny * w + nx
                if candidate[j] && label[j] < 0 { label[j] = start; stack.append(j) }
            }
        }
        if comp.count > best.count { best = comp }
    }
    var top = h, bottom = -1, left = w, right = -1
    var colour = [0.0, 0.0, 0.0], sx = 0.0
    var rowWidth = [Int](repeating: 0, count: h)
    for i in best {
        let y = i / w, x = i % w
        top = min(top, y); bottom = max(bottom, y); left = min(left, x); right = max(right, x)
        for c in 0..<3 { colour[c] += px(c, y, x) }
        sx += Double(x) + 0.5
        rowWidth[y] += 1
    }
    let n = Double(max(best.count, 1))
    colour = colour.map { $0 / n }
    var misfit = 0.0
    if bottom >= top {
        let half = Double(bottom - top + 1) / 2, centre = Double(top + bottom + 1) / 2
        let widest = Double(max(rowWidth.max() ?? 1, 1))
        for y in top...bottom {
            let t = (Double(y) + 0.5 - centre) / half
            misfit += abs(Double(rowWidth[y]) - widest * max(0, 1 - t * t).squareRoot())
        }
        misfit /= Double(bottom - top + 1) * widest
    }
    // Wall: rows above the horizon, found as the first row whose reference colour jumps.
    var horizon = h
    for y in 1..<h {
        let d = zip(rowRef[y], rowRef[y - 1]).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
        if d > 0.08 && y > h / 5 { horizon = y; break }
    }
    var wall = [0.0, 0.0, 0.0], wallCount = 0.0
    for y in 0 ..< max(horizon - 1, 1) {
        for x in 0..<w where !(y >= top - 2 && y <= bottom + 2 && x >= left - 2 && x <= right + 2) {
            for c in 0..<3 { wall[c] += px(c, y, x) }
            wallCount += 1
        }
    }
    wall = wall.map { $0 / max(wallCount, 1) }
    var stats = SceneStatistics(objectArea: Double(best.count) / Double(hw),
                                objectHeight: bottom >= top ? Double(bottom - top + 1) / Double(h) : 0,
                                centroidX: best.isEmpty ? 0.5 : sx / n / Double(w),
                                objectColour: colour, wallColour: wall, ellipseMisfit: misfit,
                                horizon: Double(horizon) / Double(h), box: (top, bottom, left, right))
    stats.objectPixels = best
    return stats
}

/// Mean absolute change (over channels, on [0, 1] images) between two images `[3, H, W]` at
/// pixels outside `box` grown by `margin` (e.g. the union of the object boxes).
public func backgroundChange(_ a: Tensor, _ b: Tensor, box: (top: Int, bottom: Int, left: Int, right: Int), margin: Int = 3) -> Double {
    precondition(a.shape == b.shape && a.rank == 3, "backgroundChange: images must match, [3, H, W]")
    let h = a.shape[1], w = a.shape[2]
    var s = 0.0, count = 0.0
    for y in 0..<h { for x in 0..<w {
        if y >= box.top - margin && y <= box.bottom + margin && x >= box.left - margin && x <= box.right + margin { continue }
        for c in 0..<3 {
            let i = (c * h + y) * w + x
            s += abs(Double(min(max(a[flat: i], -1), 1)) - Double(min(max(b[flat: i], -1), 1))) / 2
        }
        count += 3
    } }
    return s / max(count, 1)
}
