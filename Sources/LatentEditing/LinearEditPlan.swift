import Foundation
import LatentTensor
import LatentCore

/// A linear edit as the command line asks for it: one direction at several strengths, or a
/// recipe scaled by one factor.
public enum LinearEditPlan: Sendable {
    /// `ws[:, layers] += s · direction` for each strength `s`.
    case direction(Tensor, layers: Range<Int>, strengths: [Float])
    /// `applyRecipe` with every step's strength times `scale`.
    case recipe(EditRecipe, directory: String?, scale: Float)

    /// The edited latents of `ws` `[N, numWs, wDim]`, each with a tag for file names: the
    /// strength (`+1.50`) for a direction, "" for a recipe's single result.
    public func apply(ws: Tensor) throws -> [(tag: String, ws: Tensor)] {
        switch self {
        case .direction(let d, let layers, let strengths):
            return try strengths.map { s in (strengthTag(s), try applyDirection(ws: ws, direction: d, strength: s, layers: layers)) }
        case .recipe(let r, let dir, let scale):
            return [("", try applyRecipe(r, ws: ws, recipeDirectory: dir, scale: scale))]
        }
    }
}

/// A strength as it appears in file names: sign and two decimals (`+1.50`, `-3.00`).
public func strengthTag(_ s: Float) -> String { String(format: "%+.2f", Double(s)) }
