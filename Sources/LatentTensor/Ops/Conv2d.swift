// 2-D convolution (cross-correlation), PyTorch `torch.nn.functional.conv2d` semantics with square
// stride and symmetric zero padding, and groups. Dilation is not supported (nothing here needs it).
//
// Fast path: per image and group, `im2col` unfolds the input into a `[Ci/g·kh·kw, outH·outW]`
// column matrix and one GEMM with the weight `[Co/g, Ci/g·kh·kw]` produces the output. Pointwise
// (1×1, stride 1, no padding) convolutions use the image itself as the column matrix.
// Threading: whole images are spread over the cores, each core running single-threaded GEMMs on
// its own column buffer (which stays in cache, so the unfolding costs little and no thread waits
// for another); leftover images (fewer than the thread count) run one at a time with im2col split
// over channels and OpenBLAS's own threads inside the GEMM. See `Bench/README.md` for the numbers.

/// 2-D convolution.
///
/// - Parameters:
///   - x: `[N, Ci, H, W]`.
///   - weight: `[Co, Ci/groups, kh, kw]` (PyTorch layout).
///   - bias: `[Co]` or nil.
///   - stride: step in both directions (default 1). padding: zeros on every side (default 0).
///   - groups: `Ci` and `Co` are split into `groups` independent convolutions (default 1).
///   - algorithm: 3×3, stride-1, padding-1 convolutions as im2col + GEMM or Winograd (default: by size).
/// - Returns: `[N, Co, (H + 2·padding − kh)/stride + 1, (W + 2·padding − kw)/stride + 1]`.
public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0,
                   groups: Int = 1, algorithm: ConvolutionAlgorithm = .automatic) -> Tensor {
    var s = Conv2dShape(input: x.shape, weight: weight.shape, stride: stride, padding: padding,
                        groups: groups, name: "conv2d")
    s.algorithm = algorithm
    if let bias { precondition(bias.shape == [s.co], "conv2d: bias shape \(bias.shape) != [\(s.co)]") }
    var y = Tensor.zeros(s.outputShape)
    if y.count == 0 { return y }
    x.withUnsafeBufferPointer { px in weight.withUnsafeBufferPointer { pw in y.withUnsafeMutableBufferPointer { py in
        withOptionalPointer(bias) { bp in
            conv2dForwardCore(s, x: px.baseAddress!, weight: pw.baseAddress!, bias: bp, y: py.baseAddress!)
        }
    } } }
    return y
}

/// Gradients of `conv2d`.
///
/// - Parameters:
///   - gradOutput: `[N, Co, outH, outW]`.
///   - x: `[N, Ci, H, W]`, the forward input. weight: `[Co, Ci/groups, kh, kw]`.
///   - stride, padding, groups: as in the forward.
///   - needInput / needWeight / needBias: which gradients to compute.
///   - algorithm: as in the forward (the stride-1 input gradient is a convolution too).
/// - Returns: `gradInput` shaped like `x` (Wᵀ·gradOutput folded back by `col2im`), `gradWeight`
///   shaped like `weight` (gradOutput·colsᵀ summed over the batch), `gradBias [Co]`.
public func conv2dBackward(gradOutput: Tensor, x: Tensor, weight: Tensor, stride: Int = 1, padding: Int = 0,
                           groups: Int = 1, needInput: Bool = true, needWeight: Bool = true, needBias: Bool = true,
                           algorithm: ConvolutionAlgorithm = .automatic)
    -> (gradInput: Tensor?, gradWeight: Tensor?, gradBias: Tensor?) {
    var s = Conv2dShape(input: x.shape, weight: weight.shape, stride: stride, padding: padding,
                        groups: groups, name: "conv2dBackward")
    s.algorithm = algorithm
    precondition(gradOutput.shape == s.outputShape,
                 "conv2dBackward: gradOutput shape \(gradOutput.shape) != output shape \(s.outputShape)")
    var gradInput: Tensor? = nil, gradWeight: Tensor? = nil
    if needInput {
        var gx = Tensor.zeros(x.shape)
        if gx.count > 0 && gradOutput.count > 0 {
            gradOutput.withUnsafeBufferPointer { pg in weight.withUnsafeBufferPointer { pw in gx.withUnsafeMutableBufferPointer { pgx in
                conv2dInputGradCore(s, gradOutput: pg.baseAddress!, weight: pw.baseAddress!, gradInput: pgx.baseAddress!)
            } } }
        }
        gradInput = gx
    }
    if needWeight {
        var gw = Tensor.zeros(weight.shape)
        if gw.count > 0 && gradOutput.count > 0 {
            gradOutput.withUnsafeBufferPointer { pg in x.withUnsafeBufferPointer { px in gw.withUnsafeMutableBufferPointer { pgw in
                conv2dWeightGradCore(s, x: px.baseAddress!, gradOutput: pg.baseAddress!, gradWeight: pgw.baseAddress!)
            } } }
        }
        gradWeight = gw
    }
    let gradBias = needBias ? channelSums(gradOutput, channels: s.co) : nil
    return (gradInput, gradWeight, gradBias)
}

/// Naive reference for `conv2d`: the definition as plain loops, accumulated in Double.
public func conv2dReference(_ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0,
                            groups: Int = 1) -> Tensor {
    let s = Conv2dShape(input: x.shape, weight: weight.shape, stride: stride, padding: padding,
                        groups: groups, name: "conv2dReference")
    var y = Tensor.zeros(s.outputShape)
    for n in 0..<s.n { for o in 0..<s.co {
        let g = o / s.cog
        for oy in 0..<s.oh { for ox in 0..<s.ow {
            var acc = Double(bias?[flat: o] ?? 0)
            for c in 0..<s.cig { for ky in 0..<s.kh { for kx in 0..<s.kw {
                let iy = oy * stride - padding + ky, ix = ox * stride - padding + kx
                if iy < 0 || iy >= s.h || ix < 0 || ix >= s.w { continue }
                acc += Double(x[n, g * s.cig + c, iy, ix]) * Double(weight[o, c, ky, kx])
            } } }
            y[n, o, oy, ox] = Float(acc)
        } }
    } }
    return y
}

