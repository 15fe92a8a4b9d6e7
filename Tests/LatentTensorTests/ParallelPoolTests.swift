import XCTest
import Foundation
import LatentTensor

/// `Parallel`'s loops on the spinning pool: every index exactly once, across many back-to-back
/// jobs (workers spinning or asleep in between), nested loops and loops started from several
/// threads at once (those fall back to Dispatch).
final class ParallelPoolTests: XCTestCase {
    func testEveryIndexExactlyOnceAcrossManyJobs() {
        for job in 0..<3000 {
            let count = 1 + job % 37
            let hits = UnsafeMutablePointer<Int>.allocate(capacity: count)
            hits.initialize(repeating: 0, count: count)
            switch job % 3 {
            case 0: Parallel.forEach(count) { i in hits[i] += 1 }
            case 1: Parallel.forEachDynamic(count) { i in hits[i] += 1 }
            default: Parallel.forRanges(count, minChunk: 1) { r in for i in r { hits[i] += 1 } }
            }
            for i in 0..<count where hits[i] != 1 { XCTFail("job \(job): index \(i) ran \(hits[i]) times"); break }
            hits.deallocate()
            if job % 500 == 0 { usleep(1000) }   // let the workers fall asleep now and then
        }
    }

    func testNestedAndConcurrentLoops() {
        let outer = 6, inner = 40
        let lock = NSLock()
        var total = 0
        DispatchQueue.concurrentPerform(iterations: 3) { _ in
            for _ in 0..<50 {
                Parallel.forEachDynamic(outer) { _ in
                    var local = 0
                    Parallel.forEach(inner) { _ in lock.lock(); local += 1; lock.unlock() }
                    lock.lock(); total += local; lock.unlock()
                }
            }
        }
        XCTAssertEqual(total, 3 * 50 * outer * inner)
    }
}
