// 2-D max and average pooling, PyTorch `max_pool2d` / `avg_pool2d` semantics with square windows,
// no dilation and `ceil_mode = False` (what LPIPS's VGG16/AlexNet and MS-SSIM use).

/// Output size of a pooling window along one dimension: `(size + 2·padding − kernel) / stride + 1`.
@inline(__always)
private func poolOut(_ size: Int, _ kernel: Int, _ stride: Int, _ padding: Int) -> Int {
    (size + 2 * padding - kernel) / stride + 1
}

private func poolChecks(_ shape: [Int], _ kernel: Int, _ stride: Int, _ padding: Int, _ name: String) {
    precondition(shape.count == 4, "\(name): input must be [N, C, H, W], got \(shape)")
    precondition(kernel >= 1 && stride >= 1, "\(name): kernel (\(kernel)) and stride (\(stride)) must be ≥ 1")
    precondition(padding >= 0 && 2 * padding <= kernel,
                 "\(name): padding \(padding) must be in 0...kernel/2 (kernel \(kernel)), as PyTorch requires")
    precondition(shape[2] + 2 * padding >= kernel && shape[3] + 2 * padding >= kernel,
                 "\(name): window \(kernel) larger than padded input \(shape)")
}

/// Max pooling. Padding counts as −∞. Ties go to the first maximum in row-major window order and
/// NaN propagates, as in PyTorch.
///
/// - Parameters:
///   - x: `[N, C, H, W]`.
///   - kernel: window size; stride: default `kernel`; padding: default 0.
/// - Returns: `output [N, C, outH, outW]` and `indices` (same count): for each output element, the
///   flat index `iy·W + ix` of the chosen input element within its `[H, W]` plane (PyTorch's
///   `return_indices`).
public func maxPool2d(_ x: Tensor, kernel: Int, stride: Int? = nil, padding: Int = 0) -> (output: Tensor, indices: [Int32]) {
    let stride = stride ?? kernel
    poolChecks(x.shape, kernel, stride, padding, "maxPool2d")
    let n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
    let oh = poolOut(h, kernel, stride, padding), ow = poolOut(w, kernel, stride, padding)
    var y = Tensor.zeros([n, c, oh, ow])
    var idx = [Int32](repeating: 0, count: y.count)
    x.withUnsafeBufferPointer { px in y.withUnsafeMutableBufferPointer { py in idx.withUnsafeMutableBufferPointer { pi in
        let xp = px.baseAddress!, yp = py.baseAddress!, ip = pi.baseAddress!
        Parallel.forEach(n * c, minChunk: max(1, 4096 / max(oh * ow * kernel * kernel, 1))) { plane in
            let xs = xp + plane * h * w, ys = yp + plane * oh * ow, iis = ip + plane * oh * ow
            for oy in 0..<oh {
                let y0 = max(oy * stride - padding, 0), y1 = min(oy * stride - padding + kernel, h)
                for ox in 0..<ow {
                    let x0 = max(ox * stride - padding, 0), x1 = min(ox * stride - padding + kernel, w)
                    var best = -Float.infinity, bestIndex = y0 * w + x0
                    for iy in y0..<y1 {
                        for ix in x0..<x1 {
                            let v = xs[iy * w + ix]
                            if v > best || v.isNaN { best = v; bestIndex = iy * w + ix; if v.isNaN { break } }
                        }
                        if best.isNaN { break }
                    }
                    ys[oy * ow + ox] = best
                    iis[oy * ow + ox] = Int32(bestIndex)
                }
            }
        }
    } } }
    return (y, idx)
}

/// Gradient of `maxPool2d`: each output gradient goes to the input element it was taken from
/// (summed when windows overlap and share a maximum).
///
/// - Parameters: `gradOutput [N, C, outH, outW]`, the `indices` from the forward, and the forward
///   input's shape `[N, C, H, W]`.
/// - Returns: `gradInput` of `inputShape`.
public func maxPool2dBackward(gradOutput: Tensor, indices: [Int32], inputShape: [Int]) -> Tensor {
    precondition(inputShape.count == 4 && gradOutput.rank == 4 && gradOutput.shape[0] == inputShape[0]
                 && gradOutput.shape[1] == inputShape[1],
                 "maxPool2dBackward: gradOutput \(gradOutput.shape) does not match input shape \(inputShape)")
    precondition(indices.count == gradOutput.count,
                 "maxPool2dBackward: \(indices.count) indices for \(gradOutput.count) output elements")
    let planes = inputShape[0] * inputShape[1], hw = inputShape[2] * inputShape[3]
    let ohw = gradOutput.shape[2] * gradOutput.shape[3]
    var gx = Tensor.zeros(inputShape)
    gradOutput.withUnsafeBufferPointer { pg in indices.withUnsafeBufferPointer { pi in gx.withUnsafeMutableBufferPointer { pgx in
        let gp = pg.baseAddress!, ip = pi.baseAddress!, dp = pgx.baseAddress!
        Parallel.forEach(planes, minChunk: max(1, 4096 / max(ohw, 1))) { plane in
            let d = dp + plane * hw, g = gp + plane * ohw, ii = ip + plane * ohw
            for j in 0..<ohw {
                let target = Int(ii[j])
                precondition(target >= 0 && target < hw, "maxPool2dBackward: index \(target) outside the \(hw)-element plane")
                d[target] += g[j]
            }
        }
    } } }
    return gx
}

