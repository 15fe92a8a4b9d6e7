import CBLAS
import LatentTensor

/// A channel-level edit of the modulation styles (StyleSpace, Wu et al., CVPR 2021): the
/// affine outputs `s = affine(w)` of chosen channels of chosen layers move towards target
/// values, `s[:, c] ← s[:, c] + α · (target[:, c] − s[:, c])`, every other channel keeps its
/// own style.
///
/// Why a channel set rather than ws rows: a ws row feeds a whole layer (and, for row 2k+1, a
/// ToRGB and the next block's first conv), so a row crossover carries everything that layer
/// encodes; StyleSpace channels are much more disentangled (a colour can live in a few
/// channels of a layer whose other channels move geometry). Layers are named as in `styles(ws:)`
/// (`"b16.conv0"`, `"b16.torgb"`, …); ToRGB targets are raw affine outputs (before its
/// `weight_gain`), as `styles(ws:)` returns them.
public struct StyleSpaceEdit: Sendable {
    /// Target styles by layer name, each `[N or 1, channels]` (e.g. `styles(ws: exemplarWs)`).
    public var targets: [String: Tensor]
    /// The channels moved, by layer name; a layer not listed is untouched.
    public var channels: [String: [Int]]
    /// 1 = the target's value, 0 = unchanged.
    public var alpha: Float

    public init(targets: [String: Tensor], channels: [String: [Int]], alpha: Float = 1) {
        self.targets = targets; self.channels = channels; self.alpha = alpha
    }

    /// Applies the edit to `styles` `[N, C]` of layer `name` (raw affine outputs).
    func apply(to styles: inout Tensor, layer name: String) {
        guard let list = channels[name], !list.isEmpty, let target = targets[name] else { return }
        let n = styles.shape[0], c = styles.shape[1]
        precondition(target.rank == 2 && target.shape[1] == c && (target.shape[0] == n || target.shape[0] == 1),
                     "StyleSpaceEdit: target for \(name) is \(target.shape), styles are \(styles.shape)")
        let broadcast = target.shape[0] == 1
        for s in 0..<n {
            let t = (broadcast ? 0 : s) * c
            for ch in list {
                precondition(ch >= 0 && ch < c, "StyleSpaceEdit: channel \(ch) outside 0..<\(c) in \(name)")
                let v = styles.storage[s * c + ch]
                styles.storage[s * c + ch] = v + alpha * (target.storage[t + ch] - v)
            }
        }
    }
}

extension StyleGAN2Generator {
    /// Layer names and style widths in synthesis order (`"b4.conv1"`, `"b4.torgb"`, `"b8.conv0"`, …),
    /// with the ws row each reads.
    public var styleLayers: [(name: String, channels: Int, wIndex: Int)] {
        styleAffines.map { (name: $0.name, channels: $0.affine.outFeatures, wIndex: $0.wIndex) }
    }

    /// Every modulated layer's affine map, in synthesis order.
    var styleAffines: [(name: String, wIndex: Int, affine: FullyConnectedLayer)] {
        synthesisNetwork.blocks.flatMap { b -> [(name: String, wIndex: Int, affine: FullyConnectedLayer)] in
            [b.conv0, b.conv1].compactMap { $0 }.map { (name: $0.name, wIndex: $0.wIndex, affine: $0.affine) }
                + [(name: b.torgb.name, wIndex: b.torgb.wIndex, affine: b.torgb.affine)]
        }
    }
}

