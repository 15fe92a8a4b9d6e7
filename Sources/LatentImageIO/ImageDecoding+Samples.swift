import CImageCodecs
import LatentTensor

/// Converts interleaved decoded samples to `[3, H, W]` in [-1, 1].
///
/// A sample `s` of an 8-bit (16-bit) image maps to `s / 127.5 - 1` (`s / 32767.5 - 1`), so an
/// 8-bit image gives exactly the floats of NVIDIA's `img.to(float32) / 127.5 - 1`.
/// Gray is replicated to RGB. Alpha `a` is composited on white in stored (sRGB) values:
/// `s·a + max·(1 − a)`. CMYK follows the Adobe convention when an Adobe APP14 marker is present
/// (Photoshop stores inverted ink, so `R = C·K` on the stored values); without it the ink is
/// stored directly (`R = (1 − C)(1 − K)`), as libjpeg's `djpeg` and browsers treat them.
func imageTensor(from p: llc_pixels, adobeInvertedCMYK: Bool) -> Tensor {
    let w = Int(p.width), h = Int(p.height), channels = Int(p.channels)
    let plane = w * h
    var out = Tensor.zeros([3, h, w])
    guard plane > 0, let raw = p.pixels else { return out }
    let maxValue: Double = p.bytesPerSample == 2 ? 65535 : 255
    let half = Float(maxValue / 2)
    out.withUnsafeMutableBufferPointer { buf in
        let r = buf.baseAddress!, g = r + plane, b = g + plane
        func convert<S: BinaryInteger>(_ src: UnsafePointer<S>) {
            @inline(__always) func v(_ i: Int) -> Float { Float(src[i]) / half - 1 }
            @inline(__always) func over(_ s: S, _ a: Double) -> Float {
                // Double keeps 16-bit products exact; the composite stays in [0, max].
                Float((Double(s) * a + maxValue * (maxValue - a)) / maxValue) / half - 1
            }
            switch (channels, p.isCMYK != 0) {
            case (1, _):
                for i in 0..<plane { let x = v(i); r[i] = x; g[i] = x; b[i] = x }
            case (2, _):
                for i in 0..<plane {
                    let x = over(src[2 * i], Double(src[2 * i + 1]))
                    r[i] = x; g[i] = x; b[i] = x
                }
            case (3, _):
                for i in 0..<plane { r[i] = v(3 * i); g[i] = v(3 * i + 1); b[i] = v(3 * i + 2) }
            case (4, false):
                for i in 0..<plane {
                    let a = Double(src[4 * i + 3])
                    r[i] = over(src[4 * i], a); g[i] = over(src[4 * i + 1], a); b[i] = over(src[4 * i + 2], a)
                }
            case (4, true):
                let scale = 1 / maxValue
                for i in 0..<plane {
                    var c = Double(src[4 * i]) * scale, m = Double(src[4 * i + 1]) * scale
                    var y = Double(src[4 * i + 2]) * scale, k = Double(src[4 * i + 3]) * scale
                    if !adobeInvertedCMYK { c = 1 - c; m = 1 - m; y = 1 - y; k = 1 - k }
                    // Stored values are now "paper left": the colour is paper × (1 − black ink).
                    r[i] = Float(2 * c * k - 1); g[i] = Float(2 * m * k - 1); b[i] = Float(2 * y * k - 1)
                }
            default:
                preconditionFailure("decoder returned \(channels) channels")
            }
        }
        if p.bytesPerSample == 2 {
            convert(raw.bindMemory(to: UInt16.self, capacity: plane * channels))
        } else {
            convert(raw.bindMemory(to: UInt8.self, capacity: plane * channels))
        }
    }
    return out
}
