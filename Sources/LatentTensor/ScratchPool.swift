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

    /// A buffer of at least `count` floats (uninitialised).
    public func take(_ count: Int) -> (pointer: UnsafeMutablePointer<Float>, capacity: Int) {
        lock.lock()
        // Smallest pooled buffer that fits.
        var best = -1
        for (i, b) in free.enumerated() where b.capacity >= count && (best < 0 || b.capacity < free[best].capacity) { best = i }
        if best >= 0 {
            let b = free.remove(at: best)
            pooledBytes -= b.capacity * 4
            lock.unlock()
            return b
        }
        lock.unlock()
        let capacity = max(count, 1)
        return (UnsafeMutablePointer<Float>.allocate(capacity: capacity), capacity)
    }

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