/// Naive reference for `conv2dBackward` (scatter form of the definition, Double accumulation).
public func conv2dBackwardReference(gradOutput: Tensor, x: Tensor, weight: Tensor, stride: Int = 1,
                                    padding: Int = 0, groups: Int = 1)
    -> (gradInput: Tensor, gradWeight: Tensor, gradBias: Tensor) {
    let s = Conv2dShape(input: x.shape, weight: weight.shape, stride: stride, padding: padding,
                        groups: groups, name: "conv2dBackwardReference")
    var gx = [Double](repeating: 0, count: x.count), gw = [Double](repeating: 0, count: weight.count)
    var gb = [Double](repeating: 0, count: s.co)
    for n in 0..<s.n { for o in 0..<s.co {
        let g = o / s.cog
        for oy in 0..<s.oh { for ox in 0..<s.ow {
            let go = Double(gradOutput[n, o, oy, ox])
            gb[o] += go
            for c in 0..<s.cig { for ky in 0..<s.kh { for kx in 0..<s.kw {
                let iy = oy * stride - padding + ky, ix = ox * stride - padding + kx
                if iy < 0 || iy >= s.h || ix < 0 || ix >= s.w { continue }
                let xi = ((n * s.ci + g * s.cig + c) * s.h + iy) * s.w + ix
                let wi = ((o * s.cig + c) * s.kh + ky) * s.kw + kx
                gx[xi] += go * Double(weight[flat: wi])
                gw[wi] += go * Double(x[flat: xi])
            } } }
        } }
    } }
    return (Tensor(shape: x.shape, data: gx.map(Float.init)), Tensor(shape: weight.shape, data: gw.map(Float.init)),
            Tensor(shape: [s.co], data: gb.map(Float.init)))
}

// MARK: - Shapes

/// Checked sizes of one convolution (the shapes of its input, weight and output).
@usableFromInline
struct Conv2dShape {
    let n, ci, h, w, co, kh, kw, stride, padding, groups, oh, ow: Int
    var cig: Int { ci / groups }
    var cog: Int { co / groups }
    /// Output pixels per image and channel.
    var p: Int { oh * ow }
    /// Rows of one group's column matrix.
    var k: Int { cig * kh * kw }
    var pointwise: Bool { kh == 1 && kw == 1 && stride == 1 && padding == 0 }
    /// Same-size 3×3 convolutions may run as Winograd (`conv2dWinograd`).
    var algorithm = ConvolutionAlgorithm.automatic
    var usesWinograd: Bool {
        kh == kw && algorithm.usesWinograd(kernelSize: kh, stride: stride, padding: padding, groups: groups, pixels: n * oh * ow)
    }
    var outputShape: [Int] { [n, co, oh, ow] }
    var inputShape: [Int] { [n, ci, h, w] }
    var geometry: ConvGeometry {
        ConvGeometry(channels: cig, height: h, width: w, kernelH: kh, kernelW: kw, stride: stride, padding: padding)
    }

    init(input: [Int], weight: [Int], stride: Int, padding: Int, groups: Int, name: String) {
        precondition(input.count == 4, "\(name): input must be [N, C, H, W], got \(input)")
        precondition(weight.count == 4, "\(name): weight must be [Co, Ci/groups, kh, kw], got \(weight)")
        precondition(groups >= 1 && input[1] % groups == 0 && weight[0] % groups == 0,
                     "\(name): groups = \(groups) must divide input channels \(input[1]) and output channels \(weight[0])")
        precondition(weight[1] * groups == input[1],
                     "\(name): weight \(weight) expects \(weight[1] * groups) input channels with groups = \(groups), input has \(input[1])")
        precondition(stride >= 1, "\(name): stride must be ≥ 1, got \(stride)")
        precondition(padding >= 0, "\(name): padding must be ≥ 0, got \(padding)")
        precondition(input[2] + 2 * padding >= weight[2] && input[3] + 2 * padding >= weight[3] && weight[2] > 0 && weight[3] > 0,
                     "\(name): kernel \(weight[2])×\(weight[3]) larger than padded input \(input[2] + 2 * padding)×\(input[3] + 2 * padding)")
        n = input[0]; ci = input[1]; h = input[2]; w = input[3]
        co = weight[0]; kh = weight[2]; kw = weight[3]
        self.stride = stride; self.padding = padding; self.groups = groups
        oh = (h + 2 * padding - kh) / stride + 1
        ow = (w + 2 * padding - kw) / stride + 1
    }
}

/// Σ over batch and pixels of `t [N, C, ...]` per channel (the bias gradient), in Double.
func channelSums(_ t: Tensor, channels c: Int) -> Tensor {
    let n = t.shape[0], plane = t.count / max(n * c, 1)
    var acc = [Double](repeating: 0, count: c)
    t.withUnsafeBufferPointer { p in
        for i in 0..<n { for ch in 0..<c {
            let row = p.baseAddress! + (i * c + ch) * plane
            var s: Double = 0
            for j in 0..<plane { s += Double(row[j]) }
            acc[ch] += s
        } }
    }
    return Tensor(shape: [c], data: acc.map(Float.init))
}

/// Calls `body` with the base address of `t`'s storage, or nil when `t` is nil.
@inline(__always)
func withOptionalPointer<R>(_ t: Tensor?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let t else { return body(nil) }
    return t.withUnsafeBufferPointer { body($0.baseAddress) }
}