extension StyleGAN2Generator {
    /// The W+ latent whose styles are `ws`'s with `edit` applied: each ws row moves by the
    /// minimum-norm `Δw` with `A_r Δw = Δs_r`, where `A_r` stacks the affine maps of the layers
    /// reading row r (a conv, or a ToRGB and the next block's first conv) and `Δs_r` is the edit's
    /// change of their styles (zero on every channel it does not move). Styles are affine in w,
    /// so where a row's layers have at most `wDim` channels in all (every row of a generator with
    /// 256 channels or fewer per layer, e.g. the default scenes64) the result renders exactly as
    /// `synthesis(ws:styleEdit:)`; wider rows get the least-squares `Δw` and the RMS of the style
    /// error that is left is returned.
    ///
    /// Why lower to W+: a latent is what every other part of LatentLab reads and writes (files,
    /// masks, PTI folders, further edits), so a channel-level edit stays an ordinary latent.
    /// - Parameters: `ws` `[N, numWs, wDim]`; the edit's targets `[N or 1, C]` per layer.
    /// - Returns: the edited ws and the RMS style residual over the moved rows' channels.
    /// - Throws: `LinalgError` if a solve fails.
    public func ws(applying edit: StyleSpaceEdit, to ws: Tensor) throws -> (ws: Tensor, styleResidual: Double) {
        require { try validate(ws: ws, requireFinite: true) }
        let n = ws.shape[0], d = wDim
        let own = styles(ws: ws)
        var edited = own
        for (name, _) in edit.channels { if var s = edited[name] { edit.apply(to: &s, layer: name); edited[name] = s } }
        var out = ws
        var residual = 0.0, counted = 0
        let layers = styleAffines
        for row in 0..<numWs {
            let reading = layers.filter { $0.wIndex == row }
            guard reading.contains(where: { edit.channels[$0.name]?.isEmpty == false }) else { continue }
            // A [E, d] and Δs [N, E] in Double.
            let e = reading.reduce(0) { $0 + $1.affine.outFeatures }
            var a = [Double](), delta = [Double](repeating: 0, count: n * e)
            var offset = 0
            for l in reading {
                a += l.affine.weight.storage.map(Double.init)
                let c = l.affine.outFeatures, s0 = own[l.name]!.storage, s1 = edited[l.name]!.storage
                for s in 0..<n { for j in 0..<c { delta[s * e + offset + j] = Double(s1[s * c + j]) - Double(s0[s * c + j]) } }
                offset += c
            }
            // Δw = Aᵀ (A Aᵀ)⁻¹ Δs when e ≤ d (exact), else (AᵀA)⁻¹ Aᵀ Δs (least squares); both
            // through one symmetric eigen-solve with a relative ridge of 1e-9 for conditioning.
            let small = e <= d, m = small ? e : d
            var gram = [Double](repeating: 0, count: m * m)     // A Aᵀ or AᵀA, upper triangle
            BLASKernels.prepare()
            cblas_dsyrk(CblasRowMajor, CblasUpper, small ? CblasNoTrans : CblasTrans, Int32(m), Int32(small ? d : e), 1, a, Int32(d),
                        0, &gram, Int32(m))
            let (values, vectors) = try symmetricEigen(gram, n: m)
            let ridge = 1e-9 * values.reduce(0) { $0 + max($1, 0) } / Double(m)
            for s in 0..<n {
                let ds = Array(delta[s * e ..< (s + 1) * e])
                // rhs = Δs (small) or AᵀΔs (least squares).
                var rhs = [Double](repeating: 0, count: m)
                if small { rhs = ds } else { for k in 0..<e where ds[k] != 0 { for i in 0..<d { rhs[i] += a[k * d + i] * ds[k] } } }
                var y = [Double](repeating: 0, count: m)
                for (ev, v) in zip(values, vectors) {
                    let c = zip(v, rhs).reduce(0) { $0 + $1.0 * $1.1 } / (max(ev, 0) + ridge)
                    for i in 0..<m { y[i] += c * v[i] }
                }
                var dw = [Double](repeating: 0, count: d)
                if small { for k in 0..<e where y[k] != 0 { for i in 0..<d { dw[i] += a[k * d + i] * y[k] } } } else { dw = y }
                for i in 0..<d { out.storage[(s * numWs + row) * d + i] += Float(dw[i]) }
                // What the lowered row reaches: A Δw against Δs.
                for k in 0..<e {
                    var r = -ds[k]
                    for i in 0..<d { r += a[k * d + i] * dw[i] }
                    residual += r * r; counted += 1
                }
            }
        }
        return (out, counted == 0 ? 0 : (residual / Double(counted)).squareRoot())
    }
}
