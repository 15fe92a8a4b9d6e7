import Foundation

/// Reusable float scratch buffers for the convolution kernels.
///
/// im2col and GEMM tiles are large and short-lived; allocating them fresh each call costs page
/// faults and kernel zeroing (measured at ~25 % of a batch-8 forward). Buffers returned here are
/// kept (up to `maxPooledBytes`) and handed out again. Thread-safe.
public final class ScratchPool: @unchecked Sendable {
    public static let shared = ScratchPool()
    public static let maxPooledBytes = 512 << 20

    private var free: [(pointer: UnsafeMutablePointer<Float>, capacity: Int)] = []
    private var pooledBytes = 0
    private let lock = NSLock()

    /// A pool of its own (the kernels use `shared`).
    public init() {}

    /// A buffer of at least `count` floats (uninitialised).
    ///
    /// A pooled buffer is reused only if it wastes at most an eighth of the request (or
    /// `smallFloats`): handing a 128 MB map to a 64 MB request would leave the next 128 MB request
    /// to allocate afresh while the waste stays live. On a miss of a large request, idle large
    /// buffers (oldest first) are freed first, about as many bytes as the request: the new
    /// allocation replaces idle memory of sizes that are not being asked for instead of adding to
    /// it, so resident memory stays near what is in use (a 1024² backward).
    public func take(_ count: Int) -> (pointer: UnsafeMutablePointer<Float>, capacity: Int) {
        let need = max(count, 1), slack = max(need / 8, Self.smallFloats)
        lock.lock()
        // Smallest pooled buffer that fits within the slack.
        var best = -1
        for (i, b) in free.enumerated() where b.capacity >= need && b.capacity - need <= slack
            && (best < 0 || b.capacity < free[best].capacity) { best = i }
        if best >= 0 {
            let b = free.remove(at: best)
            pooledBytes -= b.capacity * 4
            lock.unlock()
            return b
        }
        var released = [(pointer: UnsafeMutablePointer<Float>, capacity: Int)]()
        if need >= Self.smallFloats {
            var bytes = 0, i = 0
            while bytes < need * 4 && i < free.count {
                if free[i].capacity >= Self.smallFloats {
                    let b = free.remove(at: i)
                    released.append(b); bytes += b.capacity * 4
                } else {
                    i += 1
                }
            }
            pooledBytes -= bytes
        }
        lock.unlock()
        for b in released { b.pointer.deallocate() }
        return (UnsafeMutablePointer<Float>.allocate(capacity: need), need)
    }

    /// 1 MB: a request may get a pooled buffer up to this much larger (larger requests: up to an
    /// eighth larger), and a miss on a request of at least this size first frees idle buffers of
    /// at least this size.
    public static let smallFloats = 1 << 18

    /// Frees every pooled buffer (buffers in use are unaffected and return later).
    public func drain() {
        lock.lock()
        let all = free
        free.removeAll()
        pooledBytes = 0
        lock.unlock()
        for b in all { b.pointer.deallocate() }
    }

    /// Bytes currently pooled (idle).
    public var idleBytes: Int {
        lock.lock(); defer { lock.unlock() }
        return pooledBytes
    }

    public func give(_ b: (pointer: UnsafeMutablePointer<Float>, capacity: Int)) {
        lock.lock()
        if pooledBytes + b.capacity * 4 <= Self.maxPooledBytes {
            free.append(b)
            pooledBytes += b.capacity * 4
            lock.unlock()
        } else {
            lock.unlock()
            b.pointer.deallocate()
        }
    }
}

/// Runs `body` with a scratch buffer of at least `count` floats from the shared pool.
@inlinable
public func withScratch<R>(_ count: Int, _ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
    let b = ScratchPool.shared.take(count)
    defer { ScratchPool.shared.give(b) }
    return try body(b.pointer)
}
