import Foundation
import LatentTensor

/// LPIPS as an `ImageLoss`: per image `LPIPS(reconstruction, target)` on [-1, 1] images, with the
/// gradient with respect to the reconstruction. See `LPIPS.distance(_:target:mask:wantGradient:)`
/// for the mask.
///
/// The target's features are cached: a projector compares many reconstructions with one target,
/// and the target's tower run is as costly as the reconstruction's. Thread-safe.
public final class LPIPSLoss: ImageLoss, @unchecked Sendable {
    public let lpips: LPIPS
    private var cached: (target: Tensor, features: LPIPSFeatures)?
    private let lock = NSLock()

    public init(_ lpips: LPIPS) { self.lpips = lpips }

    public func evaluate(reconstruction: Tensor, target: Tensor, mask: Tensor?) throws -> (loss: [Float], gradient: Tensor) {
        _ = try validateImagePair(reconstruction, target)
        let features = try targetFeatures(target)
        let r = try lpips.distance(reconstruction, target: features, mask: mask, wantGradient: true)
        return (r.distance, r.gradient!)
    }

    private func targetFeatures(_ target: Tensor) throws -> LPIPSFeatures {
        lock.lock()
        if let c = cached, c.target == target { lock.unlock(); return c.features }
        lock.unlock()
        let f = try lpips.features(target)
        lock.lock()
        cached = (target, f)
        lock.unlock()
        return f
    }
}
