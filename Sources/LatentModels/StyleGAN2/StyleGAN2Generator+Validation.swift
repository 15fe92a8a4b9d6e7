import LatentTensor

/// A caller-supplied latent, noise map or gradient that does not fit the generator.
public struct StyleGAN2InputError: Error, CustomStringConvertible, Equatable {
    /// The argument at fault, e.g. `"ws"`, `"noise[b8.conv0]"`.
    public var argument: String
    public var reason: String
    public var description: String { "\(argument): \(reason)" }
}

extension StyleGAN2Generator {
    /// Throws unless `z` is `[N, zDim]` with N ≥ 1 (and, when `requireFinite`, finite values).
    public func validate(z: Tensor, requireFinite: Bool = true) throws {
        guard z.rank == 2, z.shape[0] >= 1, z.shape[1] == zDim else {
            throw StyleGAN2InputError(argument: "z", reason: "must be [N, \(zDim)] with N >= 1, got \(z.shape)")
        }
        guard !requireFinite || z.isFinite else { throw StyleGAN2InputError(argument: "z", reason: "contains NaN or infinite values") }
    }

    /// Throws unless `ws` is `[N, numWs, wDim]` with N ≥ 1 (and, when `requireFinite`, finite values).
    public func validate(ws: Tensor, requireFinite: Bool = true) throws {
        guard ws.rank == 3, ws.shape[0] >= 1, ws.shape[1] == numWs, ws.shape[2] == wDim else {
            throw StyleGAN2InputError(argument: "ws", reason: "must be [N, \(numWs), \(wDim)] with N >= 1, got \(ws.shape)")
        }
        guard !requireFinite || ws.isFinite else { throw StyleGAN2InputError(argument: "ws", reason: "contains NaN or infinite values") }
    }

    /// Throws unless every map names a noise layer and is `[H, W]` or `[batch, H, W]` for it
    /// (and, when `requireFinite`, has finite values).
    public func validate(noise: NoiseMaps, batch: Int, requireFinite: Bool = true) throws {
        for (name, m) in noise.maps.sorted(by: { $0.key < $1.key }) {
            guard let shape = noiseShape(layer: name) else {
                throw StyleGAN2InputError(argument: "noise[\(name)]",
                                          reason: "unknown layer (known: \(noiseLayerNames.joined(separator: ", ")))")
            }
            guard m.shape == shape || m.shape == [batch] + shape else {
                throw StyleGAN2InputError(argument: "noise[\(name)]",
                                          reason: "must be \(shape) or \([batch] + shape), got \(m.shape)")
            }
            guard !requireFinite || m.isFinite else { throw StyleGAN2InputError(argument: "noise[\(name)]", reason: "contains NaN or infinite values") }
        }
    }

    /// Throws unless `gradImage` has the shape of `tape.image`.
    public func validate(gradImage: Tensor, tape: SynthesisTape) throws {
        guard gradImage.shape == tape.image.shape else {
            throw StyleGAN2InputError(argument: "gradImage", reason: "must be \(tape.image.shape), got \(gradImage.shape)")
        }
    }
}

/// Traps with the validation message: the non-throwing entry points treat a mismatch as a
/// programming error (call `validate(…)` first on data from outside).
@inline(__always)
func require(_ check: () throws -> Void) {
    do { try check() } catch { preconditionFailure("\(error)") }
}
