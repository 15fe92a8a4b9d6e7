import Foundation
import Dispatch

extension Parallel {
    /// Calls `body(i)` for every `i` in `0..<count` on up to `threadCount` workers that claim
    /// indices one at a time, so a worker delayed by another process on a shared machine does not
    /// hold back the others (unlike a static split). For coarse tasks (GEMM tiles).
    public static func forEachDynamic(_ count: Int, _ body: (Int) -> Void) {
        let workers = Swift.min(threadCount, count)
        if workers <= 1 {
            for i in 0..<count { body(i) }
            return
        }
        if runOnPool(count, body) { return }
        let counter = TaskCounter()
        withoutActuallyEscaping(body) { body in
            DispatchQueue.concurrentPerform(iterations: workers) { _ in
                while true {
                    let i = counter.next()
                    if i >= count { break }
                    body(i)
                }
            }
        }
    }
}

private final class TaskCounter: @unchecked Sendable {
    private var value = 0
    private let lock = NSLock()
    func next() -> Int {
        lock.lock()
        defer { lock.unlock() }
        value += 1
        return value - 1
    }
}
