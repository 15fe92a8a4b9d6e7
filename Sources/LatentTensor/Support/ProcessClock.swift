import Foundation

/// CPU seconds used by the whole process so far (all threads): the load-independent cost of a
/// piece of work on a machine shared with other jobs (time spent preempted does not count).
public func processCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}
