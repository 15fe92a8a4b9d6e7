import XCTest
import Foundation
import LatentTensor
import _TestSupport

final class BLASKernelsTests: XCTestCase {
    let avx512: Set<String> = ["sse3", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"]

    /// Only OpenBLAS's Prescott fallback is replaced, never an explicit OPENBLAS_CORETYPE, and only
    /// by kernels the CPU can run.
    func testReplacementRules() {
        XCTAssertEqual(BLASKernels.replacementCore(current: "Prescott", environment: [:], cpuFlags: avx512), "SkylakeX")
        XCTAssertEqual(BLASKernels.replacementCore(current: "Prescott", environment: [:], cpuFlags: ["sse3", "avx", "avx2", "fma"]), "Haswell")
        XCTAssertNil(BLASKernels.replacementCore(current: "Prescott", environment: [:], cpuFlags: ["sse3", "avx"]))
        XCTAssertNil(BLASKernels.replacementCore(current: "Prescott", environment: [:], cpuFlags: ["avx2"]))   // no FMA
        XCTAssertNil(BLASKernels.replacementCore(current: "Prescott", environment: ["OPENBLAS_CORETYPE": "Prescott"], cpuFlags: avx512))
        XCTAssertNil(BLASKernels.replacementCore(current: "Haswell", environment: [:], cpuFlags: avx512))
        XCTAssertNil(BLASKernels.replacementCore(current: "SkylakeX", environment: [:], cpuFlags: avx512))
    }

    /// On this machine: after the first GEMM, OpenBLAS does not run its SSE3 fallback on a CPU
    /// with AVX2 + FMA (unless the user forced a core), the environment is as it was, and GEMM
    /// still agrees with a naive product on odd shapes (every transposition).
    func testSelectedKernelsComputeCorrectly() {
        let env = ProcessInfo.processInfo.environment
        let before = env["OPENBLAS_CORETYPE"]
        var rng = TestRNG(seed: 11)
        for (m, n, k) in [(1, 1, 1), (3, 5, 7), (17, 33, 65), (64, 16, 1152), (129, 257, 31)] {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                let a = rng.tensor(ta ? [k, m] : [m, k]), b = rng.tensor(tb ? [n, k] : [k, n])
                let c = matmul(a, b, transA: ta, transB: tb)
                for i in stride(from: 0, to: m, by: max(1, m / 7)) {
                    for j in stride(from: 0, to: n, by: max(1, n / 7)) {
                        var s = 0.0
                        for q in 0..<k {
                            s += Double(ta ? a.storage[q * m + i] : a.storage[i * k + q]) * Double(tb ? b.storage[j * k + q] : b.storage[q * n + j])
                        }
                        XCTAssertEqual(Double(c.storage[i * n + j]), s, accuracy: 1e-5 * Double(k).squareRoot() * 4, "\(m)x\(n)x\(k) \(ta) \(tb)")
                    }
                }
            }
        }
        XCTAssertEqual(ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"], before)
        let core = BLASKernels.coreName
        if before == nil, let flags = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
           flags.contains(" avx2"), flags.contains(" fma") {
            XCTAssertNotEqual(core.lowercased(), "prescott", "OpenBLAS runs SSE3 kernels on an AVX2 CPU")
        }
    }
}
