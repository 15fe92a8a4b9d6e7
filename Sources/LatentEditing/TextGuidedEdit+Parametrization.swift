import LatentTensor

/// How the optimised tensor `P` becomes a latent: offsets added to the ws rows of `layers`,
///
///     ws[:, r, :] = w₀[:, r, :] + (P · B)[:, r or 0, :]    for r in layers,
///
/// with `P` `[N, rows, K]` where `rows` is `layers.count` (W+: every row its own offset) or 1
/// (W: one offset shared by the rows), and `B` `[K, wDim]` a subspace basis (identity, K = wDim,
/// when none is given). Rows outside `layers` stay exactly w₀.
public struct EditParametrization: Sendable {
    public let layers: Range<Int>
    public let shared: Bool
    /// `[K, wDim]`, or nil for the identity.
    public let basis: Tensor?
    public let numWs: Int
    public let wDim: Int

    public init(layers: Range<Int>, shared: Bool, basis: Tensor?, numWs: Int, wDim: Int) {
        precondition(layers.lowerBound >= 0 && layers.upperBound <= numWs && !layers.isEmpty, "EditParametrization: bad layers \(layers)")
        precondition(basis.map { $0.rank == 2 && $0.shape[1] == wDim } ?? true, "EditParametrization: basis must be [K, \(wDim)]")
        self.layers = layers; self.shared = shared; self.basis = basis; self.numWs = numWs; self.wDim = wDim
    }

    public var rows: Int { shared ? 1 : layers.count }
    public var width: Int { basis?.shape[0] ?? wDim }

    /// `[N, rows, K]` zeros: the parameters of w₀ itself.
    public func zeroParameters(batch n: Int) -> Tensor { Tensor.zeros([n, rows, width]) }

    /// `P · B` as `[N, rows, wDim]`.
    public func offsets(_ p: Tensor) -> Tensor {
        guard let basis else { return p }
        let n = p.shape[0]
        return matmul(p.reshaped([n * rows, width]), basis).reshaped([n, rows, wDim])
    }

    /// w₀ with the offsets of `p` added to the rows of `layers`.
    public func latent(initial ws: Tensor, parameters p: Tensor) -> Tensor {
        let d = offsets(p)
        var out = ws
        out.withUnsafeMutableBufferPointer { o in
            d.withUnsafeBufferPointer { dp in
                for i in 0..<ws.shape[0] {
                    for (k, r) in layers.enumerated() {
                        let src = (i * rows + (shared ? 0 : k)) * wDim, dst = (i * numWs + r) * wDim
                        for j in 0..<wDim { o[dst + j] += dp[src + j] }
                    }
                }
            }
        }
        return out
    }

    /// `∂L/∂P` from `∂L/∂ws` `[N, numWs, wDim]` (the adjoint of `latent`).
    public func gradient(_ gradWs: Tensor) -> Tensor {
        let n = gradWs.shape[0]
        var g = Tensor.zeros([n, rows, wDim])
        g.withUnsafeMutableBufferPointer { gp in
            gradWs.withUnsafeBufferPointer { src in
                for i in 0..<n {
                    for (k, r) in layers.enumerated() {
                        let dst = (i * rows + (shared ? 0 : k)) * wDim, s = (i * numWs + r) * wDim
                        for j in 0..<wDim { gp[dst + j] += src[s + j] }
                    }
                }
            }
        }
        guard let basis else { return g }
        return matmul(g.reshaped([n * rows, wDim]), basis, transB: true).reshaped([n, rows, width])
    }
}
