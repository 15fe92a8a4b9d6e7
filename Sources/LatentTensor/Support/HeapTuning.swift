#if canImport(Glibc)
import Glibc
import CMalloc
#endif

/// Keeps large tensors' memory in the process between uses.
///
/// glibc serves every allocation above its mmap threshold (128 KB, raised dynamically to at most
/// 32 MB) with a fresh `mmap` and returns it with `munmap` on free, so a feature map of a 1024²
/// synthesis (32 channels × 1024² floats = 128 MB) costs its pages' faults and the kernel's
/// zeroing every time one is made, and a forward makes about a gigabyte of them. Served from the
/// heap and not trimmed back, a freed map's pages are reused by the next one. Measured on
/// ffhq1024 at batch 1 (AMD EPYC, 2 cores, `LatentBench generator --iterations 2 --no-weights`,
/// an encoder training beside it, `LATENTLAB_HEAP_TUNING=0` vs default, two runs each): page
/// faults 1.05 M → 0.25 M (what remains is the first touch of the peak), forward 3494–3524 →
/// 2949–3045 CPU-ms (2191–2308 → 1901–1917 ms wall), step 7752–7875 → 6968–7244 CPU-ms, peak RSS
/// unchanged (971–974 → 974–980 MB). A 128 MB malloc + memset + free loop in C: 131 ms per round
/// with glibc's defaults, 19 ms with these settings.
///
/// Process-wide, so only the executables call it (`latentlab`, `LatentBench`), first thing: a
/// library embedding LatentLab keeps its own allocator settings. The cost is that memory freed
/// after the peak stays with the process (up to `retainedBytes` at the top of the heap) until it
/// exits, which a command-line run does soon after its largest step.
public enum HeapTuning {
    /// Allocations up to this size come from the heap instead of `mmap`.
    public static let heapAllocationLimit = 1 << 30
    /// Free memory at the top of the heap kept rather than returned to the system.
    public static let retainedBytes = 1 << 30

    /// Applies the settings once (later calls do nothing). Returns whether glibc took them (false
    /// on other C libraries, which keep their behaviour, and with `LATENTLAB_HEAP_TUNING=0`, which
    /// keeps glibc's defaults: for comparisons, or a process that must return memory early).
    @discardableResult
    public static func keepLargeAllocationsInHeap() -> Bool { applied }

    private static let applied: Bool = {
        #if canImport(Glibc)
        if getenv("LATENTLAB_HEAP_TUNING").map({ String(cString: $0) }) == "0" { return false }
        return mallopt(M_MMAP_THRESHOLD, Int32(heapAllocationLimit)) == 1
            && mallopt(M_TRIM_THRESHOLD, Int32(retainedBytes)) == 1
        #else
        return false
        #endif
    }()
}
