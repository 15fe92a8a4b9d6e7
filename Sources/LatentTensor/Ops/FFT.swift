import CFFTW
import Foundation

/// Scaling convention of a discrete Fourier transform pair, named as numpy's `norm` argument.
///
/// - `backward` (numpy's default): forward unscaled, inverse scaled by `1 / (H·W)`.
/// - `ortho`: both scaled by `1 / sqrt(H·W)` (unitary; Parseval holds without factors).
/// - `forward`: forward scaled by `1 / (H·W)`, inverse unscaled.
public enum FFTNormalization: String, Sendable, CaseIterable {
    case backward, ortho, forward

    /// Factor applied to the forward transform of an `n`-point signal.
    @inlinable public func forwardScale(_ n: Int) -> Float {
        switch self {
        case .backward: return 1
        case .ortho: return Float(1 / Double(n).squareRoot())
        case .forward: return Float(1 / Double(n))
        }
    }

    /// Factor applied to the inverse transform of an `n`-point signal.
    @inlinable public func inverseScale(_ n: Int) -> Float {
        switch self {
        case .backward: return Float(1 / Double(n))
        case .ortho: return Float(1 / Double(n).squareRoot())
        case .forward: return 1
        }
    }
}

/// Bad arguments to the FFT functions; names the argument and the reason.
public struct FFTError: Error, CustomStringConvertible, Equatable {
    public var argument: String
    public var reason: String
    public init(_ argument: String, _ reason: String) { self.argument = argument; self.reason = reason }
    public var description: String { "FFT argument '\(argument)': \(reason)" }
}

/// FFTW plans cached per transform shape.
///
/// FFTW's planner is not thread-safe, but executing one plan on different arrays from several
/// threads is (`fftwf_execute_dft_r2c/c2r`, the "new-array execute" interface). So plans are made
/// once per `(kind, H, W)` under a lock and then shared. Plans are never destroyed: there are only
/// a handful of image sizes in a process. Every array a plan runs on comes from `fftwf_malloc`,
/// so it has the alignment the plan was made for.
final class FFTPlanCache: @unchecked Sendable {
    static let shared = FFTPlanCache()

    private struct Key: Hashable { var inverse: Bool; var height: Int; var width: Int }
    private var plans: [Key: OpaquePointer] = [:]
    private let lock = NSLock()

    // FFTW_ESTIMATE: planning does not time candidate algorithms, so it is quick, does not touch
    // the arrays, and picks the same plan every run (reproducible results on a shared machine).
    private static let estimate: UInt32 = 1 << 6
    // c2r transforms overwrite their input by default; we always run them on scratch copies.
    private static let destroyInput: UInt32 = 1 << 0

    /// The 2-D real-to-complex plan for `[height, width]` images.
    func forward(height: Int, width: Int) -> OpaquePointer {
        plan(Key(inverse: false, height: height, width: width))
    }

    /// The 2-D complex-to-real plan producing `[height, width]` images.
    func inverse(height: Int, width: Int) -> OpaquePointer {
        plan(Key(inverse: true, height: height, width: width))
    }

    private func plan(_ key: Key) -> OpaquePointer {
        lock.lock()
        defer { lock.unlock() }
        if let p = plans[key] { return p }
        let h = key.height, w = key.width
        let real = fftwf_alloc_real(h * w)!
        let complex = fftwf_alloc_complex(h * (w / 2 + 1))!
        defer { fftwf_free(real); fftwf_free(complex) }
        let p: OpaquePointer?
        if key.inverse {
            p = fftwf_plan_dft_c2r_2d(Int32(h), Int32(w), complex, real, Self.estimate | Self.destroyInput)
        } else {
            p = fftwf_plan_dft_r2c_2d(Int32(h), Int32(w), real, complex, Self.estimate)
        }
        guard let plan = p else {
            // FFTW only fails to plan for impossible sizes, which the callers have ruled out.
            fatalError("FFTW could not plan a \(key.inverse ? "c2r" : "r2c") transform of \(h)×\(w)")
        }
        plans[key] = plan
        return plan
    }
}

