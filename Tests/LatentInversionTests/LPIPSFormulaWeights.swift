import Foundation
import LatentTensor
import LatentInversion
import _TestSupport

/// The formula-defined weights of the LPIPS v2 golden packs (`lpips_{vgg,alex}_golden_v2.safetensors`),
/// so the tests need no weight file. Tensor number t is the position in `LPIPS.parameterShapes`
/// (the packs' `tensor_order`), i the flat row-major element index; every value is computed in
/// Double and rounded to Float, as the packs' `weights` metadata says.
enum LPIPSFormula {
    /// With m = i mod 10007 and A = (0.37·i + 1.1·t) + 0.001·(m·m), evaluated in that order: conv
    /// weight `sin(A)·sqrt(2/fan_in)`, conv bias `0.05·cos(0.91·i + t)`, lin weight
    /// `0.5 + 0.5·sin(1.7·i + 0.3·t)` — the e4e packs' `conv` and `bias` rules (`FormulaWeights`).
    /// (The v1 packs' conv weight `sin(0.37·i + 1.1·t)/sqrt(fan_in)` made every weight matrix
    /// rank 2, so their distance hardly depended on layers 3–5; the tests no longer use them.)
    static func parameters(net: LPIPSNet) -> [String: Tensor] {
        FormulaWeights.tensors(LPIPS.parameterShapes(net).map { name, shape in
            FormulaWeights.Entry(name: name, shape: shape,
                                 rule: name.hasSuffix(".bias") ? "bias" : name.hasPrefix("lin") ? "lpips_lin" : "conv")
        })
    }

    static func lpips(net: LPIPSNet) -> LPIPS {
        try! LPIPS(net: net, parameters: parameters(net: net), source: "formula v2")
    }
}
