import LatentTensor

/// Naive double-precision twin of `EncoderNetwork.forward`, written from the architecture's
/// definition with plain loops (no im2col, no GEMM, no shared kernels): the reference the fast
/// forward is compared with and the function central differences are taken of. Slow; for tests.
public struct EncoderReference {
    public let architecture: EncoderArchitecture
    /// Parameters by name, in Double.
    public var parameters: [String: [Double]]

    public init(_ network: EncoderNetwork) {
        architecture = network.architecture
        parameters = network.parameters.mapValues { $0.doubles }
    }

    /// - Parameters: `input` flat `[N, inputChannels, R, R]`, `base` flat `[N, numWs, wDim]`.
    /// - Returns: codes, flat `[N, numWs, wDim]`.
    public func codes(input: [Double], base: [Double], batch n: Int, stage: Int) -> [Double] {
        let a = architecture
        var features = [Int: [Double]]()
        var x = input, c = a.inputChannels, side = a.resolution
        func convLayer(_ name: String, _ co: Int, stride: Int) {
            let w = parameters[name + ".weight"]!, b = parameters[name + ".bias"]!
            let os = (side + 2 - 3) / stride + 1
            var y = [Double](repeating: 0, count: n * co * os * os)
            for s in 0..<n { for o in 0..<co { for oy in 0..<os { for ox in 0..<os {
                var acc = b[o]
                for i in 0..<c { for ky in 0..<3 { for kx in 0..<3 {
                    let iy = oy * stride - 1 + ky, ix = ox * stride - 1 + kx
                    guard iy >= 0, iy < side, ix >= 0, ix < side else { continue }
                    acc += x[((s * c + i) * side + iy) * side + ix] * w[((o * c + i) * 3 + ky) * 3 + kx]
                } } }
                // Leaky ReLU, slope 0.2, gain √2.
                y[((s * co + o) * os + oy) * os + ox] = (acc > 0 ? acc : 0.2 * acc) * 2.0.squareRoot()
            } } } }
            x = y; c = co; side = os
        }
        convLayer("stem", a.channels(at: a.resolution), stride: 1)
        for r in a.levels.dropFirst() {
            features[side] = x
            convLayer("b\(r).down", a.channels(at: r), stride: 2)
            for k in 0..<a.convsPerLevel { convLayer("b\(r).conv\(k)", a.channels(at: r), stride: 1) }
        }
        features[side] = x
        // Head input: the level pooled to 4×4 by k×k means, flattened channel-major.
        func headInput(_ lvl: Int) -> [Double] {
            let f = features[lvl]!, ch = a.channels(at: lvl), k = lvl / 4
            var out = [Double](repeating: 0, count: n * ch * 16)
            for s in 0..<n { for i in 0..<ch { for py in 0..<4 { for px in 0..<4 {
                var acc = 0.0
                for y in 0..<k { for xx in 0..<k { acc += f[((s * ch + i) * lvl + py * k + y) * lvl + px * k + xx] } }
                out[(s * ch + i) * 16 + py * 4 + px] = acc / Double(k * k)
            } } } }
            return out
        }
        func dense(_ name: String, _ v: [Double]) -> [Double] {
            let w = parameters[name + ".weight"]!, b = parameters[name + ".bias"]!
            let inF = v.count / n
            var out = [Double](repeating: 0, count: n * a.wDim)
            for s in 0..<n { for o in 0..<a.wDim {
                var acc = b[o]
                for i in 0..<inF { acc += v[s * inF + i] * w[o * inF + i] }
                out[s * a.wDim + o] = acc
            } }
            return out
        }
        let w0 = dense("head.w0", headInput(4))
        var out = base
        for i in 0..<a.numWs {
            let delta = (i >= 1 && i <= stage) ? dense("head.delta\(i)", headInput(a.headLevel(style: i))) : nil
            for s in 0..<n { for j in 0..<a.wDim {
                out[(s * a.numWs + i) * a.wDim + j] += w0[s * a.wDim + j] + (delta?[s * a.wDim + j] ?? 0)
            } }
        }
        return out
    }
}
