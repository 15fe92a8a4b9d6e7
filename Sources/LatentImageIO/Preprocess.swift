import LatentTensor

/// Prepares a loaded image as an inversion target: crop, then an antialiased resize to
/// `size × size`, as NVIDIA's `projector.py` (centre square crop, then `PIL.Image.LANCZOS`).
///
/// - Parameters:
///   - image: `[C, H, W]` in [-1, 1] (usually `[3, H, W]` from `loadImage`).
///   - crop: `.center` (default use), `.none` (squash the whole image) or a `.box`.
///   - size: output side in pixels (≥ 1), e.g. the generator's `img_resolution`.
///   - method: resampling kernel (default `.lanczos`, as the reference projector).
/// - Returns: `[C, size, size]`, clamped to [-1, 1] (Lanczos and bicubic overshoot at edges;
///   the reference clips when it rounds to uint8).
/// - Throws: `ImageError` for a non-`[C, H, W]` tensor, `size < 1`, or a box outside the image.
public func preprocess(_ image: Tensor, crop: CropMode, size: Int, method: ResizeMethod = .lanczos) throws -> Tensor {
    guard image.rank == 3, image.shape.allSatisfy({ $0 >= 1 }) else {
        throw ImageError(.invalidArgument, subject: "image", reason: "preprocess expects a [C, H, W] tensor, got \(image.shape)")
    }
    guard size >= 1 else {
        throw ImageError(.invalidArgument, subject: "size", reason: "output size must be at least 1, got \(size)")
    }
    let (c, h, w) = (image.shape[0], image.shape[1], image.shape[2])
    let (x0, y0, cw, ch): (Int, Int, Int, Int)
    switch crop {
    case .center:
        let s = min(w, h)
        (x0, y0, cw, ch) = ((w - s) / 2, (h - s) / 2, s, s)
    case .none:
        (x0, y0, cw, ch) = (0, 0, w, h)
    case let .box(x, y, bw, bh):
        // Compared by subtraction: x + bw could overflow for a hostile box.
        guard x >= 0, y >= 0, bw >= 1, bh >= 1, bw <= w, bh <= h, x <= w - bw, y <= h - bh else {
            throw ImageError(.invalidArgument, subject: "crop",
                             reason: "box \(crop) (x,y,w,h) does not fit inside the \(w)×\(h) image")
        }
        (x0, y0, cw, ch) = (x, y, bw, bh)
    }
    var cropped = Tensor.zeros([1, c, ch, cw])
    image.withUnsafeBufferPointer { src in
        cropped.withUnsafeMutableBufferPointer { dst in
            for k in 0..<c {
                for y in 0..<ch {
                    let s = src.baseAddress! + (k * h + y0 + y) * w + x0
                    let d = dst.baseAddress! + (k * ch + y) * cw
                    d.update(from: s, count: cw)
                }
            }
        }
    }
    var out = resize(cropped, height: size, width: size, method: method, antialias: true)
    out.withUnsafeMutableBufferPointer { p in
        for i in p.indices { p[i] = min(max(p[i], -1), 1) }
    }
    return out.reshaped([c, size, size])
}
