import Foundation

// Adam optimiser, PyTorch `torch.optim.Adam` semantics (Kingma & Ba 2015, with PyTorch's bias
// correction placement and no weight decay / AMSGrad):
//   m ← m + (1 − β1)(g − m)            (PyTorch's lerp form of β1·m + (1 − β1)·g)
//   v ← β2·v + (1 − β2)·g²
//   p ← p − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + ε)
// The projector (stylegan2-ada-pytorch projector.py) uses it with betas (0.9, 0.999) and a learning
// rate that changes every step, hence the per-step `learningRate` override.

/// Adam with PyTorch semantics; the moment buffers are created on the first `step`.
public struct Adam: Sendable {
    /// Default learning rate, used when `step` is not given one.
    public var learningRate: Float
    public var beta1: Float
    public var beta2: Float
    public var epsilon: Float
    /// Number of steps taken so far (PyTorch's `state['step']`).
    public private(set) var stepCount: Int = 0
    /// First and second moment estimates, one per parameter (empty before the first step).
    public private(set) var firstMoments: [Tensor] = []
    public private(set) var secondMoments: [Tensor] = []

    /// - Parameters: defaults are PyTorch's: lr 1e-3, β1 0.9, β2 0.999, ε 1e-8.
    public init(learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8) {
        precondition(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1,
                     "Adam: betas must be in [0, 1), got (\(beta1), \(beta2))")
        precondition(epsilon >= 0 && learningRate >= 0, "Adam: learningRate and epsilon must be ≥ 0")
        self.learningRate = learningRate; self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon
    }

    /// An optimiser continuing from a saved state (a training checkpoint): after this, `step`
    /// computes exactly what the saved optimiser would have computed next.
    /// - Parameters: `stepCount` ≥ 0; `firstMoments` / `secondMoments` one per parameter, equally
    ///   shaped (both empty before the first step).
    public init(learningRate: Float, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8,
                restoringStepCount stepCount: Int, firstMoments: [Tensor], secondMoments: [Tensor]) {
        self.init(learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon)
        precondition(stepCount >= 0 && firstMoments.count == secondMoments.count
                     && zip(firstMoments, secondMoments).allSatisfy { $0.shape == $1.shape },
                     "Adam: restored state needs stepCount ≥ 0 and equally shaped moment lists")
        self.stepCount = stepCount
        self.firstMoments = firstMoments
        self.secondMoments = secondMoments
    }

    /// One update of every parameter from its gradient.
    ///
    /// - Parameters:
    ///   - params: the tensors to update in place (same count and shapes on every call).
    ///   - grads: one gradient per parameter, same shapes.
    ///   - learningRate: this step's rate (e.g. from a schedule); default `self.learningRate`.
    public mutating func step(_ params: inout [Tensor], grads: [Tensor], learningRate: Float? = nil) {
        precondition(params.count == grads.count, "Adam.step: \(params.count) parameters but \(grads.count) gradients")
        for i in 0..<params.count {
            precondition(params[i].shape == grads[i].shape,
                         "Adam.step: parameter \(i) has shape \(params[i].shape), its gradient \(grads[i].shape)")
        }
        if firstMoments.isEmpty {
            firstMoments = params.map { Tensor.zeros($0.shape) }
            secondMoments = params.map { Tensor.zeros($0.shape) }
        }
        precondition(firstMoments.count == params.count && zip(firstMoments, params).allSatisfy { $0.shape == $1.shape },
                     "Adam.step: parameter list changed since the first step")
        stepCount += 1
        let lr = Double(learningRate ?? self.learningRate)
        // Scalars in Double as PyTorch computes them in Python, then rounded to float for the kernel.
        let t = Double(stepCount)
        let biasCorrection1 = 1 - Foundation.pow(Double(beta1), t)
        let biasCorrection2Sqrt = (1 - Foundation.pow(Double(beta2), t)).squareRoot()
        let stepSize = Float(lr / biasCorrection1)
        let bc2 = Float(biasCorrection2Sqrt)
        let w1 = 1 - beta1, b2 = beta2, w2 = 1 - beta2, eps = epsilon
        for i in 0..<params.count {
            let n = params[i].count
            grads[i].withUnsafeBufferPointer { pg in
                params[i].withUnsafeMutableBufferPointer { pp in
                    firstMoments[i].withUnsafeMutableBufferPointer { pm in
                        secondMoments[i].withUnsafeMutableBufferPointer { pv in
                            let g = pg.baseAddress!, p = pp.baseAddress!, m = pm.baseAddress!, v = pv.baseAddress!
                            for j in 0..<n {
                                let gj = g[j]
                                m[j] += w1 * (gj - m[j])
                                v[j] = v[j] * b2 + w2 * gj * gj
                                let denom = v[j].squareRoot() / bc2 + eps
                                p[j] -= stepSize * (m[j] / denom)
                            }
                        }
                    }
                }
            }
        }
    }
}
