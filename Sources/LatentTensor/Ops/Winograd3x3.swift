import Foundation

/// Winograd's minimal filtering F(2×2, 3×3) (Lavin & Gray, "Fast Algorithms for Convolutional
/// Neural Networks", 2016) for 3×3, stride-1, padding-1 ("same") convolutions.
///
/// Each 2×2 block of output pixels ("tile") comes from the 4×4 input patch around it:
///
///     Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A
///
/// so one output tile costs 16 multiply-adds per (input, output) channel pair instead of the direct
/// convolution's 4 · 9 = 36. Over a whole layer the elementwise products become 16 GEMMs, one per
/// position ξ of the 4×4 transformed tile: `M[ξ] [O, T] = U[ξ] [O, C] · V[ξ] [C, T]` (T tiles),
/// which OpenBLAS runs. Besides the 2.25× fewer multiply-adds, the GEMMs read 16 transformed
/// values per tile and channel (4 per pixel) where im2col writes and packs 9 per pixel: at 512² and
/// 1024², where the layers have 32–64 output channels, packing im2col's column matrix cost a third
/// of the GEMM kernel's time.
///
/// The transforms only add, subtract and halve, so the result differs from the direct convolution
/// by rounding alone (a few float ulps of the sums of |products|; see `Winograd3x3Tests`).
///
/// Input and output are batches of `H × W` planes anywhere in memory (`PlaneLayout`), so the same
/// kernel serves the generator's `[C, N, H, W]` maps and the encoders' `[N, C, H, W]` tensors.
public enum Winograd3x3 {
    /// Where plane `(c, n)` of a batch starts: `c · channelStride + n · imageStride` floats.
    public struct PlaneLayout: Sendable {
        public var channelStride: Int, imageStride: Int
        public init(channelStride: Int, imageStride: Int) {
            self.channelStride = channelStride; self.imageStride = imageStride
        }
        /// `[C, N, H, W]`.
        public static func cnhw(batch n: Int, height h: Int, width w: Int) -> PlaneLayout {
            PlaneLayout(channelStride: n * h * w, imageStride: h * w)
        }
        /// `[N, C, H, W]`.
        public static func nchw(channels c: Int, height h: Int, width w: Int) -> PlaneLayout {
            PlaneLayout(channelStride: h * w, imageStride: c * h * w)
        }
    }

    /// Positions of the transformed 4×4 tile.
    public static let positions = 16

    /// Floats of `transformWeights`' output.
    public static func transformedWeightCount(outputs o: Int, inputs c: Int) -> Int { positions * o * c }