/// Average pooling.
///
/// - Parameters:
///   - x: `[N, C, H, W]`.
///   - kernel: window size; stride: default `kernel`; padding: zeros on every side, default 0.
///   - countIncludePad: divide by the full window `kernel²` (PyTorch's default, true) or by the
///     number of in-image elements (false).
/// - Returns: `[N, C, outH, outW]`.
public func avgPool2d(_ x: Tensor, kernel: Int, stride: Int? = nil, padding: Int = 0,
                      countIncludePad: Bool = true) -> Tensor {
    let stride = stride ?? kernel
    poolChecks(x.shape, kernel, stride, padding, "avgPool2d")
    let n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
    let oh = poolOut(h, kernel, stride, padding), ow = poolOut(w, kernel, stride, padding)
    var y = Tensor.zeros([n, c, oh, ow])
    x.withUnsafeBufferPointer { px in y.withUnsafeMutableBufferPointer { py in
        let xp = px.baseAddress!, yp = py.baseAddress!
        Parallel.forEach(n * c, minChunk: max(1, 4096 / max(oh * ow * kernel * kernel, 1))) { plane in
            let xs = xp + plane * h * w, ys = yp + plane * oh * ow
            for oy in 0..<oh {
                let y0 = max(oy * stride - padding, 0), y1 = min(oy * stride - padding + kernel, h)
                for ox in 0..<ow {
                    let x0 = max(ox * stride - padding, 0), x1 = min(ox * stride - padding + kernel, w)
                    var s: Float = 0
                    for iy in y0..<y1 { for ix in x0..<x1 { s += xs[iy * w + ix] } }
                    let div = countIncludePad ? kernel * kernel : (y1 - y0) * (x1 - x0)
                    ys[oy * ow + ox] = s / Float(div)
                }
            }
        }
    } }
    return y
}

/// Gradient of `avgPool2d`: each output gradient is spread evenly over its window.
///
/// - Parameters: `gradOutput [N, C, outH, outW]`, the forward input's shape and the forward's
///   `kernel`, `stride`, `padding`, `countIncludePad`.
/// - Returns: `gradInput` of `inputShape`.
public func avgPool2dBackward(gradOutput: Tensor, inputShape: [Int], kernel: Int, stride: Int? = nil,
                              padding: Int = 0, countIncludePad: Bool = true) -> Tensor {
    let stride = stride ?? kernel
    poolChecks(inputShape, kernel, stride, padding, "avgPool2dBackward")
    let n = inputShape[0], c = inputShape[1], h = inputShape[2], w = inputShape[3]
    let oh = poolOut(h, kernel, stride, padding), ow = poolOut(w, kernel, stride, padding)
    precondition(gradOutput.shape == [n, c, oh, ow],
                 "avgPool2dBackward: gradOutput \(gradOutput.shape) != forward output shape \([n, c, oh, ow])")
    var gx = Tensor.zeros(inputShape)
    gradOutput.withUnsafeBufferPointer { pg in gx.withUnsafeMutableBufferPointer { pgx in
        let gp = pg.baseAddress!, dp = pgx.baseAddress!
        Parallel.forEach(n * c, minChunk: max(1, 4096 / max(oh * ow * kernel * kernel, 1))) { plane in
            let gs = gp + plane * oh * ow, ds = dp + plane * h * w
            for oy in 0..<oh {
                let y0 = max(oy * stride - padding, 0), y1 = min(oy * stride - padding + kernel, h)
                for ox in 0..<ow {
                    let x0 = max(ox * stride - padding, 0), x1 = min(ox * stride - padding + kernel, w)
                    let div = countIncludePad ? kernel * kernel : (y1 - y0) * (x1 - x0)
                    let g = gs[oy * ow + ox] / Float(div)
                    for iy in y0..<y1 { for ix in x0..<x1 { ds[iy * w + ix] += g } }
                }
            }
        }
    } }
    return gx
}

/// Naive reference for `maxPool2d` (output values only), taking each window over the padded
/// input with −∞ padding.
public func maxPool2dReference(_ x: Tensor, kernel: Int, stride: Int? = nil, padding: Int = 0) -> Tensor {
    poolReference(x, kernel, stride ?? kernel, padding) { vals, _ in vals.compactMap { $0 }.max() ?? -.infinity }
}

/// Naive reference for `avgPool2d`.
public func avgPool2dReference(_ x: Tensor, kernel: Int, stride: Int? = nil, padding: Int = 0,
                               countIncludePad: Bool = true) -> Tensor {
    poolReference(x, kernel, stride ?? kernel, padding) { vals, k in
        let inside = vals.compactMap { $0 }
        return inside.reduce(0, +) / Double(countIncludePad ? k * k : inside.count)
    }
}

/// Applies `reduce` to every window's values (nil for padding) in Double.
private func poolReference(_ x: Tensor, _ kernel: Int, _ stride: Int, _ padding: Int,
                           _ reduce: ([Double?], Int) -> Double) -> Tensor {
    poolChecks(x.shape, kernel, stride, padding, "poolReference")
    let n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
    let oh = poolOut(h, kernel, stride, padding), ow = poolOut(w, kernel, stride, padding)
    var y = Tensor.zeros([n, c, oh, ow])
    for b in 0..<n { for ch in 0..<c { for oy in 0..<oh { for ox in 0..<ow {
        var vals = [Double?]()
        for ky in 0..<kernel { for kx in 0..<kernel {
            let iy = oy * stride - padding + ky, ix = ox * stride - padding + kx
            vals.append(iy >= 0 && iy < h && ix >= 0 && ix < w ? Double(x[b, ch, iy, ix]) : nil)
        } }
        y[b, ch, oy, ox] = Float(reduce(vals, kernel))
    } } } }
    return y
}
