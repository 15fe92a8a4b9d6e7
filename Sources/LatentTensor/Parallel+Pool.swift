import Foundation
import Dispatch
import Synchronization

/// Persistent workers for `Parallel`'s loops that spin briefly between jobs.
///
/// A synthesis pass at batch 1 is a chain of ~40 parallel regions of 20–200 µs each. Through
/// `DispatchQueue.concurrentPerform` the second core joined a region too late to help: two 20 µs
/// tasks took 42 µs (median, idle 2-core VM) — the serial time — because waking a parked
/// Dispatch worker costs about as much as the task. These workers keep polling for
/// `spinNanoseconds` after each job (the next region usually starts within that window), then
/// sleep on a condition variable, so an idle process costs nothing.
///
/// One job at a time: a call made while a job runs (nested loops, or another thread's loop) gets
/// `false` and the caller uses Dispatch as before. Indices are claimed one at a time from a single
/// atomic word `generation | count | next index`, so a worker that wakes late can never claim an
/// index of a later job.
@available(macOS 15.0, *)
final class SpinPool: @unchecked Sendable {
    static let shared: SpinPool? = Parallel.threadCount > 1 ? SpinPool(workers: Parallel.threadCount - 1) : nil

    /// Polling time after a job before a worker sleeps.
    static let spinNanoseconds: UInt64 = 200_000
    static let fieldBits = 20
    /// Largest index count a job may have (larger loops use Dispatch).
    static let maxCount = (1 << fieldBits) - 1
    private static let fieldMask = (1 << fieldBits) - 1

    /// `generation << 40 | count << 20 | next`.
    private let claim = Atomic<Int>(0)
    private let generation = Atomic<Int>(0)
    private let completed = Atomic<Int>(0)
    private let inUse = Atomic<Bool>(false)
    private let sleepers = Atomic<Int>(0)
    private let condition = NSCondition()
    /// The running job's body; set before the claim word is published, cleared after every
    /// claimed index completed.
    nonisolated(unsafe) private var body: ((Int) -> Void)? = nil

    private init(workers: Int) {
        for _ in 0..<workers {
            let thread = Thread { [unowned self] in self.workerLoop() }
            thread.name = "LatentTensor.SpinPool"
            thread.start()
        }
    }

    /// Runs `body(i)` for `i` in `0..<count` on the caller and the workers. Returns false, having
    /// run nothing, when the pool is busy or `count` is too large.
    func run(_ count: Int, _ body: (Int) -> Void) -> Bool {
        guard count > 0, count <= Self.maxCount,
              inUse.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return false }
        withoutActuallyEscaping(body) { body in
            self.body = body
            let g = (generation.load(ordering: .relaxed) + 1) & ((1 << 22) - 1)
            completed.store(0, ordering: .relaxed)
            claim.store(g << (2 * Self.fieldBits) | count << Self.fieldBits, ordering: .releasing)
            generation.store(g, ordering: .sequentiallyConsistent)
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                condition.lock(); condition.broadcast(); condition.unlock()
            }
            drain(generation: g)
            // Indices claimed by workers may still be running.
            while completed.load(ordering: .acquiring) < count { spinPause() }
            self.body = nil
        }
        inUse.store(false, ordering: .releasing)
        return true
    }

    /// Claims and runs indices of job `g` until none is left.
    private func drain(generation g: Int) {
        var word = claim.load(ordering: .acquiring)
        while true {
            let next = word & Self.fieldMask, count = (word >> Self.fieldBits) & Self.fieldMask
            guard word >> (2 * Self.fieldBits) == g, next < count else { return }
            let (exchanged, original) = claim.compareExchange(expected: word, desired: word + 1, ordering: .acquiringAndReleasing)
            if !exchanged { word = original; continue }
            body!(next)
            completed.add(1, ordering: .releasing)
            word = claim.load(ordering: .acquiring)
        }
    }

    private func workerLoop() {
        var seen = generation.load(ordering: .acquiring)
        while true {
            let start = DispatchTime.now().uptimeNanoseconds
            var g = generation.load(ordering: .acquiring)
            while g == seen {
                if DispatchTime.now().uptimeNanoseconds - start > Self.spinNanoseconds {
                    condition.lock()
                    sleepers.add(1, ordering: .sequentiallyConsistent)
                    while generation.load(ordering: .sequentiallyConsistent) == seen { condition.wait() }
                    sleepers.subtract(1, ordering: .acquiringAndReleasing)
                    condition.unlock()
                } else {
                    spinPause()
                }
                g = generation.load(ordering: .acquiring)
            }
            seen = g
            drain(generation: g)
        }
    }

    @inline(__always)
    private func spinPause() {
        #if arch(x86_64) || arch(i386)
        for _ in 0..<8 { _ = generation.load(ordering: .relaxed) }
        #endif
    }
}
