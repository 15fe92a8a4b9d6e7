import Foundation
import LatentTensor

/// The trainable encoder of `EncoderArchitecture`: forward with a tape, backward to every
/// parameter, built from LatentTensor ops that have their own references and gradient tests
/// (`conv2d`, `biasAct`, `avgPool2d`, `linear`). `EncoderReference` is the naive Double twin.
public struct EncoderNetwork: Sendable {
    public let architecture: EncoderArchitecture
    /// Parameters by name (`architecture.parameterShapes`).
    public var parameters: [String: Tensor]

    /// Leaky ReLU of every conv (StyleGAN's: α 0.2, gain √2, so He-initialised layers keep their scale).
    static let activation = Activation.lrelu

    /// - Throws: `EncoderError` for a bad architecture, a missing or extra tensor, or a wrong shape.
    public init(architecture: EncoderArchitecture, parameters: [String: Tensor], source: String = "parameters") throws {
        do { try architecture.validate() } catch let e as EncoderError { throw EncoderError("\(source): \(e.description)") }
        let shapes = architecture.parameterShapes
        for (name, shape) in shapes {
            guard let t = parameters[name] else { throw EncoderError("\(source): missing tensor '\(name)'") }
            guard t.shape == shape else { throw EncoderError("\(source): '\(name)' has shape \(t.shape), expected \(shape)") }
            guard t.isFinite else { throw EncoderError("\(source): '\(name)' contains NaN or infinity") }
        }
        let known = Set(shapes.map(\.name))
        if let extra = parameters.keys.sorted().first(where: { !known.contains($0) }) {
            throw EncoderError("\(source): unexpected tensor '\(extra)' for this architecture")
        }
        self.architecture = architecture
        self.parameters = parameters
    }

