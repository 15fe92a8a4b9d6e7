import LatentTensor

/// Enlarges an image `[C, H, W]` by an integer `factor` with nearest-neighbour sampling (each
/// pixel becomes a `factor × factor` block), so small generators' outputs can be looked at
/// without a viewer's blur. `factor` 1 returns the image unchanged.
public func nearestUpscale(_ image: Tensor, factor: Int) -> Tensor {
    precondition(image.rank == 3 && factor >= 1, "nearestUpscale: image must be [C, H, W] and factor >= 1")
    guard factor > 1 else { return image }
    let c = image.shape[0], h = image.shape[1], w = image.shape[2]
    let oh = h * factor, ow = w * factor
    var out = Tensor.zeros([c, oh, ow])
    out.withUnsafeMutableBufferPointer { o in
        image.withUnsafeBufferPointer { p in
            for ch in 0..<c { for y in 0..<oh { for x in 0..<ow {
                o[(ch * oh + y) * ow + x] = p[(ch * h + y / factor) * w + x / factor]
            } } }
        }
    }
    return out
}
