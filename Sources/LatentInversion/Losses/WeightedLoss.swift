import LatentTensor

/// A weighted sum of losses, `Σₖ weightₖ · lossₖ`, per image, with the matching gradient.
/// Every term sees the same mask.
public struct WeightedLoss: ImageLoss {
    public struct Term: Sendable {
        public var weight: Float
        public var loss: any ImageLoss
        public init(weight: Float, loss: any ImageLoss) { self.weight = weight; self.loss = loss }
    }

    public var terms: [Term]

    public init(_ terms: [Term]) { self.terms = terms }

    /// `WeightedLoss([(1, PixelL2Loss()), (0.5, MSSSIMLoss())])`.
    public init(_ terms: [(Float, any ImageLoss)]) { self.terms = terms.map { Term(weight: $0.0, loss: $0.1) } }

    public func evaluate(reconstruction: Tensor, target: Tensor, mask: Tensor?) throws -> (loss: [Float], gradient: Tensor) {
        let s = try validateImagePair(reconstruction, target)
        guard !terms.isEmpty else { throw ImageInputError("terms", "a WeightedLoss needs at least one term") }
        guard terms.allSatisfy({ $0.weight.isFinite }) else { throw ImageInputError("terms", "every weight must be finite") }
        var loss = [Float](repeating: 0, count: s.n)
        var grad = Tensor.zeros(reconstruction.shape)
        for term in terms where term.weight != 0 {
            let (l, g) = try term.loss.evaluate(reconstruction: reconstruction, target: target, mask: mask)
            guard l.count == s.n, g.shape == reconstruction.shape else {
                throw ImageInputError("terms", "\(type(of: term.loss)) returned \(l.count) losses and a \(g.shape) gradient for \(reconstruction.shape)")
            }
            for n in 0..<s.n { loss[n] += term.weight * l[n] }
            grad.withUnsafeMutableBufferPointer { pg in
                g.withUnsafeBufferPointer { pt in
                    for i in 0..<pg.count { pg[i] += term.weight * pt[i] }
                }
            }
        }
        return (loss, grad)
    }
}