    /// Random initial weights: convs N(0, 1/fan_in) (He with the activation's √2 gain), heads
    /// N(0, 0.1²/fan_in) so training starts near `base` (e4e starts from the average latent);
    /// biases zero. Deterministic in `seed`.
    public init(architecture: EncoderArchitecture, seed: UInt64) throws {
        try architecture.validate()
        var rng = GaussianStream(seed: seed)
        var params = [String: Tensor]()
        for (name, shape) in architecture.parameterShapes {
            if name.hasSuffix(".bias") { params[name] = Tensor.zeros(shape); continue }
            let fanIn = shape.dropFirst().reduce(1, *)
            let std = (name.hasPrefix("head.") ? 0.1 : 1) / Double(fanIn).squareRoot()
            params[name] = Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in Float(rng.next() * std) })
        }
        try self.init(architecture: architecture, parameters: params)
    }

    /// What `backward` needs from a forward.
    public struct Tape: Sendable {
        /// Per conv (in order): its input and its pre-activation output.
        var convInputs: [Tensor] = []
        var preActivations: [Tensor] = []
        /// Last features of each level by side.
        var levelFeatures: [Int: Tensor] = [:]
        /// Pooled, flattened head inputs by side: `[N, C·16]`.
        var headInputs: [Int: Tensor] = [:]
        var stage: Int = 0
        var batch: Int = 0
    }

    /// The output of a forward: `codes [N, numWs, wDim] = base + w0 + Δ` and the parts.
    public struct Output: Sendable {
        public var codes: Tensor
        /// `[N, wDim]`.
        public var w0: Tensor
        /// `[N, numWs, wDim]`, row 0 and rows above `stage` zero.
        public var deltas: Tensor
        public var tape: Tape
    }

    /// Names of the convs in forward order with their stride.
    var convLayers: [(name: String, stride: Int)] {
        var out = [("stem", 1)]
        for r in architecture.levels.dropFirst() {
            out.append(("b\(r).down", 2))
            for k in 0..<architecture.convsPerLevel { out.append(("b\(r).conv\(k)", 1)) }
        }
        return out
    }

    /// Forward.
    /// - Parameters:
    ///   - input: `[N, inputChannels, R, R]` in [-1, 1].
    ///   - base: `[N, numWs, wDim]` (`latent_avg` broadcast, or the current codes when iterative).
    ///   - stage: active deltas `Δ1 … Δstage` (0 ≤ stage < numWs).
    public func forward(_ input: Tensor, base: Tensor, stage: Int) -> Output {
        let a = architecture, n = input.shape[0]
        precondition(input.shape == [n, a.inputChannels, a.resolution, a.resolution],
                     "EncoderNetwork.forward: input must be [N, \(a.inputChannels), \(a.resolution), \(a.resolution)], got \(input.shape)")
        precondition(base.shape == [n, a.numWs, a.wDim], "EncoderNetwork.forward: base must be [\(n), \(a.numWs), \(a.wDim)], got \(base.shape)")
        precondition(stage >= 0 && stage < a.numWs, "EncoderNetwork.forward: stage \(stage) outside 0..<\(a.numWs)")
        var tape = Tape(stage: stage, batch: n)
        var x = input
        var side = a.resolution
        for (name, stride) in convLayers {
            if stride == 2 { tape.levelFeatures[side] = x; side /= 2 }
            let pre = conv2d(x, weight: parameters[name + ".weight"]!, stride: stride, padding: 1)
            tape.convInputs.append(x)
            tape.preActivations.append(pre)
            x = biasAct(pre, bias: parameters[name + ".bias"]!, activation: Self.activation)
        }
        tape.levelFeatures[side] = x
        for s in Set([4] + (1..<a.numWs).map { a.headLevel(style: $0) }).sorted() {
            let f = tape.levelFeatures[s]!
            let pooled = s == 4 ? f : avgPool2d(f, kernel: s / 4)
            tape.headInputs[s] = pooled.reshaped([n, -1])
        }
        let w0 = linear(tape.headInputs[4]!, weight: parameters["head.w0.weight"]!, bias: parameters["head.w0.bias"]!)
        var deltas = Tensor.zeros([n, a.numWs, a.wDim])
        var codes = base
        let d = a.wDim
        for i in 0..<a.numWs {
            var row = w0
            if i >= 1 && i <= stage {
                let delta = linear(tape.headInputs[a.headLevel(style: i)]!, weight: parameters["head.delta\(i).weight"]!,
                                   bias: parameters["head.delta\(i).bias"]!)
                for s in 0..<n { for j in 0..<d { deltas.storage[(s * a.numWs + i) * d + j] = delta.storage[s * d + j] } }
                row += delta
            }
            for s in 0..<n { for j in 0..<d { codes.storage[(s * a.numWs + i) * d + j] += row.storage[s * d + j] } }
        }
        return Output(codes: codes, w0: w0, deltas: deltas, tape: tape)
    }

    /// Backward of a scalar loss L(codes, deltas).
    /// - Parameters:
    ///   - gradCodes: `∂L/∂codes [N, numWs, wDim]`.
    ///   - gradDeltas: `∂L/∂Δ` from terms on the deltas themselves (the delta-norm regulariser),
    ///     `[N, numWs, wDim]`, or nil.
    ///   - needInput: also return `∂L/∂input` (for gradient checks).
    /// - Returns: gradients by parameter name (inactive delta heads get zeros), and the input's.
    public func backward(tape: Tape, gradCodes: Tensor, gradDeltas: Tensor? = nil, needInput: Bool = false)
        -> (parameters: [String: Tensor], input: Tensor?) {
        let a = architecture, n = tape.batch, d = a.wDim
        precondition(gradCodes.shape == [n, a.numWs, d], "EncoderNetwork.backward: gradCodes must be [\(n), \(a.numWs), \(d)], got \(gradCodes.shape)")
        if let gradDeltas { precondition(gradDeltas.shape == gradCodes.shape, "EncoderNetwork.backward: gradDeltas shape \(gradDeltas.shape)") }
        var grads = [String: Tensor]()
        // Heads: ∂L/∂w0 = Σ_i ∂L/∂codes_i; ∂L/∂Δi = ∂L/∂codes_i (+ the regulariser's).
        var gW0 = Tensor.zeros([n, d])
        var gHeadInputs = [Int: Tensor]()
        for i in 0..<a.numWs {
            var gRow = Tensor.zeros([n, d])
            for s in 0..<n { for j in 0..<d { gRow.storage[s * d + j] = gradCodes.storage[(s * a.numWs + i) * d + j] } }
            gW0 += gRow
            guard i >= 1 else { continue }
            let name = "head.delta\(i)"
            guard i <= tape.stage else {
                grads[name + ".weight"] = Tensor.zeros(parameters[name + ".weight"]!.shape)
                grads[name + ".bias"] = Tensor.zeros([d])
                continue
            }
            if let gradDeltas {
                for s in 0..<n { for j in 0..<d { gRow.storage[s * d + j] += gradDeltas.storage[(s * a.numWs + i) * d + j] } }
            }
            let side = a.headLevel(style: i)
            let g = linearBackward(gradOutput: gRow, x: tape.headInputs[side]!, weight: parameters[name + ".weight"]!)
            grads[name + ".weight"] = g.gradWeight!
            grads[name + ".bias"] = g.gradBias!
            gHeadInputs[side, default: Tensor.zeros(tape.headInputs[side]!.shape)] += g.gradInput!
        }
        let g0 = linearBackward(gradOutput: gW0, x: tape.headInputs[4]!, weight: parameters["head.w0.weight"]!)
        grads["head.w0.weight"] = g0.gradWeight!
        grads["head.w0.bias"] = g0.gradBias!
        gHeadInputs[4, default: Tensor.zeros(tape.headInputs[4]!.shape)] += g0.gradInput!
        // Head inputs back to the level features (un-pool).
        var gLevel = [Int: Tensor]()
        for (s, g) in gHeadInputs {
            let f = tape.levelFeatures[s]!
            let g4 = g.reshaped([n, f.shape[1], 4, 4])
            gLevel[s] = s == 4 ? g4 : avgPool2dBackward(gradOutput: g4, inputShape: f.shape, kernel: s / 4)
        }
        // Trunk, deepest conv first; a level's head gradient joins where its features were made.
        let layers = convLayers
        var side = 4
        var gx: Tensor = gLevel[4] ?? Tensor.zeros(tape.levelFeatures[4]!.shape)
        for li in stride(from: layers.count - 1, through: 0, by: -1) {
            let (name, stride) = layers[li]
            let gb = biasActBackward(gradOutput: gx, x: tape.preActivations[li], bias: parameters[name + ".bias"]!,
                                     activation: Self.activation)
            grads[name + ".bias"] = gb.gradBias!
            let needIn = li > 0 || needInput
            let gc = conv2dBackward(gradOutput: gb.gradInput, x: tape.convInputs[li], weight: parameters[name + ".weight"]!,
                                    stride: stride, padding: 1, needInput: needIn, needWeight: true, needBias: false)
            grads[name + ".weight"] = gc.gradWeight!
            guard needIn else { return (grads, nil) }
            gx = gc.gradInput!
            if stride == 2 {
                side *= 2
                if let extra = gLevel[side] { gx += extra }
            }
        }
        return (grads, needInput ? gx : nil)
    }
}

/// Standard normal draws from a SplitMix64 stream (Box–Muller, both values of each pair used),
/// with a state of two words that a checkpoint stores exactly.
public struct GaussianStream: Sendable, Equatable {
    public var state: UInt64
    /// The second value of the last pair, when unused.
    public var spare: Double?

    public init(seed: UInt64) { state = seed; spare = nil }
    public init(state: UInt64, spare: Double?) { self.state = state; self.spare = spare }

    /// Uniform in (0, 1) with 53 bits.
    public mutating func uniform() -> Double {
        var rng = SplitMix64(seed: state)
        let v = rng.next()
        state = rng.state
        return (Double(v >> 11) + 0.5) / 9_007_199_254_740_992.0
    }

    public mutating func next() -> Double {
        if let s = spare { spare = nil; return s }
        let u1 = uniform(), u2 = uniform()
        let r = (-2 * Foundation.log(u1)).squareRoot(), t = 2 * Double.pi * u2
        spare = r * Foundation.sin(t)
        return r * Foundation.cos(t)
    }
}
