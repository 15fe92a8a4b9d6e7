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
/// start of the backward either way) while costing the most recomputation: `.above` and
/// `.budget` never pick it. Every cache, checkpointed or not, is released block by block as the
/// backward goes down (see `CacheSlot`).
public enum SynthesisCheckpointing: Sendable, Hashable {
    /// `.budget(bytes: SynthesisCheckpointing.defaultTapeBudgetBytes)`.
    case automatic
    /// Keep every cache while the tape's caches fit in `bytes`; above it, checkpoint blocks but
    /// the last, largest cache first, until they fit.
    case budget(bytes: Int)
    /// Keep every block's cache (the fastest backward, the most memory).
    case never
    /// Checkpoint every block but the last whose cache would exceed `bytes`
    /// (`SynthesisCheckpointing.cacheBytes`), i.e. the highest resolutions, the more the larger the batch.
    case above(bytes: Int)
    /// Checkpoint every block, the last included (the least memory, the slowest; for tests).
    case everyBlock

    /// 768 MB of caches: a 1024² generator's tape at batch 1 (≈ 570 MB) fits, so its step keeps the
    /// fastest backward (its peak RSS is ≈ 1 GB anyway, under issue 16's 1.5 GB); at batch 2 the
    /// 512² and 256² blocks are recomputed (RSS 1.67 → 1.44 GB measured with both checkpointed).
    /// Checkpointing at batch 1 saves ≈ 110 MB for ≈ 19 % more step time (Bench/README.md).
    public static let defaultTapeBudgetBytes = 768 << 20

    /// Bytes of one block's tape cache at batch `n`: the outputs of its convolution layers,
    /// ToRGB's convolution and the skip image (inputs are the previous block's outputs).
    static func cacheBytes(block: SynthesisBlock, batch n: Int) -> Int {
        let maps = (block.conv0?.conv.outChannels ?? 0) + block.conv1.conv.outChannels + 2 * block.torgb.conv.outChannels
        return 4 * n * block.resolution * block.resolution * maps
    }

    /// Indices of `blocks` this policy checkpoints at batch `n`.
    func checkpointed(blocks: [SynthesisBlock], batch n: Int) -> Set<Int> {
        let bytes = blocks.map { Self.cacheBytes(block: $0, batch: n) }
        let belowTop = Array(blocks.indices.dropLast())
        switch self {
        case .never: return []
        case .everyBlock: return Set(blocks.indices)
        case .above(let limit): return Set(belowTop.filter { bytes[$0] > limit })
        case .automatic: return Self.budget(bytes: Self.defaultTapeBudgetBytes).checkpointed(blocks: blocks, batch: n)
        case .budget(let budget):
            var total = bytes.reduce(0, +), chosen = Set<Int>()
            for i in belowTop.sorted(by: { bytes[$0] > bytes[$1] }) where total > budget {
                chosen.insert(i); total -= bytes[i]
            }
            return chosen
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
        let chosen = checkpointing.checkpointed(blocks: blocks, batch: n)
        return blocks.indices.filter { chosen.contains($0) }.map { blocks[$0].resolution }
    }
}

