/// Small vectorised loops for the convolution kernels. Float reductions are not auto-vectorised
/// (that would reassociate the sum), so the sums use explicit 8-wide accumulators.

/// `Σ a[i]·b[i]`.
@inlinable @inline(__always)
public func vDot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
    var i = 0
    let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
    while i + 16 <= n {
        acc0 += ra.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self) * rb.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
        acc1 += ra.loadUnaligned(fromByteOffset: 4 * i + 32, as: SIMD8<Float>.self) * rb.loadUnaligned(fromByteOffset: 4 * i + 32, as: SIMD8<Float>.self)
        i += 16
    }
    var s = (acc0 + acc1).sum()
    while i < n { s += a[i] * b[i]; i += 1 }
    return s
}

/// `Σ a[i]`.
@inlinable @inline(__always)
public func vSum(_ a: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
    var i = 0
    let ra = UnsafeRawPointer(a)
    while i + 16 <= n {
        acc0 += ra.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
        acc1 += ra.loadUnaligned(fromByteOffset: 4 * i + 32, as: SIMD8<Float>.self)
        i += 16
    }
    var s = (acc0 + acc1).sum()
    while i < n { s += a[i]; i += 1 }
    return s
}

/// `gx = g · s` and returns `Σ g · x` (a modulation's input and style gradients for one plane).
@inlinable @inline(__always)
public func scaleAndDot(_ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ s: Float,
                 _ gx: UnsafeMutablePointer<Float>, count: Int) -> Float {
    vScale(g, s, gx, count)
    return vDot(g, x, count)
}

/// `dst[i] = src[i] · s` (explicit 8-wide: the compiler leaves this loop scalar when it cannot
/// rule out aliasing; `dst == src` is allowed).
@inlinable @inline(__always)
public func vScale(_ src: UnsafePointer<Float>, _ s: Float, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
    let rs = UnsafeRawPointer(src), rd = UnsafeMutableRawPointer(dst), sv = SIMD8<Float>(repeating: s)
    var i = 0
    while i + 8 <= n {
        rd.storeBytes(of: rs.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self) * sv, toByteOffset: 4 * i, as: SIMD8<Float>.self)
        i += 8
    }
    while i < n { dst[i] = src[i] * s; i += 1 }
}
