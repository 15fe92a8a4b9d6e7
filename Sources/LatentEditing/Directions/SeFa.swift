import LatentTensor
import LatentModels

/// Closed-form factorisation of latent semantics (SeFa; Shen & Zhou, CVPR 2021), following the
/// official `genforce/sefa` `factorize_weight`: stack the style (affine) weights of the chosen
/// layers as `A = [A_1ᵀ … A_kᵀ]` (`[wDim, ΣC]`), normalise every column to unit length, and take
/// the eigenvectors of `A·Aᵀ` (`[wDim, wDim]`) with the largest eigenvalues. Moving w along such
/// a direction changes the chosen layers' styles the most.
///
/// - Parameters:
///   - generator: the StyleGAN2 generator.
///   - layers: ws rows whose layers are factorised (default: all).
///   - includeToRGB: include ToRGB affines (SeFa excludes them by default).
///   - count: how many directions to return.
/// - Returns: `count` unit directions `[count, wDim]` and their eigenvalues, largest first.
public func sefaDirections(generator: StyleGAN2Generator, layers: Range<Int>? = nil,
                           includeToRGB: Bool = false, count: Int = 10) throws -> (directions: Tensor, eigenvalues: [Double]) {
    let wDim = generator.wDim
    let range = layers ?? 0 ..< generator.numWs
    let chosen = styleLayers(resolution: generator.resolution).filter {
        range.contains($0.wsIndex) && (includeToRGB || !$0.isToRGB)
    }
    guard !chosen.isEmpty else { throw EditingError("SeFa: no style layers in ws rows \(range)") }
    var gram = [Double](repeating: 0, count: wDim * wDim)
    for layer in chosen {
        guard let a = generator.parameters[layer.name + ".affine.weight"], a.shape.count == 2, a.shape[1] == wDim else {
            throw EditingError("SeFa: generator has no affine weight for \(layer.name)")
        }
        // Each row of the affine weight [C, wDim] is one column of SeFa's A; unit-normalise it
        // and accumulate its outer product into A·Aᵀ.
        let c = a.shape[0]
        for r in 0..<c {
            var v = [Double](repeating: 0, count: wDim)
            var norm = 0.0
            for j in 0..<wDim { v[j] = Double(a[flat: r * wDim + j]); norm += v[j] * v[j] }
            norm = norm.squareRoot()
            guard norm > 0 else { continue }
            for j in 0..<wDim { v[j] /= norm }
            for i in 0..<wDim where v[i] != 0 {
                let vi = v[i]
                for j in 0..<wDim { gram[i * wDim + j] += vi * v[j] }
            }
        }
    }
    let (values, vectors) = try symmetricEigen(gram, n: wDim)
    let k = min(count, wDim)
    let dirs = Tensor(shape: [k, wDim], data: vectors.prefix(k).flatMap { $0.map(Float.init) })
    return (dirs, Array(values.prefix(k)))
}

/// An error in an editing operation's inputs.
public struct EditingError: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}
