/// Which latent space an optimisation moves in (inversion and text edits alike).
public enum LatentSpace: String, Sendable, CaseIterable {
    /// One w per image, broadcast to all `numWs` layers (NVIDIA's projector).
    case w
    /// One w per layer (`[numWs, wDim]`), the usual choice for fidelity.
    case wPlus = "w+"
}
