import LatentTensor

/// Pooled float storage; its memory returns to `ScratchPool` when the last reference goes, so a
/// projector loop (forward, backward, drop the tape, repeat) reuses the same buffers instead of
/// page-faulting fresh ones every step.
final class FeatureMapStorage: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    let capacity: Int

    init(count: Int) {
        let b = ScratchPool.shared.take(count)
        pointer = b.pointer; capacity = b.capacity
    }

    deinit { ScratchPool.shared.give((pointer, capacity)) }
}

/// An internal feature map (activation) in the synthesis layout `[C, N, H, W]` (CNHW), in pooled storage.
/// Reference semantics: kernels write it once when it is made; gradient buffers are updated in
/// place by their single owner.
struct FeatureMap: Sendable {
    let shape: [Int]
    let storage: FeatureMapStorage

    var count: Int { shape.reduce(1, *) }
    var pointer: UnsafeMutablePointer<Float> { storage.pointer }
    var channels: Int { shape[0] }
    var batch: Int { shape[1] }
    var height: Int { shape[2] }
    var width: Int { shape[3] }

    /// Uninitialised: the caller writes every element.
    init(shape: [Int]) {
        precondition(shape.count == 4, "FeatureMap is [C, N, H, W], got \(shape)")
        self.shape = shape
        self.storage = FeatureMapStorage(count: shape.reduce(1, *))
    }

    static func zeros(_ shape: [Int]) -> FeatureMap {
        let a = FeatureMap(shape: shape)
        a.pointer.initialize(repeating: 0, count: a.count)
        return a
    }

    /// From an NCHW tensor `[N, C, H, W]` (transposed into CNHW).
    init(nchw t: Tensor) {
        precondition(t.rank == 4, "expected [N, C, H, W], got \(t.shape)")
        let n = t.shape[0], c = t.shape[1], hw = t.shape[2] * t.shape[3]
        self.init(shape: [c, n, t.shape[2], t.shape[3]])
        let dst = pointer
        t.withUnsafeBufferPointer { src in
            for s in 0..<n { for ch in 0..<c {
                (dst + (ch * n + s) * hw).update(from: src.baseAddress! + (s * c + ch) * hw, count: hw)
            } }
        }
    }

    /// Copied out as an NCHW tensor `[N, C, H, W]`.
    var nchw: Tensor {
        let c = channels, n = batch, hw = height * width
        let src = pointer
        let data = [Float](unsafeUninitializedCapacity: count) { buf, initialized in
            for s in 0..<n { for ch in 0..<c {
                (buf.baseAddress! + (s * c + ch) * hw).update(from: src + (ch * n + s) * hw, count: hw)
            } }
            initialized = count
        }
        return Tensor(shape: [n, c, height, width], data: data)
    }

    /// `self += other` elementwise.
    func add(_ other: FeatureMap) {
        precondition(other.shape == shape, "FeatureMap.add: \(other.shape) vs \(shape)")
        let a = pointer, b = other.pointer
        Parallel.forRanges(count, minChunk: 1 << 15) { r in for q in r { a[q] += b[q] } }
    }
}
