/// Geometry of a 2-D convolution window over one `[C, H, W]` image.
public struct ConvGeometry: Sendable, Equatable {
    public var channels: Int, height: Int, width: Int
    public var kernelH: Int, kernelW: Int
    public var strideH: Int, strideW: Int
    public var padTop: Int, padLeft: Int, padBottom: Int, padRight: Int

    public init(channels: Int, height: Int, width: Int, kernelH: Int, kernelW: Int,
                stride: Int = 1, padding: Int = 0) {
        self.init(channels: channels, height: height, width: width, kernelH: kernelH, kernelW: kernelW,
                  strideH: stride, strideW: stride, padTop: padding, padLeft: padding,
                  padBottom: padding, padRight: padding)
    }

    public init(channels: Int, height: Int, width: Int, kernelH: Int, kernelW: Int,
                strideH: Int, strideW: Int, padTop: Int, padLeft: Int, padBottom: Int, padRight: Int) {
        self.channels = channels; self.height = height; self.width = width
        self.kernelH = kernelH; self.kernelW = kernelW
        self.strideH = strideH; self.strideW = strideW
        self.padTop = padTop; self.padLeft = padLeft; self.padBottom = padBottom; self.padRight = padRight
    }

    /// Output height: `(H + padTop + padBottom - kh) / strideH + 1`.
    @inlinable public var outHeight: Int { (height + padTop + padBottom - kernelH) / strideH + 1 }
    @inlinable public var outWidth: Int { (width + padLeft + padRight - kernelW) / strideW + 1 }
    /// Rows of the column matrix: `C * kh * kw`.
    @inlinable public var colRows: Int { channels * kernelH * kernelW }
    /// Columns of the column matrix: `outH * outW`.
    @inlinable public var colCols: Int { outHeight * outWidth }
}

/// Unfolds one image `[C, H, W]` into the column matrix `[C*kh*kw, outH*outW]` (row stride
/// `ldc`, so several images can be laid side by side for one GEMM). Out-of-image taps are 0.
@inlinable
public func im2col(_ x: UnsafePointer<Float>, _ g: ConvGeometry,
                   _ cols: UnsafeMutablePointer<Float>, ldc: Int? = nil) {
    let oh = g.outHeight, ow = g.outWidth, ld = ldc ?? oh * ow
    for c in 0..<g.channels {
        let xc = x + c * g.height * g.width
        for ky in 0..<g.kernelH {
            for kx in 0..<g.kernelW {
                let row = cols + ((c * g.kernelH + ky) * g.kernelW + kx) * ld
                for oy in 0..<oh {
                    let iy = oy * g.strideH - g.padTop + ky
                    let dst = row + oy * ow
                    if iy < 0 || iy >= g.height {
                        for ox in 0..<ow { dst[ox] = 0 }
                        continue
                    }
                    let src = xc + iy * g.width
                    if g.strideW == 1 {
                        // Contiguous run: only the borders need the bounds test.
                        let shift = kx - g.padLeft            // ix = ox + shift
                        let lo = min(max(0, -shift), ow)
                        let hi = max(lo, min(ow, g.width - shift))
                        for ox in 0..<lo { dst[ox] = 0 }
                        if hi > lo { (dst + lo).update(from: src + lo + shift, count: hi - lo) }
                        for ox in hi..<ow { dst[ox] = 0 }
                    } else {
                        for ox in 0..<ow {
                            let ix = ox * g.strideW - g.padLeft + kx
                            dst[ox] = (ix >= 0 && ix < g.width) ? src[ix] : 0
                        }
                    }
                }
            }
        }
    }
}

/// Adjoint of `im2col`: accumulates (adds) the column matrix back into the image `[C, H, W]`.
/// The caller zeroes `x` first when it wants a plain fold.
@inlinable
public func col2im(_ cols: UnsafePointer<Float>, _ g: ConvGeometry,
                   _ x: UnsafeMutablePointer<Float>, ldc: Int? = nil) {
    let oh = g.outHeight, ow = g.outWidth, ld = ldc ?? oh * ow
    for c in 0..<g.channels {
        let xc = x + c * g.height * g.width
        for ky in 0..<g.kernelH {
            for kx in 0..<g.kernelW {
                let row = cols + ((c * g.kernelH + ky) * g.kernelW + kx) * ld
                for oy in 0..<oh {
                    let iy = oy * g.strideH - g.padTop + ky
                    if iy < 0 || iy >= g.height { continue }
                    let src = row + oy * ow
                    let dst = xc + iy * g.width
                    for ox in 0..<ow {
                        let ix = ox * g.strideW - g.padLeft + kx
                        if ix >= 0 && ix < g.width { dst[ix] += src[ox] }
                    }
                }
            }
        }
    }
}
