import Foundation
import LatentTensor

/// StyleGAN2's modulated convolution (`modulated_conv2d` in NVlabs `networks_stylegan2.py`) in the
/// non-fused formulation, which is the same function as the fused one and lets one GEMM with the
/// shared weight cover the whole batch:
///
///     y[n] = dcoefs[n] ⊙ conv(weight, x[n] ⊙ styles[n])  (+ noise)
///     dcoefs[n, o] = (Σ_{i,k} (weight[o,i,k] · styles[n,i])² + 1e-8)^(-1/2)   (demodulate only)
///
/// `up = 2` follows `conv2d_resample`: a stride-2 transposed convolution (no weight flip), then
/// `upfirdn2d` with the resample filter, padding 1 and gain 4.
///
/// Internally activations use the layout `[C, N, H, W]` ("CNHW"): channel-major with the batch
/// inside, so the GEMM's columns run over every pixel of every sample.
public struct ModulatedConv2d: Sendable {
    public let outChannels: Int
    public let inChannels: Int
    public let kernelSize: Int
    /// 1 or 2.
    public let up: Int
    public let demodulate: Bool
    /// Padding with respect to the upsampled image (reference: `kernel_size // 2`).
    public let padding: Int
    /// `[O, I, k, k]`, raw (modulation and demodulation make any weight gain irrelevant).
    public let weight: Tensor
    /// `[O, I]`: Σ over taps of weight², for the demodulation coefficients.
    let weightSq: [Float]
    /// `up == 2`: the weight as `[O·k·k, I]` for the transposed convolution GEMM.
    let weightUpT: [Float]
    /// `up == 2`: the resample filter and its padding after the transposed convolution.
    let filter: Tensor?
    let firPadding: Upfirdn2dPadding
    /// Same-size layers up to `flippedWeightLimit` floats: the input-gradient weight
    /// `[I, O, k, k]` (`wf[c, o, ky, kx] = weight[o, c, k−1−ky, k−1−kx]`), made once instead of
    /// per backward (a strided scatter that cost ~0.1 ms per 128-channel layer at batch 1).
    /// Larger layers (where that is negligible next to the GEMMs, and memory is the limit) build it
    /// per call. Empty otherwise.
    let weightFlipped: [Float]
    static let flippedWeightLimit = 1 << 20
    /// The Winograd-transformed weight `[16, O, I]` (`Winograd3x3.transformWeights`), built on first
    /// use, so only layers that run at Winograd sizes hold it (16/9 of the weight; the input
    /// gradient reads it transposed). Shared by copies of this value, whose weight is the same.
    let winogradWeights = WinogradWeightCache()
    /// How same-size 3×3 convolutions are computed (`automatic` by map size; tests pin one).
    public let algorithm: ConvolutionAlgorithm

    /// - Parameters:
    ///   - weight: `[O, I, k, k]`, k odd.
    ///   - up: 1 or 2 (2 needs `resampleFilter`, e.g. `setupFilter([1, 3, 3, 1])`).
    ///   - demodulate: default true (ToRGB uses false).
    ///   - padding: default `k / 2`.
    ///   - algorithm: same-size 3×3 convolutions as im2col + GEMM or Winograd (default: by size).
    public init(weight: Tensor, up: Int = 1, demodulate: Bool = true, padding: Int? = nil, resampleFilter: Tensor? = nil,
                algorithm: ConvolutionAlgorithm = .automatic) {
        precondition(weight.rank == 4 && weight.shape[2] == weight.shape[3] && weight.shape[2] % 2 == 1,
                     "modulatedConv2d: weight must be [O, I, k, k] with odd k, got \(weight.shape)")
        precondition(up == 1 || up == 2, "modulatedConv2d: up must be 1 or 2, got \(up)")
        let o = weight.shape[0], i = weight.shape[1], k = weight.shape[2], kk = k * k
        self.outChannels = o; self.inChannels = i; self.kernelSize = k
        self.up = up; self.demodulate = demodulate; self.padding = padding ?? k / 2
        self.algorithm = algorithm
        self.weight = weight
        var sq = [Float](repeating: 0, count: o * i)
        for r in 0..<(o * i) {
            var s: Float = 0
            for t in 0..<kk { let v = weight.storage[r * kk + t]; s += v * v }
            sq[r] = s
        }
        self.weightSq = sq
        if up == 1 && 2 * self.padding == k - 1 && o * i * kk <= Self.flippedWeightLimit {
            self.weightFlipped = weight.withUnsafeBufferPointer { pw in
                [Float](unsafeUninitializedCapacity: o * i * kk) { buf, count in
                    Self.flipWeight(pw.baseAddress!, outputs: o, inputs: i, taps: kk, into: buf.baseAddress!)
                    count = o * i * kk
                }
            }
        } else {
            self.weightFlipped = []
        }
        if up == 2 {
            guard let f = resampleFilter else { preconditionFailure("modulatedConv2d: up = 2 needs a resample filter") }
            var wt = [Float](repeating: 0, count: o * kk * i)
            for oc in 0..<o { for ic in 0..<i { for t in 0..<kk {
                wt[(oc * kk + t) * i + ic] = weight.storage[(oc * i + ic) * kk + t]
            } } }
            self.weightUpT = wt
            self.filter = f
            // conv2d_resample: padding grows by the filter's upsampling padding, then shrinks by
            // what the transposed convolution already covers.
            let fw = f.rank == 1 ? f.shape[0] : f.shape[1], fh = f.shape[0]
            let p = self.padding
            let px0 = p + (fw + up - 1) / 2 - (k - 1), px1 = p + (fw - up) / 2 - (k - up)
            let py0 = p + (fh + up - 1) / 2 - (k - 1), py1 = p + (fh - up) / 2 - (k - up)
            precondition(max(min(-px0, -px1), 0) == 0 && max(min(-py0, -py1), 0) == 0,
                         "modulatedConv2d: transposed-convolution padding is not supported for this kernel/filter")
            self.firPadding = (px0, px1, py0, py1)
        } else {
            self.weightUpT = []
            self.filter = nil
            self.firPadding = (0, 0, 0, 0)
        }
    }

