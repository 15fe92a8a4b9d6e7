// Batched matrix product `C[b] = op(A[b]) · op(B[b])`, PyTorch `torch.bmm` semantics with optional
// transposes (as stored). Attention uses it for Q·Kᵀ and P·V.

/// `C[b] = op(A[b]) · op(B[b])` for every batch entry `b`.
///
/// - Parameters:
///   - a: `[B, m, k]`, or `[B, k, m]` when `transA`.
///   - b: `[B, k, n]`, or `[B, n, k]` when `transB`.
/// - Returns: `[B, m, n]`.
public func batchedMatmul(_ a: Tensor, _ b: Tensor, transA: Bool = false, transB: Bool = false) -> Tensor {
    let (batch, m, n, k) = batchedMatmulShapes(a, b, transA, transB, "batchedMatmul")
    var c = Tensor.zeros([batch, m, n])
    a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
        batchedSgemm(batch: batch, transA: transA, transB: transB, m: m, n: n, k: k,
                     a: pa.baseAddress!, strideA: m * k, b: pb.baseAddress!, strideB: k * n,
                     c: pc.baseAddress!, strideC: m * n)
    } } }
    return c
}

/// Gradients of `batchedMatmul` w.r.t. both operands, in their stored layouts.
///
/// With C = op(A)·op(B): d op(A) = dC·op(B)ᵀ and d op(B) = op(A)ᵀ·dC, transposed back when the
/// operand was stored transposed.
/// - Returns: `gradA` shaped like `a`, `gradB` shaped like `b` (nil when not requested).
public func batchedMatmulBackward(gradOutput: Tensor, a: Tensor, b: Tensor,
                                  transA: Bool = false, transB: Bool = false,
                                  needA: Bool = true, needB: Bool = true) -> (gradA: Tensor?, gradB: Tensor?) {
    let (batch, m, n, k) = batchedMatmulShapes(a, b, transA, transB, "batchedMatmulBackward")
    precondition(gradOutput.shape == [batch, m, n],
                 "batchedMatmulBackward: gradOutput \(gradOutput.shape) != [\(batch), \(m), \(n)]")
    var gradA: Tensor? = nil, gradB: Tensor? = nil
    gradOutput.withUnsafeBufferPointer { pg in a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in
        let g = pg.baseAddress!, ap = pa.baseAddress!, bp = pb.baseAddress!
        if needA {
            var ga = Tensor.zeros(a.shape)
            ga.withUnsafeMutableBufferPointer { pga in
                if !transA {   // dA[m, k] = dC[m, n] · op(B)ᵀ[n, k]
                    batchedSgemm(batch: batch, transA: false, transB: !transB, m: m, n: k, k: n,
                                 a: g, strideA: m * n, b: bp, strideB: k * n, c: pga.baseAddress!, strideC: m * k)
                } else {       // dA[k, m] = op(B)[k, n] · dCᵀ[n, m]
                    batchedSgemm(batch: batch, transA: transB, transB: true, m: k, n: m, k: n,
                                 a: bp, strideA: k * n, b: g, strideB: m * n, c: pga.baseAddress!, strideC: m * k)
                }
            }
            gradA = ga
        }
        if needB {
            var gb = Tensor.zeros(b.shape)
            gb.withUnsafeMutableBufferPointer { pgb in
                if !transB {   // dB[k, n] = op(A)ᵀ[k, m] · dC[m, n]
                    batchedSgemm(batch: batch, transA: !transA, transB: false, m: k, n: n, k: m,
                                 a: ap, strideA: m * k, b: g, strideB: m * n, c: pgb.baseAddress!, strideC: k * n)
                } else {       // dB[n, k] = dCᵀ[n, m] · op(A)[m, k]
                    batchedSgemm(batch: batch, transA: true, transB: transA, m: n, n: k, k: m,
                                 a: g, strideA: m * n, b: ap, strideB: m * k, c: pgb.baseAddress!, strideC: k * n)
                }
            }
            gradB = gb
        }
    } } }
    return (gradA, gradB)
}

/// Naive reference for `batchedMatmul` (Double accumulation).
public func batchedMatmulReference(_ a: Tensor, _ b: Tensor, transA: Bool = false, transB: Bool = false) -> Tensor {
    let (batch, m, n, k) = batchedMatmulShapes(a, b, transA, transB, "batchedMatmulReference")
    var c = Tensor.zeros([batch, m, n])
    for bi in 0..<batch {
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for l in 0..<k {
                    let av = transA ? a[bi, l, i] : a[bi, i, l]
                    let bv = transB ? b[bi, j, l] : b[bi, l, j]
                    s += Double(av) * Double(bv)
                }
                c[bi, i, j] = Float(s)
            }
        }
    }
    return c
}

/// Packed row-major GEMMs over a batch. Small products run one per thread (OpenBLAS pinned to one
/// thread); large ones run in sequence, each using OpenBLAS's own threads.
public func batchedSgemm(batch: Int, transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                         a: UnsafePointer<Float>, strideA: Int,
                         b: UnsafePointer<Float>, strideB: Int,
                         c: UnsafeMutablePointer<Float>, strideC: Int) {
    if batch == 0 { return }
    let flops = 2 * m * n * k
    if batch >= 2 && flops < 4_000_000 && Parallel.threadCount > 1 {
        Parallel.withSingleThreadedBLAS {
            Parallel.forEach(batch) { i in
                sgemm(transA: transA, transB: transB, m: m, n: n, k: k,
                      a: a + i * strideA, b: b + i * strideB, c: c + i * strideC)
            }
        }
    } else {
        for i in 0..<batch {
            sgemm(transA: transA, transB: transB, m: m, n: n, k: k,
                  a: a + i * strideA, b: b + i * strideB, c: c + i * strideC)
        }
    }
}

/// (batch, m, n, k) after checking the operand shapes.
private func batchedMatmulShapes(_ a: Tensor, _ b: Tensor, _ transA: Bool, _ transB: Bool,
                                 _ name: String) -> (Int, Int, Int, Int) {
    precondition(a.rank == 3 && b.rank == 3, "\(name): operands must be 3-D [B, rows, cols], got \(a.shape) and \(b.shape)")
    precondition(a.shape[0] == b.shape[0], "\(name): batch sizes differ: \(a.shape) vs \(b.shape)")
    let m = transA ? a.shape[2] : a.shape[1], k = transA ? a.shape[1] : a.shape[2]
    let kb = transB ? b.shape[2] : b.shape[1], n = transB ? b.shape[1] : b.shape[2]
    precondition(k == kb, "\(name): inner dimensions differ: op(a) is [\(m), \(k)], op(b) is [\(kb), \(n)] (transA \(transA), transB \(transB))")
    return (a.shape[0], m, n, k)
}
