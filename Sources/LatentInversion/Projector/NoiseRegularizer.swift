import Foundation
import LatentTensor

/// Validated `[H, W]` view of a noise map given as `[H, W]`, `[1, H, W]` or `[1, 1, H, W]`.
private func noisePlane(_ t: Tensor, index: Int) throws -> (h: Int, w: Int) {
    guard t.rank >= 2, t.shape.dropLast(2).allSatisfy({ $0 == 1 }), t.dim(-2) > 0, t.dim(-1) > 0 else {
        throw ImageInputError("noiseMaps[\(index)]", "needs shape [H, W] or [1, 1, H, W], got \(t.shape)")
    }
    guard t.isFinite else { throw ImageInputError("noiseMaps[\(index)]", "contains NaN or infinity") }
    return (t.dim(-2), t.dim(-1))
}

/// NVIDIA's noise regulariser (stylegan2-ada-pytorch `projector.py`) and its gradient:
///
///     for each noise map n:
///         loop: reg += mean(n · roll(n, 1, x))² + mean(n · roll(n, 1, y))²
///               stop if height ≤ 8, else n = avg_pool2d(n, 2)
///
/// i.e. the squared one-pixel auto-correlations (circular shifts) of every map at every 2×
/// downsampling down to 8×8 (maps of 8×8 and less contribute once). Pooling floors odd sizes as
/// `F.avg_pool2d`. Computed in Double.
///
/// - Parameter noiseMaps: each `[H, W]` (NVIDIA's `noise_const` buffers) or `[1, 1, H, W]`.
/// - Returns: `loss` (unweighted; the projector multiplies by `regularizeNoiseWeight`, 1e5) and
///   `gradients`, d loss / d map, shaped like each map.
/// - Throws: `ImageInputError` for maps of another shape or with non-finite values.
public func noiseRegularization(noiseMaps: [Tensor]) throws -> (loss: Double, gradients: [Tensor]) {
    var loss = 0.0
    var grads = [Tensor]()
    for (index, map) in noiseMaps.enumerated() {
        var (h, w) = try noisePlane(map, index: index)
        var levels: [(values: [Double], h: Int, w: Int)] = [(map.storage.map(Double.init), h, w)]
        // Forward: the pyramid and each level's two shift means.
        var coefficients = [(x: Double, y: Double)]()
        while true {
            let v = levels.last!.values
            var sx = 0.0, sy = 0.0
            for y in 0..<h { for x in 0..<w {
                let a = v[y * w + x]
                sx += a * v[y * w + (x + w - 1) % w]
                sy += a * v[((y + h - 1) % h) * w + x]
            } }
            let mx = sx / Double(h * w), my = sy / Double(h * w)
            loss += mx * mx + my * my
            coefficients.append((mx, my))
            if h <= 8 { break }
            let (oh, ow) = (h / 2, w / 2)
            guard oh > 0, ow > 0 else { break }
            var pooled = [Double](repeating: 0, count: oh * ow)
            for y in 0..<oh { for x in 0..<ow {
                pooled[y * ow + x] = 0.25 * (v[2 * y * w + 2 * x] + v[2 * y * w + 2 * x + 1]
                                             + v[(2 * y + 1) * w + 2 * x] + v[(2 * y + 1) * w + 2 * x + 1])
            } }
            levels.append((pooled, oh, ow))
            (h, w) = (oh, ow)
        }
        // Backward from the coarsest level: d(m²)/dv = 2m · (roll(v, +1) + roll(v, −1)) / (H·W)
        // along each axis, then the pooling adjoint (each input gets a quarter).
        var g = [Double]()
        for l in stride(from: levels.count - 1, through: 0, by: -1) {
            let (v, lh, lw) = levels[l]
            var gl = [Double](repeating: 0, count: lh * lw)
            if l + 1 < levels.count {
                let ow = levels[l + 1].w
                for y in 0..<levels[l + 1].h { for x in 0..<ow {
                    let q = 0.25 * g[y * ow + x]
                    gl[2 * y * lw + 2 * x] += q; gl[2 * y * lw + 2 * x + 1] += q
                    gl[(2 * y + 1) * lw + 2 * x] += q; gl[(2 * y + 1) * lw + 2 * x + 1] += q
                } }
            }
            let cx = 2 * coefficients[l].x / Double(lh * lw), cy = 2 * coefficients[l].y / Double(lh * lw)
            for y in 0..<lh { for x in 0..<lw {
                let left = v[y * lw + (x + lw - 1) % lw], right = v[y * lw + (x + 1) % lw]
                let up = v[((y + lh - 1) % lh) * lw + x], down = v[((y + 1) % lh) * lw + x]
                gl[y * lw + x] += cx * (left + right) + cy * (up + down)
            } }
            g = gl
        }
        grads.append(Tensor(shape: map.shape, data: g.map { Float($0) }))
    }
    return (loss, grads)
}

/// NVIDIA's noise normalisation after each projector step, per map:
/// `n ← n − mean(n)`, then `n ← n · rsqrt(mean(n²))` (zero mean, unit RMS over the map).
///
/// - Parameter map: `[H, W]` or `[1, 1, H, W]`.
/// - Throws: `ImageInputError` for a constant map (the reference would divide by zero).
public func normalizeNoise(_ map: Tensor) throws -> Tensor {
    _ = try noisePlane(map, index: 0)
    let n = Double(map.count)
    let mean = map.storage.reduce(0.0) { $0 + Double($1) } / n
    let centred = map.storage.map { Double($0) - mean }
    let ms = centred.reduce(0.0) { $0 + $1 * $1 } / n
    guard ms > 0 else { throw ImageInputError("noise map", "is constant and cannot be normalised to unit variance") }
    let scale = 1 / ms.squareRoot()
    return Tensor(shape: map.shape, data: centred.map { Float($0 * scale) })
}

/// `normalizeNoise` applied to every map.
public func normalizeNoise(_ maps: [Tensor]) throws -> [Tensor] { try maps.map(normalizeNoise) }
