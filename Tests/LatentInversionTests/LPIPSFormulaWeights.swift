import Foundation
import LatentTensor
import LatentInversion

/// The formula-defined weights of the LPIPS v2 golden packs (`lpips_{vgg,alex}_golden_v2.safetensors`),
/// so the tests need no weight file. Tensor number t is the position in `LPIPS.parameterShapes`
/// (the packs' `tensor_order`), i the flat row-major element index; every value is computed in
/// Double and rounded to Float (round to nearest even), as the packs' `weights` metadata says.
enum LPIPSFormula {
    /// With m = i mod 10007 and A = (0.37·i + 1.1·t) + 0.001·(m·m), evaluated in that order: conv
    /// weight `sin(A)·sqrt(2/fan_in)`, conv bias `0.05·cos(0.91·i + t)`, lin weight
    /// `0.5 + 0.5·sin(1.7·i + 0.3·t)`. (The v1 packs' conv weight `sin(0.37·i + 1.1·t)/sqrt(fan_in)`
    /// made every weight matrix rank 2, so their distance hardly depended on layers 3–5; the tests
    /// no longer use them.)
    static func parameters(net: LPIPSNet) -> [String: Tensor] {
        var params = [String: Tensor]()
        for (t, (name, shape)) in LPIPS.parameterShapes(net).enumerated() {
            let count = shape.reduce(1, *), dt = Double(t)
            let values: [Float]
            if name.hasSuffix(".bias") {
                values = (0..<count).map { Float(0.05 * cos(0.91 * Double($0) + dt)) }
            } else if name.hasPrefix("lin") {
                values = (0..<count).map { Float(0.5 + 0.5 * sin(1.7 * Double($0) + 0.3 * dt)) }
            } else {
                let fanIn = Double(shape[1] * shape[2] * shape[3])
                let gain = (2 / fanIn).squareRoot()
                values = (0..<count).map { i in
                    let m = Double(i % 10007)
                    let a = (0.37 * Double(i) + 1.1 * dt) + 0.001 * (m * m)
                    return Float(sin(a) * gain)
                }
            }
            params[name] = Tensor(shape: shape, data: values)
        }
        return params
    }

    static func lpips(net: LPIPSNet) -> LPIPS {
        try! LPIPS(net: net, parameters: parameters(net: net), source: "formula v2")
    }
}
