import Foundation
import LatentTensor
import LatentFormats

/// Rebuilds the formula-defined weights of the `../shared/golden` e4e/pSp/rosinality and LPIPS v2 files from
/// their metadata (`weights` gives the rules, `*tensor_order` lists every state_dict entry as
/// `[name, shape, rule]`): t = position in that list, i = flat row-major index, m = i mod 10007,
/// A = (0.37·i + 1.1·t) + 0.001·(m·m), all in Double, then rounded to Float.
///
/// Test support only: the library never fabricates weights.
public enum FormulaWeights {
    public struct Entry {
        public var name: String; public var shape: [Int]; public var rule: String
        public init(name: String, shape: [Int], rule: String) { self.name = name; self.shape = shape; self.rule = rule }
    }

    /// Parses a `tensor_order` JSON list.
    public static func order(json: String) throws -> [Entry] {
        guard let list = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[Any]] else {
            throw MissingTestInput("tensor_order is not a JSON list of [name, shape, rule]")
        }
        return try list.map { e in
            guard e.count == 3, let n = e[0] as? String, let s = e[1] as? [NSNumber], let r = e[2] as? String else {
                throw MissingTestInput("malformed tensor_order entry \(e)")
            }
            return Entry(name: n, shape: s.map(\.intValue), rule: r)
        }
    }

    /// The value of element `i` of entry number `t`.
    public static func value(rule: String, name: String, shape: [Int], t: Int, i: Int) -> Double {
        let di = Double(i), dt = Double(t)
        let m = Double(i % 10007)
        let a = (0.37 * di + 1.1 * dt) + 0.001 * (m * m)
        switch rule {
        case "conv":
            let fanIn = shape.dropFirst().reduce(1, *)
            return sin(a) * (2.0 / Double(fanIn)).squareRoot()
        case "eq": return sin(a) * 2.0.squareRoot()
        case "eq_lr0.01": return sin(a) * 2.0.squareRoot() / 0.01
        case "w1d": return 1 + 0.1 * sin(0.53 * di + dt)
        case "bias": return 0.05 * cos(0.91 * di + dt)
        case "bn_mean": return 0.1 * sin(0.29 * di + dt)
        case "bn_var": return 1 + 0.5 * (1 + sin(0.71 * di + dt)) / 2
        case "other": return 0.5 * sin(0.61 * di + 0.7 * dt)
        // The LPIPS v2 packs' linear layers (non-negative, as the released ones).
        case "lpips_lin": return 0.5 + 0.5 * sin(1.7 * di + 0.3 * dt)
        case "keep":
            if name.hasSuffix("num_batches_tracked") { return 0 }
            // rosinality's FIR kernels: outer([1,3,3,1])/64, ×4 after an upsampling.
            let k: [Double] = [1, 3, 3, 1]
            return k[i / 4] * k[i % 4] / 64 * 4
        default: preconditionFailure("unknown weight rule '\(rule)'")
        }
    }

    /// Every entry as a float32 tensor (integer counters as 0-valued tensors).
    public static func tensors(_ order: [Entry]) -> [String: Tensor] {
        var out = [String: Tensor]()
        for (t, e) in order.enumerated() {
            let n = e.shape.reduce(1, *)
            out[e.name] = Tensor(shape: e.shape, data: (0..<n).map { Float(value(rule: e.rule, name: e.name, shape: e.shape, t: t, i: $0)) })
        }
        return out
    }

    /// `scale · sin(freq · i)` over a tensor of `shape`, computed in Double (the golden inputs).
    public static func sineInput(_ shape: [Int], scale: Double, frequency: Double, cosine: Bool = false) -> Tensor {
        let n = shape.reduce(1, *)
        return Tensor(shape: shape, data: (0..<n).map { i in
            Float(scale * (cosine ? cos(frequency * Double(i)) : sin(frequency * Double(i))))
        })
    }
}