/// Real 2-D discrete Fourier transform over the last two dimensions, as `numpy.fft.rfft2`:
/// `X[k1, k2] = s · Σ_{n1, n2} x[n1, n2] · exp(−2πi (k1·n1 / H + k2·n2 / W))` for
/// `k2 = 0 … W/2`, with `s` given by `norm` (1 for the default `.backward`).
///
/// - Parameters:
///   - x: `[..., H, W]`, rank ≥ 2; leading dimensions are a batch of independent images.
///   - norm: scaling convention (numpy's `norm`), default `.backward` (unscaled forward).
/// - Returns: real and imaginary parts, each `[..., H, W/2 + 1]`.
/// - Throws: `FFTError` when `x` has rank < 2 or an empty image dimension.
public func rfft2(_ x: Tensor, norm: FFTNormalization = .backward) throws -> (re: Tensor, im: Tensor) {
    guard x.rank >= 2 else { throw FFTError("x", "needs shape [..., H, W], got \(x.shape)") }
    let h = x.dim(-2), w = x.dim(-1)
    guard h > 0, w > 0 else { throw FFTError("x", "image dimensions must be positive, got \(x.shape)") }
    let wc = w / 2 + 1
    let outShape = Array(x.shape.dropLast()) + [wc]
    var re = Tensor.zeros(outShape), im = Tensor.zeros(outShape)
    let batch = x.count / (h * w)
    if batch == 0 { return (re, im) }
    let plan = FFTPlanCache.shared.forward(height: h, width: w)
    let scale = norm.forwardScale(h * w)
    x.withUnsafeBufferPointer { px in
        re.withUnsafeMutableBufferPointer { pre in
            im.withUnsafeMutableBufferPointer { pim in
                let src = px.baseAddress!, dre = pre.baseAddress!, dim = pim.baseAddress!
                Parallel.forRanges(batch, minChunk: max(1, 16_384 / (h * w))) { range in
                    let real = fftwf_alloc_real(h * w)!
                    let complex = fftwf_alloc_complex(h * wc)!
                    defer { fftwf_free(real); fftwf_free(complex) }
                    let cf = UnsafeMutableRawPointer(complex).assumingMemoryBound(to: Float.self)
                    for b in range {
                        real.update(from: src + b * h * w, count: h * w)
                        fftwf_execute_dft_r2c(plan, real, complex)
                        let ore = dre + b * h * wc, oim = dim + b * h * wc
                        for i in 0..<(h * wc) {
                            ore[i] = cf[2 * i] * scale
                            oim[i] = cf[2 * i + 1] * scale
                        }
                    }
                }
            }
        }
    }
    return (re, im)
}

/// Inverse of `rfft2` over the last two dimensions, as `numpy.fft.irfft2(X, s: (height, width))`:
/// the half spectrum is extended by Hermitian symmetry, `X[k1, k2] = conj(X[−k1, −k2])`, and
/// `x[n1, n2] = s · Σ_{k1, k2} X[k1, k2] · exp(+2πi (k1·n1 / H + k2·n2 / W))` with `s` given by
/// `norm` (`1 / (H·W)` for the default `.backward`).
///
/// On a half spectrum that is not Hermitian-consistent the result is numpy's too (checked against
/// numpy's algorithm in the tests): a complex inverse along H, then a real inverse along W that
/// uses only the real part of the DC and (even W) Nyquist columns. Spectra from `rfft2` round-trip.
///
/// - Parameters:
///   - re, im: `[..., height, width/2 + 1]`, equal shapes.
///   - height, width: the output image size (`width` fixes whether the last column is a Nyquist term).
///   - norm: scaling convention (numpy's `norm`), default `.backward`.
/// - Returns: `[..., height, width]`.
/// - Throws: `FFTError` on mismatched or impossible shapes.
public func irfft2(re: Tensor, im: Tensor, height: Int, width: Int,
                   norm: FFTNormalization = .backward) throws -> Tensor {
    guard re.shape == im.shape else { throw FFTError("im", "shape \(im.shape) differs from re's \(re.shape)") }
    guard re.rank >= 2 else { throw FFTError("re", "needs shape [..., H, W/2 + 1], got \(re.shape)") }
    guard height > 0, width > 0 else { throw FFTError("height/width", "must be positive, got \(height)×\(width)") }
    let h = height, w = width, wc = w / 2 + 1
    guard re.dim(-2) == h, re.dim(-1) == wc else {
        throw FFTError("re", "shape \(re.shape) does not end in [\(h), \(wc)] for a \(h)×\(w) image")
    }
    var out = Tensor.zeros(Array(re.shape.dropLast(2)) + [h, w])
    let batch = re.count / (h * wc)
    if batch == 0 { return out }
    let plan = FFTPlanCache.shared.inverse(height: h, width: w)
    let scale = norm.inverseScale(h * w)
    re.withUnsafeBufferPointer { pre in
        im.withUnsafeBufferPointer { pim in
            out.withUnsafeMutableBufferPointer { po in
                let sre = pre.baseAddress!, sim = pim.baseAddress!, dst = po.baseAddress!
                Parallel.forRanges(batch, minChunk: max(1, 16_384 / (h * w))) { range in
                    let real = fftwf_alloc_real(h * w)!
                    let complex = fftwf_alloc_complex(h * wc)!
                    defer { fftwf_free(real); fftwf_free(complex) }
                    let cf = UnsafeMutableRawPointer(complex).assumingMemoryBound(to: Float.self)
                    for b in range {
                        let ire = sre + b * h * wc, iim = sim + b * h * wc
                        for i in 0..<(h * wc) {
                            cf[2 * i] = ire[i]
                            cf[2 * i + 1] = iim[i]
                        }
                        fftwf_execute_dft_c2r(plan, complex, real)
                        let o = dst + b * h * w
                        for i in 0..<(h * w) { o[i] = real[i] * scale }
                    }
                }
            }
        }
    }
    return out
}
