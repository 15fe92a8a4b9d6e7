import Dispatch
import Foundation
import CBLAS

/// Thread control for both cores.
///
/// Our own loops are split with `Parallel.forEach` (on `SpinPool`'s persistent workers, or
/// Dispatch's concurrentPerform when the pool is busy), and OpenBLAS
/// keeps its own pthread pool for GEMM. To avoid oversubscription, code that calls GEMM *inside*
/// a parallel loop wraps the loop in `Parallel.withSingleThreadedBLAS`.
///
/// Environment: `LATENTLAB_THREADS` sets our loop width (default: active cores);
/// `OPENBLAS_NUM_THREADS` sets OpenBLAS's pool (default: active cores).
public enum Parallel {
    /// Number of worker threads our loops use.
    public static let threadCount: Int = {
        if let s = ProcessInfo.processInfo.environment["LATENTLAB_THREADS"], let n = Int(s), n > 0 { return n }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }()

    /// Calls `body(i)` for every `i` in `0..<count`, spread over `threadCount` threads in
    /// contiguous chunks. Runs inline when `count` is small or only one thread is allowed.
    @inlinable
    public static func forEach(_ count: Int, minChunk: Int = 1, _ body: (Int) -> Void) {
        let workers = Swift.min(threadCount, (count + Swift.max(minChunk, 1) - 1) / Swift.max(minChunk, 1))
        if workers <= 1 {
            for i in 0..<count { body(i) }
            return
        }
        if runOnPool(workers, { w in
            let lo = count * w / workers, hi = count * (w + 1) / workers
            for i in lo..<hi { body(i) }
        }) { return }
        withoutActuallyEscaping(body) { body in
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                let lo = count * w / workers, hi = count * (w + 1) / workers
                for i in lo..<hi { body(i) }
            }
        }
    }

    /// Runs `body(0..<count)` on the spinning pool (`SpinPool`); false when it is busy or absent.
    @usableFromInline
    static func runOnPool(_ count: Int, _ body: (Int) -> Void) -> Bool {
        if #available(macOS 15.0, *), let pool = SpinPool.shared { return pool.run(count, body) }
        return false
    }

    /// Calls `body(range)` on `threadCount` contiguous sub-ranges of `0..<count`.
    @inlinable
    public static func forRanges(_ count: Int, minChunk: Int = 1024, _ body: (Range<Int>) -> Void) {
        let workers = Swift.min(threadCount, Swift.max(1, count / Swift.max(minChunk, 1)))
        if workers <= 1 { body(0..<count); return }
        if runOnPool(workers, { w in body(count * w / workers ..< count * (w + 1) / workers) }) { return }
        withoutActuallyEscaping(body) { body in
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                body(count * w / workers ..< count * (w + 1) / workers)
            }
        }
    }

    private static let blasLock = NSLock()
    nonisolated(unsafe) private static var singleThreadedDepth = 0
    nonisolated(unsafe) private static var savedBLASThreads: Int32 = 0

    /// Runs `body` with OpenBLAS limited to one thread (for GEMMs issued from our own parallel
    /// loops). Sections may overlap across threads: the first to enter saves OpenBLAS's thread
    /// count and the last to leave restores it, so no section runs with the pool re-enabled.
    public static func withSingleThreadedBLAS<R>(_ body: () throws -> R) rethrows -> R {
        BLASKernels.prepare()
        blasLock.lock()
        if singleThreadedDepth == 0 {
            savedBLASThreads = openblas_get_num_threads()
            openblas_set_num_threads(1)
        }
        singleThreadedDepth += 1
        blasLock.unlock()
        defer {
            blasLock.lock()
            singleThreadedDepth -= 1
            if singleThreadedDepth == 0 { openblas_set_num_threads(savedBLASThreads) }
            blasLock.unlock()
        }
        return try body()
    }
}