    /// Output `(height, width)` for an `h × w` input.
    public func outputSize(height h: Int, width w: Int) -> (height: Int, width: Int) {
        if up == 1 { return (h + 2 * padding - kernelSize + 1, w + 2 * padding - kernelSize + 1) }
        let th = (h - 1) * 2 + kernelSize, tw = (w - 1) * 2 + kernelSize
        return upfirdn2dOutputSize(height: th, width: tw, filter: filter!, padding: firPadding)
    }

    /// FIR plan after the transposed convolution (`up == 2`).
    func firPlan(height h: Int, width w: Int) -> Upfirdn2dPlan {
        Upfirdn2dPlan(height: (h - 1) * 2 + kernelSize, width: (w - 1) * 2 + kernelSize, filter: filter!,
                      padding: firPadding, gain: Float(up * up))
    }

    // MARK: Demodulation

    /// `dcoefs[n, o] = (Σ_i styles[n,i]² · Σ_k weight[o,i,k]² + 1e-8)^(-1/2)`.
    /// - Parameter styles: `[N, I]`. - Returns: `[N, O]`.
    public func demodulationCoefficients(styles: Tensor) -> Tensor {
        let n = styles.shape[0]
        precondition(styles.shape == [n, inChannels], "modulatedConv2d: styles must be [N, \(inChannels)], got \(styles.shape)")
        var s2 = styles
        s2.storage = s2.storage.map { $0 * $0 }
        var d = Tensor.zeros([n, outChannels])
        s2.withUnsafeBufferPointer { ps in
            weightSq.withUnsafeBufferPointer { pw in
                d.withUnsafeMutableBufferPointer { pd in
                    sgemm(transB: true, m: n, n: outChannels, k: inChannels,
                          a: ps.baseAddress!, b: pw.baseAddress!, c: pd.baseAddress!)
                }
            }
        }
        d.storage = d.storage.map { 1 / ($0 + 1e-8).squareRoot() }
        return d
    }

    /// Adds the demodulation term to the style and weight gradients, given
    /// `gradDcoefs[n, o] = ∂L/∂dcoefs`: ∂dcoefs[n,o]/∂s[n,i] = −dcoefs³·s[n,i]·Σ_k w[o,i,k]² and
    /// ∂dcoefs[n,o]/∂w[o,i,k] = −dcoefs³·s[n,i]²·w[o,i,k].
    func demodulationBackward(styles: Tensor, dcoefs: Tensor, gradDcoefs: Tensor,
                              gradStyles: inout Tensor, gradWeight: inout Tensor?) {
        let n = styles.shape[0], o = outChannels, i = inChannels
        var g = Tensor.zeros([n, o])   // gradDcoefs · dcoefs³
        for t in 0..<(n * o) { let d = dcoefs.storage[t]; g.storage[t] = gradDcoefs.storage[t] * d * d * d }
        var m = Tensor.zeros([n, i])   // Σ_o g[n,o] · weightSq[o,i]
        g.withUnsafeBufferPointer { pg in
            weightSq.withUnsafeBufferPointer { pw in
                m.withUnsafeMutableBufferPointer { pm in
                    sgemm(m: n, n: i, k: o, a: pg.baseAddress!, b: pw.baseAddress!, c: pm.baseAddress!)
                }
            }
        }
        for t in 0..<(n * i) { gradStyles.storage[t] -= styles.storage[t] * m.storage[t] }
        guard gradWeight != nil else { return }
        var s2 = styles
        s2.storage = s2.storage.map { $0 * $0 }
        var q = Tensor.zeros([o, i])   // Σ_n g[n,o] · s[n,i]²
        g.withUnsafeBufferPointer { pg in
            s2.withUnsafeBufferPointer { ps in
                q.withUnsafeMutableBufferPointer { pq in
                    sgemm(transA: true, m: o, n: i, k: n, a: pg.baseAddress!, b: ps.baseAddress!, c: pq.baseAddress!)
                }
            }
        }
        let kk = kernelSize * kernelSize
        gradWeight!.withUnsafeMutableBufferPointer { pgw in
            for r in 0..<(o * i) {
                let qv = q.storage[r]
                for t in 0..<kk { pgw[r * kk + t] -= qv * weight.storage[r * kk + t] }
            }
        }
    }
}

/// A lazily built, then immutable, array shared by the copies of one layer.
final class WinogradWeightCache: @unchecked Sendable {
    private let lock = NSLock()
    private var cached: [Float]?

    /// The cached array, built by `make` on the first call.
    func weights(_ make: () -> [Float]) -> [Float] {
        lock.lock(); defer { lock.unlock() }
        if let cached { return cached }
        let built = make()
        cached = built
        return built
    }
}
