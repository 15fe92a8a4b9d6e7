import Foundation
import CBLAS

/// OpenBLAS kernel (core type) selection.
///
/// A `DYNAMIC_ARCH` OpenBLAS picks its GEMM kernels for the CPU model at load time; a version older
/// than the CPU does not know the model and falls back to `Prescott` (SSE3) kernels. OpenBLAS
/// 0.3.21 (Debian 12) does this on Intel family 6 model 207 (Emerald Rapids), where its SSE3 sgemm
/// runs at ~0.2× the AVX-512 `SkylakeX` kernel (measured: 65 vs 150 GFLOP/s at n = 1024 on two
/// cores). When that fallback is in effect, no `OPENBLAS_CORETYPE` was given, and the CPU reports
/// AVX-512 (or AVX2 + FMA), the matching kernels are selected once, before our first GEMM, through
/// OpenBLAS's own re-initialisation (`gotoblas_dynamic_quit` / `gotoblas_dynamic_init`, the path
/// `OPENBLAS_CORETYPE` takes at load). Any other situation is left exactly as OpenBLAS chose.
public enum BLASKernels {
    /// OpenBLAS's core name after selection (e.g. `"SkylakeX"`, `"Haswell"`, `"Prescott"`).
    public static var coreName: String { _ = selection; return currentCoreName() }

    /// The core this process switched to, or nil when OpenBLAS's own choice was kept.
    public static var switchedTo: String? { selection }

    /// Runs the one-time selection (cheap after the first call). GEMM entry points call it.
    @inlinable @inline(__always)
    public static func prepare() { _ = selection }

    @usableFromInline
    static let selection: String? = selectCore(environment: ProcessInfo.processInfo.environment,
                                               cpuFlags: cpuFlags())

    /// The core to force, given OpenBLAS's current choice, the environment and the CPU's flags
    /// (nil: keep OpenBLAS's choice). Pure, for tests.
    public static func replacementCore(current: String, environment: [String: String], cpuFlags: Set<String>) -> String? {
        if environment["OPENBLAS_CORETYPE"] != nil { return nil }     // the user's explicit choice
        guard current.lowercased() == "prescott" else { return nil }   // OpenBLAS recognised the CPU
        if ["avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"].allSatisfy(cpuFlags.contains) { return "SkylakeX" }
        if ["avx2", "fma"].allSatisfy(cpuFlags.contains) { return "Haswell" }
        return nil
    }

    private static func currentCoreName() -> String {
        guard let p = openblas_get_corename() else { return "unknown" }
        return String(cString: p)
    }

    private static func selectCore(environment: [String: String], cpuFlags: Set<String>) -> String? {
        guard let core = replacementCore(current: currentCoreName(), environment: environment, cpuFlags: cpuFlags),
              let handle = dlopen(nil, RTLD_NOW),
              let quit = dlsym(handle, "gotoblas_dynamic_quit"),
              let initialise = dlsym(handle, "gotoblas_dynamic_init") else { return nil }
        typealias VoidFunction = @convention(c) () -> Void
        // gotoblas_dynamic_init reads OPENBLAS_CORETYPE; it is set only for the call, so the
        // environment child processes inherit stays as given.
        setenv("OPENBLAS_CORETYPE", core, 1)
        unsafeBitCast(quit, to: VoidFunction.self)()
        unsafeBitCast(initialise, to: VoidFunction.self)()
        unsetenv("OPENBLAS_CORETYPE")
        return currentCoreName().lowercased() == core.lowercased() ? core : nil
    }

    /// The `flags` of the first processor in `/proc/cpuinfo` (empty elsewhere).
    static func cpuFlags() -> Set<String> {
        #if os(Linux) && arch(x86_64)
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
              let colon = line.firstIndex(of: ":") else { return [] }
        return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
        #else
        return []
        #endif
    }
}
