import Foundation

extension LinearEditPlan {
    /// The region a recipe carries (`EditRecipe.mask`) and the recipe's folder, which a mask
    /// image path is relative to; nil for a direction or a recipe without one.
    public var recipeMask: (mask: String, directory: String?)? {
        guard case .recipe(let r, let dir, _) = self, let m = r.mask, !m.isEmpty else { return nil }
        return (m, dir)
    }

    /// The recipe's `feather` (nil: the caller's default).
    public var recipeFeather: Double? {
        guard case .recipe(let r, _, _) = self else { return nil }
        return r.feather
    }
}

/// A recipe's mask path resolved against its folder (absolute paths and paths that do not exist
/// there are kept as given, so the error names what the recipe says).
public func resolveRecipeMaskPath(_ mask: String, directory: String?) -> String {
    guard !mask.hasPrefix("/"), let directory, !directory.isEmpty else { return mask }
    let candidate = (directory as NSString).appendingPathComponent(mask)
    return FileManager.default.fileExists(atPath: candidate) ? candidate : mask
}
