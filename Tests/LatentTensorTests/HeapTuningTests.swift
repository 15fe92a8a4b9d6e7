import XCTest
import LatentTensor

/// glibc accepts the heap settings `latentlab` and `LatentBench` apply at start (a 1 GB mmap
/// threshold is above glibc's dynamic maximum of 32 MB, so a C library that capped it would show
/// here), and large buffers then work as before.
final class HeapTuningTests: XCTestCase {
    func testGlibcTakesTheSettings() throws {
        #if canImport(Glibc)
        guard ProcessInfo.processInfo.environment["LATENTLAB_HEAP_TUNING"] != "0" else {
            throw XCTSkip("LATENTLAB_HEAP_TUNING=0 keeps glibc's defaults")
        }
        XCTAssertTrue(HeapTuning.keepLargeAllocationsInHeap())
        XCTAssertTrue(HeapTuning.keepLargeAllocationsInHeap(), "a second call reports the same")
        // Two 64 MB tensors in turn: the second reuses the first's heap pages; contents as written.
        for value: Float in [1, 2] {
            let t = Tensor(shape: [16, 1024, 1024], repeating: value)
            XCTAssertEqual(t.storage[t.storage.count - 1], value)
            XCTAssertTrue(t.storage.allSatisfy { $0 == value })
        }
        #else
        XCTAssertFalse(HeapTuning.keepLargeAllocationsInHeap())
        #endif
    }
}
