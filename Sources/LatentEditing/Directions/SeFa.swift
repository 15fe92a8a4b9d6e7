import CBLAS
import LatentTensor
import LatentModels

/// Closed-form factorisation of latent semantics (SeFa; Shen & Zhou, CVPR 2021), following the
/// official `genforce/sefa` `factorize_weight`: stack the style (affine) weights of the chosen
/// layers as `A = [A_1ᵀ … A_kᵀ]` (`[wDim, ΣC]`), normalise every column to unit length, and take
/// the eigenvectors of `A·Aᵀ` (`[wDim, wDim]`) with the largest eigenvalues. Moving w along such
/// a direction changes the chosen layers' styles the most.
///
/// The affine layers' equalised-learning-rate gain is one constant per layer and the column
/// normalisation removes it, so the raw stored weights give the reference's result.
///
/// - Parameters:
///   - generator: the StyleGAN2 generator.
///   - layers: ws rows whose style layers are factorised (default: all).
///   - includeToRGB: include ToRGB affines (SeFa excludes them by default).
///   - count: how many directions to return.
/// - Returns: `count` unit directions `[count, wDim]` (sign fixed so the largest-magnitude entry
///   is positive) and their eigenvalues, largest first.
public func sefaDirections(generator: StyleGAN2Generator, layers: Range<Int>? = nil,
                           includeToRGB: Bool = false, count: Int = 10) throws -> (directions: Tensor, eigenvalues: [Double]) {
    guard count >= 1 else { throw EditingError("SeFa: count must be >= 1, got \(count)") }
    let gram = try sefaGram(generator: generator, layers: layers, includeToRGB: includeToRGB)
    let wDim = generator.wDim
    let (values, vectors) = try symmetricEigen(gram, n: wDim)
    let k = min(count, wDim)
    return (Tensor(shape: [k, wDim], data: vectors.prefix(k).flatMap { $0.map(Float.init) }), Array(values.prefix(k)))
}

/// SeFa's normalised Gram matrix `A·Aᵀ` `[wDim, wDim]` (row-major, Double) for the style layers
/// reading ws rows `layers` (default all), ToRGB excluded unless `includeToRGB`.
public func sefaGram(generator: StyleGAN2Generator, layers: Range<Int>? = nil, includeToRGB: Bool = false) throws -> [Double] {
    BLASKernels.prepare()   // direct cblas call below: the kernel choice must be settled first
    let wDim = generator.wDim
    let range = layers ?? 0 ..< generator.numWs
    guard range.lowerBound >= 0, range.upperBound <= generator.numWs, !range.isEmpty else {
        throw EditingError("SeFa: ws rows \(range.lowerBound)-\(range.upperBound - 1) are outside 0-\(generator.numWs - 1)")
    }
    let chosen = styleLayers(resolution: generator.resolution).filter {
        range.contains($0.wsIndex) && (includeToRGB || !$0.isToRGB)
    }
    guard !chosen.isEmpty else {
        throw EditingError("SeFa: no style layers read ws rows \(range.lowerBound)-\(range.upperBound - 1)\(includeToRGB ? "" : " (ToRGB excluded)")")
    }
    // Rows of every affine weight [C, wDim] are SeFa's columns of A; gather them unit-normalised
    // as the rows of Aᵀ [ΣC, wDim], then A·Aᵀ = (Aᵀ)ᵀ·Aᵀ is one symmetric rank-k update.
    var rows: [Double] = []
    var m = 0
    for layer in chosen {
        guard let a = generator.parameters[layer.name + ".affine.weight"], a.rank == 2, a.shape[1] == wDim else {
            throw EditingError("SeFa: generator has no affine weight [C, \(wDim)] for \(layer.name)")
        }
        for r in 0..<a.shape[0] {
            var v = (0..<wDim).map { Double(a[flat: r * wDim + $0]) }
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            guard norm > 0, norm.isFinite else { continue }   // numpy would give NaN; a zero row carries no direction
            for j in 0..<wDim { v[j] /= norm }
            rows += v
            m += 1
        }
    }
    guard m > 0 else { throw EditingError("SeFa: every chosen affine weight is zero") }
    var gram = [Double](repeating: 0, count: wDim * wDim)
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, Int32(wDim), Int32(m), 1, rows, Int32(wDim), 0, &gram, Int32(wDim))
    for i in 0..<wDim { for j in 0..<i { gram[i * wDim + j] = gram[j * wDim + i] } }
    return gram
}

/// An error in an editing operation's inputs.
public struct EditingError: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}
