import Foundation
import XCTest
import LatentTensor

/// Where `../shared` (reference models, golden data, test images) lives, if present: the
/// `LATENTLAB_SHARED` environment variable, else `shared` beside the package root.
public func sharedDirectory(file: StaticString = #filePath) -> URL? {
    if let env = ProcessInfo.processInfo.environment["LATENTLAB_SHARED"] {
        return URL(fileURLWithPath: env)
    }
    // Tests/<Target>/<File>.swift -> package root -> ../shared
    var url = URL(fileURLWithPath: "\(file)")
    for _ in 0..<3 { url.deleteLastPathComponent() }
    let candidate = url.deletingLastPathComponent().appendingPathComponent("shared")
    return FileManager.default.fileExists(atPath: candidate.path) ? candidate : nil
}

/// Largest absolute difference between two equally shaped tensors.
public func maxAbsDiff(_ a: Tensor, _ b: Tensor) -> Float {
    precondition(a.shape == b.shape, "shapes differ: \(a.shape) vs \(b.shape)")
    var m: Float = 0
    for i in 0..<a.count { m = max(m, abs(a[flat: i] - b[flat: i])) }
    return m
}

/// Mean of the squared element differences of two equally shaped tensors, in Double.
public func meanSquaredDifference(_ a: Tensor, _ b: Tensor) -> Double {
    precondition(a.shape == b.shape, "shapes differ: \(a.shape) vs \(b.shape)")
    return zip(a.storage, b.storage).reduce(0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) } / Double(a.count)
}

/// Relative error ‖a − b‖∞ / max(‖b‖∞, floor): a scale-aware comparison for gradients, whose
/// magnitudes vary by orders between layers.
public func relativeError(_ a: Tensor, _ b: Tensor, floor: Float = 1e-12) -> Float {
    let ref = b.storage.reduce(0) { max($0, abs($1)) }
    return maxAbsDiff(a, b) / max(ref, floor)
}

/// Asserts `|a − b| <= atol + rtol·|b|` elementwise, reporting the worst element.
public func assertClose(_ a: Tensor, _ b: Tensor, atol: Float = 1e-5, rtol: Float = 1e-5,
                        _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
    guard a.shape == b.shape else {
        XCTFail("shape \(a.shape) != \(b.shape) \(message)", file: file, line: line); return
    }
    var worst = -1, worstExcess: Float = 0
    for i in 0..<a.count {
        let excess = abs(a[flat: i] - b[flat: i]) - (atol + rtol * abs(b[flat: i]))
        if excess > worstExcess || !a[flat: i].isFinite { worst = i; worstExcess = excess.isNaN ? .infinity : excess }
    }
    if worst >= 0 {
        XCTFail("not close at flat index \(worst): \(a[flat: worst]) vs \(b[flat: worst]) (atol \(atol), rtol \(rtol)) \(message)",
                file: file, line: line)
    }
}

/// Central finite differences in Double: ∂f/∂x_i ≈ (f(x + h e_i) − f(x − h e_i)) / 2h for each i.
public func numericalGradient(_ x: [Double], h: Double = 1e-6, _ f: ([Double]) -> Double) -> [Double] {
    var g = [Double](repeating: 0, count: x.count)
    var xp = x
    for i in 0..<x.count {
        let v = x[i]
        xp[i] = v + h; let fp = f(xp)
        xp[i] = v - h; let fm = f(xp)
        xp[i] = v
        g[i] = (fp - fm) / (2 * h)
    }
    return g
}

/// Deterministic pseudo-random numbers for tests (`SplitMix64`), so failures reproduce.
public struct TestRNG {
    private var generator: SplitMix64
    public init(seed: UInt64) { generator = SplitMix64(seed: seed &+ 0x9E37_79B9_7F4A_7C15) }
    public mutating func next() -> UInt64 { generator.next() }
    /// Uniform in [lo, hi).
    public mutating func uniform(_ lo: Double = -1, _ hi: Double = 1) -> Double {
        lo + (hi - lo) * Double(next() >> 11) / Double(1 << 53)
    }
    /// A tensor of uniform values in [lo, hi).
    public mutating func tensor(_ shape: [Int], _ lo: Double = -1, _ hi: Double = 1) -> Tensor {
        Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in Float(uniform(lo, hi)) })
    }
    /// An array of uniform doubles in [lo, hi).
    public mutating func doubles(_ n: Int, _ lo: Double = -1, _ hi: Double = 1) -> [Double] {
        (0..<n).map { _ in uniform(lo, hi) }
    }
}

/// A test input that must exist (a resource, a fixture, the built binary): thrown, its absence
/// fails the test instead of skipping it.
public struct MissingTestInput: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A fresh temporary folder removed when the test ends.
public func temporaryFolder(_ test: XCTestCase) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("latentlab-test-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
    return path
}
