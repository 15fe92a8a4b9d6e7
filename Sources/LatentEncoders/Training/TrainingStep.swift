import LatentTensor
import LatentModels
import LatentCLIP
import LatentInversion

/// Loss terms of one step, each a batch mean (the total is their sum).
public struct EncoderLossTerms: Sendable, Equatable {
    /// Weighted image losses (L2, MS-SSIM, LPIPS), mean over images (and iterations).
    public var image: Double = 0
    /// Weighted latent MSE on the images with known ws (generator samples, coded real images).
    public var latent: Double = 0
    /// Weighted delta-norm regulariser.
    public var deltaNorm: Double = 0
    /// Pixel MSE of the (last) reconstruction on [0, 1] (PSNR = −10·log10), for monitoring.
    public var pixelMSE: Double = 0
    public var total: Double { image + latent + deltaNorm }
}

/// The objective of one training step and its gradient with respect to the encoder's parameters:
/// encoder forward → codes → generator forward (const noise) → losses → generator backward (to
/// the codes only) → encoder backward. Iterative (ReStyle) mode runs `iterations` such passes from
/// `latent_avg` and its image, each with the previous codes and reconstruction detached, and sums
/// their gradients (ReStyle's training loop).
struct TrainingObjective {
    let generator: StyleGAN2Generator
    let imageLoss: WeightedLoss
    let options: EncoderTrainingOptions
    /// `[wDim]`.
    let latentAvg: Tensor

    func evaluate(network: EncoderNetwork, batch: TrainingBatch, stage: Int) throws -> (terms: EncoderLossTerms, gradients: [String: Tensor]) {
        let n = batch.images.shape[0], numWs = generator.numWs, d = generator.wDim
        var base = broadcastToWs(Tensor(shape: [1, d], data: latentAvg.storage), numWs: numWs).repeated(n)
        let passes = options.iterative ? options.iterations : 1
        var current = options.iterative ? generator.synthesis(ws: base) : batch.images
        var terms = EncoderLossTerms()
        var total = [String: Tensor]()
        for _ in 0..<passes {
            let input = batch.inputs ?? (options.iterative ? concatenateChannels(batch.images, current) : batch.images)
            let out = network.forward(input, base: base, stage: stage)
            // The codes the generator renders: the photo's own rows where they are given.
            let given = batch.ws == nil ? [] : options.givenRows ?? []
            let rendered = given.isEmpty ? out.codes : replacingRows(given, of: out.codes, from: batch.ws)
            let image: Tensor
            var gCodes: Tensor
            if imageLoss.terms.allSatisfy({ $0.weight == 0 }) {
                // Latent loss alone (a guidance encoder regressing the photos' W+ codes): no
                // generator backward; the forward only monitors the reconstruction.
                image = generator.synthesis(ws: rendered)
                gCodes = Tensor.zeros(out.codes.shape)
            } else {
                let (img, tape) = generator.synthesisForward(ws: rendered)
                let (losses, gImage) = try imageLoss.evaluate(reconstruction: img, target: batch.images)
                terms.image += losses.reduce(0) { $0 + Double($1) } / Double(n * passes)
                gCodes = generator.synthesisBackward(tape: tape, gradImage: gImage * (1 / Float(n * passes)), needNoise: false).ws
                image = img
                // Given rows were not the encoder's: no image gradient reaches them.
                if !given.isEmpty { gCodes = replacingRows(given, of: gCodes, from: nil) }
            }
            terms.pixelMSE = try ImageMetrics.mse(image, batch.images).reduce(0, +) / Double(n)
            if let ws = batch.ws, options.latentWeight > 0 {
                // Mean over the samples of the per-element mean squared error.
                let s = batch.targetWsCount, per = numWs * d
                let scale = Double(options.latentWeight) / Double(per * s * passes)
                var acc = 0.0
                for i in 0..<(s * per) {
                    let diff = Double(out.codes.storage[i]) - Double(ws.storage[i])
                    acc += diff * diff
                    gCodes.storage[i] += Float(2 * diff * scale)
                }
                terms.latent += acc * scale
            }
            var gDeltas: Tensor? = nil
            if options.deltaNormWeight > 0 && stage > 0 {
                let reg = deltaNormRegularizer(deltas: out.deltas, stage: stage)
                let w = Double(options.deltaNormWeight) / Double(passes)
                terms.deltaNorm += reg.value * w
                gDeltas = reg.gradient * Float(w)
            }
            let g = network.backward(tape: out.tape, gradCodes: gCodes, gradDeltas: gDeltas).parameters
            if total.isEmpty { total = g } else { for (k, v) in g { total[k]! += v } }
            // The next pass starts from these codes and this image, as constants.
            base = out.codes
            current = image
        }
        return (terms, total)
    }
}

/// The image loss of the options: L2 + MS-SSIM (+ LPIPS, + CLIP features when given), zero
/// weights left out.
func trainingImageLoss(options: EncoderTrainingOptions, lpips: LPIPS?, clip: CLIPModel? = nil) -> WeightedLoss {
    var terms = [WeightedLoss.Term]()
    if options.l2Weight > 0 { terms.append(.init(weight: options.l2Weight, loss: PixelL2Loss())) }
    if options.msSSIMWeight > 0 { terms.append(.init(weight: options.msSSIMWeight, loss: MSSSIMLoss())) }
    if let lpips, options.lpipsWeight > 0 { terms.append(.init(weight: options.lpipsWeight, loss: LPIPSLoss(lpips))) }
    if let clip, let w = options.clipWeight, w > 0 { terms.append(.init(weight: w, loss: CLIPFeatureLoss(clip: clip))) }
    // A latent-only objective still evaluates the pixel loss (at weight 0) for monitoring.
    if terms.isEmpty { terms.append(.init(weight: 0, loss: PixelL2Loss())) }
    return WeightedLoss(terms)
}