    /// `u[ξ, o, c] = (G · g · Gᵀ)[ξ]` for every 3×3 kernel `g = weight[o, c]`,
    /// `G = [[1, 0, 0], [½, ½, ½], [½, −½, ½], [0, 0, 1]]` (in float: a rounding or two per value).
    /// - Parameters:
    ///   - weight: `[O, C, 3, 3]` row-major.
    ///   - u: `[16, O, C]`: the 16 GEMMs' left operands, each `[O, C]` row-major.
    public static func transformWeights(_ weight: UnsafePointer<Float>, outputs o: Int, inputs c: Int,
                                        into u: UnsafeMutablePointer<Float>) {
        let plane = o * c
        // Eight kernels at a time (their 72 weights are contiguous), each result row stored as one
        // 8-wide vector: a scalar loop per kernel showed as 3 % of an encoder forward's samples (a
        // tenth of its GEMM time), since `conv2d` transforms the weights on every call.
        Parallel.forRanges((plane + 7) / 8, minChunk: 512) { range in
          withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: 9) { gb in
            let g = gb.baseAddress!
            for block in range {
                let r0 = 8 * block, count = min(8, plane - r0)
                g.initialize(repeating: SIMD8(), count: 9)
                for l in 0..<count { for j in 0..<9 { g[j][l] = weight[(r0 + l) * 9 + j] } }
                // t = G·g (rows i = 0…3, columns j = 0…2), then u = t·Gᵀ.
                for i in 0..<4 {
                    var t = (SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>())
                    for j in 0..<3 {
                        let g0 = g[j], g1 = g[3 + j], g2 = g[6 + j]
                        let v: SIMD8<Float>
                        switch i {
                        case 0: v = g0
                        case 1: v = 0.5 * (g0 + g1 + g2)
                        case 2: v = 0.5 * (g0 - g1 + g2)
                        default: v = g2
                        }
                        if j == 0 { t.0 = v } else if j == 1 { t.1 = v } else { t.2 = v }
                    }
                    let row = (t.0, 0.5 * (t.0 + t.1 + t.2), 0.5 * (t.0 - t.1 + t.2), t.2)
                    store(row.0, UnsafeMutableRawPointer(u + (4 * i) * plane + r0), count)
                    store(row.1, UnsafeMutableRawPointer(u + (4 * i + 1) * plane + r0), count)
                    store(row.2, UnsafeMutableRawPointer(u + (4 * i + 2) * plane + r0), count)
                    store(row.3, UnsafeMutableRawPointer(u + (4 * i + 3) * plane + r0), count)
                }
            }
          }
        }
    }

    /// Stores the first `count` (≤ 8) lanes of `v` at `p`.
    @inline(__always)
    static func store(_ v: SIMD8<Float>, _ p: UnsafeMutableRawPointer, _ count: Int) {
        if count == 8 { p.storeBytes(of: v, as: SIMD8<Float>.self); return }
        for l in 0..<count { p.storeBytes(of: v[l], toByteOffset: 4 * l, as: Float.self) }
    }

    /// Target floats of one chunk's transformed input (`16 · C · tiles`): 2 MB, the size the
    /// generator's im2col tiles found best (`GemmTiling.tileFloats`). `LATENTLAB_WINOGRAD_CHUNK`
    /// overrides it (benchmarking).
    public static let defaultChunkFloats: Int = {
        if let v = ProcessInfo.processInfo.environment["LATENTLAB_WINOGRAD_CHUNK"], let n = Int(v), n > 0 { return n }
        return GemmTiling.tileFloats
    }()

    /// `out = conv3x3(src ⊙ scales, weight)`, stride 1, zero padding 1, same size, no bias.
    ///
    /// Work is cut into chunks of tile rows (two output rows each, over every image of the batch);
    /// chunks go to the cores with single-threaded GEMMs, or, when there are too few of them, each
    /// chunk's transforms are split over channels and its 16 GEMMs over the cores.
    /// - Parameters:
    ///   - src: `C` planes per image, placed by `layout`; `scales`: `[N, C]` (per-image channel
    ///     factors applied to the input, e.g. StyleGAN2's modulation) or nil.
    ///   - transformedWeights: `[16, O, C]` from `transformWeights`; with `adjoint`, the forward
    ///     layer's `[16, C, O]` (its outputs are this call's `channels`).
    ///   - adjoint: convolve with the flipped, transposed kernel (`wf[c, o] = rot180(weight[o, c])`,
    ///     the input gradient of the forward convolution) using the forward layer's transformed
    ///     weights: rotating g by 180° swaps rows and columns 0 and 3 of `G g Gᵀ` (because
    ///     `G·J = K·G` for the reversal J and the swap K), so `U_f[ξ] = U[K ξ K]ᵀ`.
    ///   - out: `O` planes per image, placed by `outLayout`; fully overwritten.
    ///   - chunkFloats, minTilesPerChunk: target size of a chunk's transformed input, and the fewest
    ///     tiles a chunk may have (default 4·O); tests use small ones to cut small maps into many
    ///     chunks.
    public static func convolve(_ src: UnsafePointer<Float>, layout: PlaneLayout, scales: UnsafePointer<Float>?,
                                channels c: Int, transformedWeights u: UnsafePointer<Float>, outputs o: Int,
                                batch n: Int, height h: Int, width w: Int,
                                _ out: UnsafeMutablePointer<Float>, outLayout: PlaneLayout, adjoint: Bool = false,
                                chunkFloats: Int = defaultChunkFloats, minTilesPerChunk: Int? = nil) {
        guard n > 0, h > 0, w > 0, o > 0 else { return }
        let th = (h + 1) / 2, tw = (w + 1) / 2, tileRows = n * th
        // At least 4·O tiles per chunk, so re-packing U[ξ] in each GEMM stays small next to its work.
        let minTiles = minTilesPerChunk ?? 4 * o
        var chunkRows = max(1, chunkFloats / (positions * max(c, 1) * tw))
        chunkRows = min(tileRows, max(chunkRows, (minTiles + tw - 1) / tw))
        let chunks = (tileRows + chunkRows - 1) / chunkRows
        let geometry = Geometry(channels: c, outputs: o, batch: n, height: h, width: w, tileWidth: tw,
                                tileHeight: th, src: layout, out: outLayout, adjoint: adjoint)
        Parallel.withSingleThreadedBLAS {
            if chunks >= 2 * Parallel.threadCount {
                Parallel.forEachDynamic(chunks) { ch in
                    let rows = (ch * chunkRows)..<min(tileRows, (ch + 1) * chunkRows)
                    geometry.run(src, scales: scales, u: u, out: out, tileRows: rows, parallel: false)
                }
            } else {
                for ch in 0..<chunks {
                    let rows = (ch * chunkRows)..<min(tileRows, (ch + 1) * chunkRows)
                    geometry.run(src, scales: scales, u: u, out: out, tileRows: rows, parallel: true)
                }
            }
        }
    }

    /// Shapes and layouts of one convolution.
    struct Geometry {
        let channels: Int, outputs: Int, batch: Int, height: Int, width: Int, tileWidth: Int, tileHeight: Int
        let src: PlaneLayout, out: PlaneLayout
        let adjoint: Bool

        /// Transform, multiply and transform back the tiles of global tile rows `tileRows`
        /// (row `r` = image `r / tileHeight`, tile row `r % tileHeight`).
        func run(_ x: UnsafePointer<Float>, scales: UnsafePointer<Float>?, u: UnsafePointer<Float>,
                 out y: UnsafeMutablePointer<Float>, tileRows: Range<Int>, parallel: Bool) {
            let c = channels, o = outputs, tiles = tileRows.count * tileWidth
            withScratch(positions * (c + o) * tiles) { buf in
                let v = buf, m = buf + positions * c * tiles
                let chunkC = parallel ? max(1, (c + 2 * Parallel.threadCount - 1) / (2 * Parallel.threadCount)) : c
                forEach((c + chunkC - 1) / chunkC, parallel: parallel) { part in
                    for ch in (part * chunkC)..<min(c, (part + 1) * chunkC) {
                        inputTransform(x, scales: scales, channel: ch, tileRows: tileRows, v: v, tiles: tiles)
                    }
                }
                forEach(positions, parallel: parallel) { xi in
                    if adjoint {
                        sgemm(transA: true, m: o, n: tiles, k: c, a: u + Self.mirrored(xi) * o * c, lda: o,
                              b: v + xi * c * tiles, c: m + xi * o * tiles)
                    } else {
                        sgemm(m: o, n: tiles, k: c, a: u + xi * o * c, b: v + xi * c * tiles, c: m + xi * o * tiles)
                    }
                }
                let chunkO = parallel ? max(1, (o + 2 * Parallel.threadCount - 1) / (2 * Parallel.threadCount)) : o
                forEach((o + chunkO - 1) / chunkO, parallel: parallel) { part in
                    for oc in (part * chunkO)..<min(o, (part + 1) * chunkO) {
                        outputTransform(m, output: oc, tileRows: tileRows, tiles: tiles, y)
                    }
                }
            }
        }

        /// The mirror `K ξ K` of position `ξ = 4i + j`: rows and columns 0 and 3 swap, 1 and 2 stay.
        static func mirrored(_ xi: Int) -> Int {
            func k(_ i: Int) -> Int { i == 0 ? 3 : i == 3 ? 0 : i }
            return 4 * k(xi / 4) + k(xi % 4)
        }

        private func forEach(_ count: Int, parallel: Bool, _ body: (Int) -> Void) {
            if parallel { Parallel.forEachDynamic(count, body) } else { for i in 0..<count { body(i) } }
        }

        /// `v[ξ, channel, t] = (Bᵀ d B)[ξ]` for the 4×4 input patch `d` of every tile `t`,
        /// `Bᵀ = [[1, 0, −1, 0], [0, 1, 1, 0], [0, −1, 1, 0], [0, 1, 0, −1]]`.
        ///
        /// The patch of tile `(ty, tx)` covers input rows `2ty − 1 … 2ty + 2` and columns
        /// `2tx − 1 … 2tx + 2`. Each input row is split into its odd and even columns (`e[j] = x[2j − 1]`,
        /// `d[j] = x[2j]`, zero outside the image) so every pass below runs over consecutive tiles.
        func inputTransform(_ x: UnsafePointer<Float>, scales: UnsafePointer<Float>?, channel ch: Int,
                            tileRows: Range<Int>, v: UnsafeMutablePointer<Float>, tiles: Int) {
            let tw = tileWidth, h = height, w = width
            // Rows padded to a multiple of 8 plus 8, so the 8-wide loop below may read `t + 1 ..< t + 9`.
            let len = (tw + 7) / 8 * 8 + 8
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 8 * len) { tb in
                // Input rows 0…3 of the patch, each as (even, odd) of `len`. The next tile row of the same
                // image starts two input rows lower, so its rows 0 and 1 are this one's 2 and 3: the
                // slots rotate instead of splitting those rows again.
                var slots = (tb.baseAddress!, tb.baseAddress! + 2 * len, tb.baseAddress! + 4 * len, tb.baseAddress! + 6 * len)
                var previous = -1   // global tile row whose rows the slots hold
                for r in tileRows {
                    let nn = r / tileHeight, ty = r % tileHeight
                    let plane = x + ch * src.channelStride + nn * src.imageStride
                    let scale = scales.map { $0[nn * channels + ch] } ?? 1
                    let reuse = previous == r - 1 && ty > 0
                    if reuse { slots = (slots.2, slots.3, slots.0, slots.1) }
                    for i in (reuse ? 2 : 0)..<4 {
                        let iy = 2 * ty - 1 + i
                        let ev = i == 0 ? slots.0 : i == 1 ? slots.1 : i == 2 ? slots.2 : slots.3, od = ev + len
                        if iy >= 0 && iy < h {
                            Self.splitColumns(plane + iy * w, width: w, scale: scale, even: ev, odd: od, count: len)
                        } else {
                            ev.initialize(repeating: 0, count: 2 * len)
                        }
                    }
                    previous = r
                    // v[ξ, ch, t0 + t] = out + ξ · stride + t
                    let out = UnsafeMutableRawPointer(v + ch * tiles + (r - tileRows.lowerBound) * tw)
                    let stride = 4 * channels * tiles
                    let e0 = UnsafeRawPointer(slots.0), o0 = e0 + 4 * len, e1 = UnsafeRawPointer(slots.1), o1 = e1 + 4 * len
                    let e2 = UnsafeRawPointer(slots.2), o2 = e2 + 4 * len, e3 = UnsafeRawPointer(slots.3), o3 = e3 + 4 * len
                    var t = 0
                    while t < tw {
                        // Bᵀ along the rows (r0 = d0 − d2, r1 = d1 + d2, r2 = d2 − d1, r3 = d1 − d3) for
                        // each of the patches' four columns e[t], d[t], e[t + 1], d[t + 1], tiles t…t+7.
                        @inline(__always)
                        func rowCombos(_ p0: UnsafeRawPointer, _ p1: UnsafeRawPointer, _ p2: UnsafeRawPointer,
                                       _ p3: UnsafeRawPointer, _ shift: Int)
                            -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
                            let at = 4 * (t + shift)
                            let d0 = p0.loadUnaligned(fromByteOffset: at, as: SIMD8<Float>.self)
                            let d1 = p1.loadUnaligned(fromByteOffset: at, as: SIMD8<Float>.self)
                            let d2 = p2.loadUnaligned(fromByteOffset: at, as: SIMD8<Float>.self)
                            let d3 = p3.loadUnaligned(fromByteOffset: at, as: SIMD8<Float>.self)
                            return (d0 - d2, d1 + d2, d2 - d1, d1 - d3)
                        }
                        let a = rowCombos(e0, e1, e2, e3, 0), b = rowCombos(o0, o1, o2, o3, 0)
                        let c = rowCombos(e0, e1, e2, e3, 1), d = rowCombos(o0, o1, o2, o3, 1)
                        // B along the columns: v0 = a − c, v1 = b + c, v2 = c − b, v3 = b − d, per row i.
                        let count = min(8, tw - t)
                        @inline(__always)
                        func columnCombos(_ i: Int, _ ca: SIMD8<Float>, _ cb: SIMD8<Float>, _ cc: SIMD8<Float>, _ cd: SIMD8<Float>) {
                            let base = out + 4 * i * stride + 4 * t
                            Winograd3x3.store(ca - cc, base, count)
                            Winograd3x3.store(cb + cc, base + stride, count)
                            Winograd3x3.store(cc - cb, base + 2 * stride, count)
                            Winograd3x3.store(cb - cd, base + 3 * stride, count)
                        }
                        columnCombos(0, a.0, b.0, c.0, d.0)
                        columnCombos(1, a.1, b.1, c.1, d.1)
                        columnCombos(2, a.2, b.2, c.2, d.2)
                        columnCombos(3, a.3, b.3, c.3, d.3)
                        t += 8
                    }
                }
            }
        }

        /// `even[j] = s · x[2j − 1]`, `odd[j] = s · x[2j]` for `j < count`, zero outside the row.
        @inline(__always)
        static func splitColumns(_ x: UnsafePointer<Float>, width w: Int, scale: Float,
                                 even: UnsafeMutablePointer<Float>, odd: UnsafeMutablePointer<Float>, count: Int) {
            let sv = SIMD8<Float>(repeating: scale), rx = UnsafeRawPointer(x)
            let re = UnsafeMutableRawPointer(even), ro = UnsafeMutableRawPointer(odd)
            // Pairs (x[2j], x[2j + 1]) for j < w / 2: odd[j] = x[2j], even[j + 1] = x[2j + 1].
            let pairs = w / 2
            var j = 0
            while j + 8 <= pairs {
                let v = rx.loadUnaligned(fromByteOffset: 8 * j, as: SIMD16<Float>.self)
                ro.storeBytes(of: v.evenHalf * sv, toByteOffset: 4 * j, as: SIMD8<Float>.self)
                re.storeBytes(of: v.oddHalf * sv, toByteOffset: 4 * (j + 1), as: SIMD8<Float>.self)
                j += 8
            }
            while j < pairs { odd[j] = x[2 * j] * scale; even[j + 1] = x[2 * j + 1] * scale; j += 1 }
            even[0] = 0
            if w % 2 == 1 { odd[pairs] = x[w - 1] * scale; j = pairs + 1 } else { j = pairs }
            // odd[j] for j ≥ ⌈w/2⌉ and even[j] for j > ⌊w/2⌋ are outside the row.
            if j < count { (odd + j).initialize(repeating: 0, count: count - j) }
            if pairs + 1 < count { (even + pairs + 1).initialize(repeating: 0, count: count - pairs - 1) }
        }


        /// `Y = Aᵀ m A` for every tile of output channel `oc`, `Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]]`,
        /// written to output rows `2ty`, `2ty + 1` and columns `2tx`, `2tx + 1` inside the image.
        func outputTransform(_ m: UnsafePointer<Float>, output oc: Int, tileRows: Range<Int>, tiles: Int,
                             _ y: UnsafeMutablePointer<Float>) {
            let tw = tileWidth, h = height, w = width
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 4 * tw) { tb in
                let e0 = tb.baseAddress!, o0 = e0 + tw, e1 = o0 + tw, o1 = e1 + tw
                for r in tileRows {
                    let nn = r / tileHeight, ty = r % tileHeight
                    let t0 = (r - tileRows.lowerBound) * tw
                    func at(_ xi: Int) -> UnsafePointer<Float> { m + (xi * outputs + oc) * tiles + t0 }
                    let m00 = at(0), m01 = at(1), m02 = at(2), m03 = at(3)
                    let m10 = at(4), m11 = at(5), m12 = at(6), m13 = at(7)
                    let m20 = at(8), m21 = at(9), m22 = at(10), m23 = at(11)
                    let m30 = at(12), m31 = at(13), m32 = at(14), m33 = at(15)
                    for t in 0..<tw {
                        let z00 = m00[t] + m10[t] + m20[t], z01 = m01[t] + m11[t] + m21[t]
                        let z02 = m02[t] + m12[t] + m22[t], z03 = m03[t] + m13[t] + m23[t]
                        let z10 = m10[t] - m20[t] - m30[t], z11 = m11[t] - m21[t] - m31[t]
                        let z12 = m12[t] - m22[t] - m32[t], z13 = m13[t] - m23[t] - m33[t]
                        e0[t] = z00 + z01 + z02; o0[t] = z01 - z02 - z03
                        e1[t] = z10 + z11 + z12; o1[t] = z11 - z12 - z13
                    }
                    let plane = y + oc * out.channelStride + nn * out.imageStride
                    let row0 = plane + 2 * ty * w
                    interleave(e0, o0, row0, count: w)
                    if 2 * ty + 1 < h { interleave(e1, o1, row0 + w, count: w) }
                }
            }
        }

        /// `dst[2j] = even[j]`, `dst[2j + 1] = odd[j]` for the first `count` elements.
        @inline(__always)
        private func interleave(_ even: UnsafePointer<Float>, _ odd: UnsafePointer<Float>,
                                _ dst: UnsafeMutablePointer<Float>, count: Int) {
            let pairs = count / 2
            for j in 0..<pairs { dst[2 * j] = even[j]; dst[2 * j + 1] = odd[j] }
            if count % 2 == 1 { dst[count - 1] = even[pairs] }
        }
    }
}

