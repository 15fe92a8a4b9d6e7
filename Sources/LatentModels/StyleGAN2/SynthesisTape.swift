import Foundation
import LatentTensor

/// What the tape keeps of one synthesis block.
struct TapeBlock: Sendable {
    /// The block's input `[Cin, N, R/2, R/2]` and skip image `[3, N, R/2, R/2]` (nil for the first
    /// block, which starts from `const`): the previous block's outputs, so no extra memory while
    /// that block's cache is on the tape.
    let x: FeatureMap?
    let img: FeatureMap?
    /// The block's cache; nil for a checkpointed block, which the backward recomputes from the input.
    let slot: CacheSlot?
}

/// A block's cache on a tape, handed to the first backward that asks for it, which releases it
/// layer by layer as it goes (a tape is a value its caller still holds during the backward, so
/// without this every cache would stay alive until the backward returns: at 1024² the top block's
/// ~350 MB during the whole backward of the blocks below). A later backward of the same tape (or
/// of a copy) finds the slot empty and recomputes the block from its input: the same values.
final class CacheSlot: @unchecked Sendable {
    private var cache: SynthesisBlock.Cache?
    private let lock = NSLock()

    init(_ cache: SynthesisBlock.Cache) { self.cache = cache }

    /// The cache, leaving the slot empty (nil if already taken).
    func take() -> SynthesisBlock.Cache? {
        lock.lock(); defer { lock.unlock() }
        let c = cache
        cache = nil
        return c
    }

    /// The cache if still there, leaving it in place.
    func peek() -> SynthesisBlock.Cache? {
        lock.lock(); defer { lock.unlock() }
        return cache
    }
}

/// Everything `synthesisBackward` needs from one `synthesisForward` call.
public struct SynthesisTape: Sendable {
    /// `[N, numWs, wDim]`.
    public let ws: Tensor
    /// The generated image `[N, imgChannels, R, R]`.
    public let image: Tensor
    let blocks: [TapeBlock]
    /// The noise the forward used, for recomputing checkpointed blocks.
    let noise: [String: ResolvedNoise]
    /// The network that made the tape (shares the generator's weights), for `blockActivations`.
    let network: SynthesisNetwork
    /// How each layer's noise was given, so gradients come back in the same layout.
    let noiseLayout: [String: NoiseLayout]

    enum NoiseLayout: Sendable { case shared, perSample }

    public var batch: Int { ws.shape[0] }

    /// Resolutions of the blocks the forward checkpointed (kept only their input; the backward
    /// recomputes them), ascending.
    public var checkpointedResolutions: [Int] {
        zip(network.blocks, blocks).compactMap { block, entry in entry.slot == nil ? block.resolution : nil }
    }

    /// Block outputs as in the reference forward, NCHW: `"act.b{res}.x"` `[N, C, res, res]` and
    /// `"act.b{res}.img"` `[N, imgChannels, res, res]`. Blocks whose cache is not on the tape
    /// (checkpointed, or taken by a backward) are recomputed.
    public var blockActivations: [String: Tensor] {
        var d = [String: Tensor]()
        let rows = (0..<network.numWs).map { SynthesisNetwork.wRow(ws, $0) }
        for (block, entry) in zip(network.blocks, blocks) {
            let c = entry.slot?.peek() ?? Parallel.withSingleThreadedBLAS {
                block.forward(x: entry.x, img: entry.img, batch: batch, w: { rows[$0] }, noise: { noise[$0.name] ?? .none })
            }
            let res = c.x.height
            d["act.b\(res).x"] = c.x.nchw
            d["act.b\(res).img"] = c.img.nchw
        }
        return d
    }
}

/// Which blocks `synthesisForward` checkpoints: keeps only the block's input on the tape and
/// recomputes the block's forward during the backward, just before its backward, releasing that
/// cache layer by layer as the backward consumes it. The result is the same computation on the
/// same values; it costs one more forward of each checkpointed block and saves what its cache
/// holds besides its output (which is the next block's input, kept anyway): conv0's output and
/// the ToRGB and skip-image maps, for the time the backward spends above it.
///
/// The peak of a backward is at the top block (its cache plus its gradients plus everything the
/// tape keeps below it), so checkpointing the last block saves nothing (its cache is alive at the
/// start of the backward either way) while costing the most recomputation: the threshold
/// policies never pick it. Every cache, checkpointed or not, is released block by block as the
/// backward goes down (see `CacheSlot`).
public enum SynthesisCheckpointing: Sendable, Hashable {
    /// `.above(bytes: SynthesisCheckpointing.defaultThresholdBytes)`.
    case automatic
    /// Keep every block's cache (the fastest backward, the most memory).
    case never
    /// Checkpoint every block but the last whose cache would exceed `bytes`
    /// (`SynthesisCheckpointing.cacheBytes`), i.e. the highest resolutions, the more the larger the batch.
    case above(bytes: Int)
    /// Checkpoint every block, the last included (the least memory, the slowest; for tests).
    case everyBlock

    /// 64 MB: at batch 1 this checkpoints the 256² and 512² blocks of a 1024² generator and
    /// nothing of a 256² or smaller one (whose 128² block reaches it at batch 4). Below that the
    /// memory saved per recomputed FLOP halves with every resolution step down (each block of a
    /// 1024² generator from 64² up costs about the same ~29 GFLOP).
    public static let defaultThresholdBytes = 64 << 20

    /// Bytes of one block's tape cache at batch `n`: the outputs of its convolution layers,
    /// ToRGB's convolution and the skip image (inputs are the previous block's outputs).
    static func cacheBytes(block: SynthesisBlock, batch n: Int) -> Int {
        let maps = (block.conv0?.conv.outChannels ?? 0) + block.conv1.conv.outChannels + 2 * block.torgb.conv.outChannels
        return 4 * n * block.resolution * block.resolution * maps
    }

    func checkpoints(block: SynthesisBlock, batch n: Int, isLast: Bool) -> Bool {
        switch self {
        case .never: return false
        case .everyBlock: return true
        case .automatic: return !isLast && Self.cacheBytes(block: block, batch: n) > Self.defaultThresholdBytes
        case .above(let bytes): return !isLast && Self.cacheBytes(block: block, batch: n) > bytes
        }
    }
}

extension StyleGAN2Generator {
    /// Bytes each block's cache takes on a tape at batch `n` (`SynthesisCheckpointing.above` compares
    /// them to its threshold), by block resolution.
    public func tapeCacheBytes(batch n: Int) -> [Int: Int] {
        Dictionary(uniqueKeysWithValues: synthesisNetwork.blocks.map {
            ($0.resolution, SynthesisCheckpointing.cacheBytes(block: $0, batch: n))
        })
    }

    /// Resolutions of the blocks `synthesisForward(…, checkpointing:)` checkpoints at batch `n`, ascending.
    public func checkpointedResolutions(batch n: Int, checkpointing: SynthesisCheckpointing = .automatic) -> [Int] {
        let blocks = synthesisNetwork.blocks
        return blocks.enumerated().filter { index, block in
            checkpointing.checkpoints(block: block, batch: n, isLast: index == blocks.count - 1)
        }.map { $0.element.resolution }
    }
}

