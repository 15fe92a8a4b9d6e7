import XCTest
import LatentTensor

/// `ScratchPool`'s reuse rules, on a private pool: a pooled buffer serves a request only if it
/// wastes at most an eighth of it (or 1 MB), and a miss of a large request first frees idle
/// large buffers (oldest first) instead of adding a new buffer next to them.
final class ScratchPoolReuseTests: XCTestCase {
    let large = 4 * ScratchPool.smallFloats     // 4 MB

    func testReusesABufferWithinTheSlack() {
        let pool = ScratchPool()
        let a = pool.take(large)
        XCTAssertEqual(a.capacity, large)
        pool.give(a)
        // An eighth smaller still fits the pooled buffer.
        let b = pool.take(large - large / 8)
        XCTAssertEqual(b.pointer, a.pointer)
        XCTAssertEqual(b.capacity, large)
        XCTAssertEqual(pool.idleBytes, 0)
        pool.give(b)
        pool.drain()
    }

    func testDoesNotHandOutAMuchLargerBuffer() {
        let pool = ScratchPool()
        let big = pool.take(2 * large)
        let keep = pool.take(large / 4)             // in use throughout (not evictable)
        pool.give(big)
        // Half the size: a fresh buffer of the size asked for; the idle 2× buffer is freed first
        // (a miss on a large request), so the pool does not hold it next to the new one.
        let half = pool.take(large)
        XCTAssertEqual(half.capacity, large)
        XCTAssertEqual(pool.idleBytes, 0)
        pool.give(half)
        pool.give(keep)
        pool.drain()
    }

    func testMissFreesOldestLargeIdleBuffersButKeepsSmallOnes() {
        let pool = ScratchPool()
        let small = pool.take(1000)
        let a = pool.take(large), b = pool.take(large), c = pool.take(3 * large)
        pool.give(small); pool.give(a); pool.give(b); pool.give(c)
        let idle = pool.idleBytes
        XCTAssertEqual(idle, 4 * (small.capacity + 5 * large))
        // 2 × large is pooled by nothing within the slack: the oldest large idle buffers (a, b)
        // cover it and are freed; c (newer) and the small one stay.
        let d = pool.take(2 * large)
        XCTAssertEqual(d.capacity, 2 * large)
        XCTAssertEqual(pool.idleBytes, 4 * (small.capacity + 3 * large))
        // The kept ones still serve requests of their size.
        let c2 = pool.take(3 * large)
        XCTAssertEqual(c2.pointer, c.pointer)
        let s2 = pool.take(999)
        XCTAssertEqual(s2.pointer, small.pointer)
        XCTAssertEqual(pool.idleBytes, 0)
        // Small requests never free anything.
        pool.give(c2); pool.give(d)
        let before = pool.idleBytes
        let s3 = pool.take(2000)
        XCTAssertEqual(pool.idleBytes, before)
        pool.give(s2); pool.give(s3)
        pool.drain()
        XCTAssertEqual(pool.idleBytes, 0)
    }
}