/// How a 3×3, stride-1, padding-1 convolution is computed (other convolutions always use im2col).
public enum ConvolutionAlgorithm: Sendable {
    /// Winograd from `Winograd3x3.minPixels` pixels over the batch, im2col + GEMM below: there the
    /// 16 GEMMs have too few columns (tiles) to beat one im2col GEMM. Measured at batch 1 on the
    /// generators: gan64 forward 11.0 ms with Winograd from 32² maps against 13.5 ms from 8²; at
    /// batch 8, 16² maps gain (8.3 against 8.9 ms per image).
    case automatic
    /// im2col + GEMM.
    case im2col
    /// Winograd F(2×2, 3×3) at every size.
    case winograd

    /// Whether a convolution with these parameters over `pixels` output pixels (all images) runs
    /// as Winograd.
    public func usesWinograd(kernelSize k: Int, stride: Int, padding: Int, groups: Int, pixels: Int) -> Bool {
        guard k == 3 && stride == 1 && padding == 1 && groups == 1 else { return false }
        switch self {
        case .automatic: return pixels >= Winograd3x3.minPixels
        case .im2col: return false
        case .winograd: return true
        }
    }
}

extension Winograd3x3 {
    /// Smallest batch of maps (pixels over all images) for `ConvolutionAlgorithm.automatic`:
    /// one 32² map. `LATENTLAB_WINOGRAD_MIN_PIXELS` overrides it (0 = always, a huge value =
    /// never; for A/B runs).
    public static let minPixels: Int = {
        if let v = ProcessInfo.processInfo.environment["LATENTLAB_WINOGRAD_MIN_PIXELS"], let n = Int(v), n >= 0 { return n }
        return 32 * 32
    }()
}
