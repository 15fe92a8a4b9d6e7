// Transposed 2-D convolution, PyTorch `torch.nn.functional.conv_transpose2d` semantics (no
// dilation). It is exactly the input-gradient of `conv2d` with the same weight, so it reuses that
// kernel: `convTranspose2d(x, W) = conv2dBackward(gradOutput: x, weight: W).gradInput` on an
// output grid of `(H − 1)·stride − 2·padding + kh + outputPadding` rows.

/// Transposed convolution.
///
/// - Parameters:
///   - x: `[N, Ci, H, W]`.
///   - weight: `[Ci, Co/groups, kh, kw]` (PyTorch's layout for transposed convolutions).
///   - bias: `[Co]` or nil.
///   - stride (default 1), padding (default 0): those of the convolution this transposes.
///   - outputPadding: extra rows/columns at the bottom/right of the output, `< stride` (default 0).
///   - groups: default 1.
/// - Returns: `[N, Co, (H − 1)·stride − 2·padding + kh + outputPadding, (W − 1)·stride − 2·padding + kw + outputPadding]`.
public func convTranspose2d(_ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0,
                            outputPadding: Int = 0, groups: Int = 1) -> Tensor {
    let s = convTransposeShape(x.shape, weight.shape, stride, padding, outputPadding, groups, "convTranspose2d")
    if let bias { precondition(bias.shape == [s.ci], "convTranspose2d: bias shape \(bias.shape) != [\(s.ci)]") }
    var y = Tensor.zeros(s.inputShape)
    if y.count > 0 && x.count > 0 {
        x.withUnsafeBufferPointer { px in weight.withUnsafeBufferPointer { pw in y.withUnsafeMutableBufferPointer { py in
            conv2dInputGradCore(s, gradOutput: px.baseAddress!, weight: pw.baseAddress!, gradInput: py.baseAddress!)
        } } }
    }
    if let bias { y += bias.reshaped([s.ci, 1, 1]) }
    return y
}

/// Gradients of `convTranspose2d`: the input gradient is the forward `conv2d` of `gradOutput`, the
/// weight gradient is conv2d's weight gradient with the roles of input and output swapped.
///
/// - Parameters:
///   - gradOutput: `[N, Co, outH, outW]` (the forward output's shape).
///   - x: `[N, Ci, H, W]`; weight: `[Ci, Co/groups, kh, kw]`; the rest as in the forward.
/// - Returns: `gradInput` like `x`, `gradWeight` like `weight`, `gradBias [Co]` (nil when not requested).
public func convTranspose2dBackward(gradOutput: Tensor, x: Tensor, weight: Tensor, stride: Int = 1, padding: Int = 0,
                                   outputPadding: Int = 0, groups: Int = 1, needInput: Bool = true,
                                   needWeight: Bool = true, needBias: Bool = true)
    -> (gradInput: Tensor?, gradWeight: Tensor?, gradBias: Tensor?) {
    let s = convTransposeShape(x.shape, weight.shape, stride, padding, outputPadding, groups, "convTranspose2dBackward")
    precondition(gradOutput.shape == s.inputShape,
                 "convTranspose2dBackward: gradOutput shape \(gradOutput.shape) != output shape \(s.inputShape)")
    var gradInput: Tensor? = nil, gradWeight: Tensor? = nil
    if needInput {
        var gx = Tensor.zeros(x.shape)
        if gx.count > 0 && gradOutput.count > 0 {
            gradOutput.withUnsafeBufferPointer { pg in weight.withUnsafeBufferPointer { pw in gx.withUnsafeMutableBufferPointer { pgx in
                conv2dForwardCore(s, x: pg.baseAddress!, weight: pw.baseAddress!, bias: nil, y: pgx.baseAddress!)
            } } }
        }
        gradInput = gx
    }
    if needWeight {
        var gw = Tensor.zeros(weight.shape)
        if gw.count > 0 && gradOutput.count > 0 {
            gradOutput.withUnsafeBufferPointer { pg in x.withUnsafeBufferPointer { px in gw.withUnsafeMutableBufferPointer { pgw in
                conv2dWeightGradCore(s, x: pg.baseAddress!, gradOutput: px.baseAddress!, gradWeight: pgw.baseAddress!)
            } } }
        }
        gradWeight = gw
    }
    let gradBias = needBias ? channelSums(gradOutput, channels: s.ci) : nil
    return (gradInput, gradWeight, gradBias)
}

/// Naive reference for `convTranspose2d`: every input pixel scatters `x · W` into the output
/// (the definition in PyTorch's documentation), accumulated in Double.
public func convTranspose2dReference(_ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0,
                                     outputPadding: Int = 0, groups: Int = 1) -> Tensor {
    let s = convTransposeShape(x.shape, weight.shape, stride, padding, outputPadding, groups, "convTranspose2dReference")
    // In the conv2d view: s.co = Ci (this op's input channels), s.ci = Co (its output channels).
    let n = s.n, cin = s.co, cout = s.ci, ho = s.h, wo = s.w, hi = s.oh, wi = s.ow
    let cinG = cin / groups, coutG = cout / groups
    var y = [Double](repeating: 0, count: n * cout * ho * wo)
    for b in 0..<n { for c in 0..<cin {
        let g = c / cinG
        for iy in 0..<hi { for ix in 0..<wi {
            let v = Double(x[b, c, iy, ix])
            for oc in 0..<coutG { for ky in 0..<s.kh { for kx in 0..<s.kw {
                let oy = iy * stride - padding + ky, ox = ix * stride - padding + kx
                if oy < 0 || oy >= ho || ox < 0 || ox >= wo { continue }
                y[((b * cout + g * coutG + oc) * ho + oy) * wo + ox] += v * Double(weight[c, oc, ky, kx])
            } } }
        } }
    } }
    if let bias {
        for i in 0..<y.count { y[i] += Double(bias[flat: (i / (ho * wo)) % cout]) }
    }
    return Tensor(shape: [n, cout, ho, wo], data: y.map(Float.init))
}

/// The shape of the conv2d whose input-gradient this transposed convolution is: its "input" is our
/// output `[N, Co, outH, outW]`, its "output" is our input.
private func convTransposeShape(_ x: [Int], _ weight: [Int], _ stride: Int, _ padding: Int, _ outputPadding: Int,
                                _ groups: Int, _ name: String) -> Conv2dShape {
    precondition(x.count == 4, "\(name): input must be [N, Ci, H, W], got \(x)")
    precondition(weight.count == 4, "\(name): weight must be [Ci, Co/groups, kh, kw], got \(weight)")
    precondition(weight[0] == x[1], "\(name): weight \(weight) expects \(weight[0]) input channels, input has \(x[1])")
    precondition(stride >= 1 && padding >= 0, "\(name): need stride ≥ 1 and padding ≥ 0, got \(stride), \(padding)")
    precondition(outputPadding >= 0 && outputPadding < stride,
                 "\(name): outputPadding \(outputPadding) must be in 0..<stride (\(stride))")
    let ho = (x[2] - 1) * stride - 2 * padding + weight[2] + outputPadding
    let wo = (x[3] - 1) * stride - 2 * padding + weight[3] + outputPadding
    precondition(ho > 0 && wo > 0, "\(name): output size \(ho)×\(wo) is not positive (input \(x), weight \(weight))")
    let s = Conv2dShape(input: [x[0], weight[1] * groups, ho, wo], weight: weight, stride: stride, padding: padding,
                        groups: groups, name: name)
    precondition(s.oh == x[2] && s.ow == x[3], "\(name): inconsistent geometry for input \(x), weight \(weight)")
    return s
}
