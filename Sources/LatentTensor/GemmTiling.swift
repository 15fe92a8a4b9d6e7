/// Cache-sized work split for one GEMM phase: images are grouped (so small feature maps still give
/// GEMMs of a few hundred columns) and GEMM rows are split into blocks of whole units (a channel's
/// taps), so that each tile's scratch is about `tileFloats` and there are enough tiles for every
/// thread. Each tile runs a single-threaded GEMM plus its fold on data still in cache.
public struct GemmTiling: Sendable {
    public static let tileFloats = 1 << 19          // 2 MB of scratch per tile
    public static let minColumns = 256

    public let imagesPerGroup: Int, groups: Int, unitsPerBlock: Int, blocks: Int, batch: Int, units: Int

    public init(batch: Int, pixels: Int, units: Int, unitRows: Int, threads: Int = Parallel.threadCount,
                tileFloats: Int = GemmTiling.tileFloats, minColumns: Int = GemmTiling.minColumns) {
        let g = max(1, min(batch, (minColumns + pixels - 1) / pixels))
        let groups = (batch + g - 1) / g
        let cols = g * pixels
        let forMemory = (units * unitRows * cols + tileFloats - 1) / tileFloats
        let forThreads = threads > 1 ? (2 * threads + groups - 1) / groups : 1
        let blocks = min(units, max(1, forMemory, forThreads))
        let per = (units + blocks - 1) / blocks
        self.imagesPerGroup = g; self.groups = groups; self.unitsPerBlock = per
        self.blocks = (units + per - 1) / per; self.batch = batch; self.units = units
    }

    public var count: Int { groups * blocks }

    public func tile(_ t: Int) -> (images: Range<Int>, units: Range<Int>) {
        let gi = t / blocks, bi = t % blocks
        return (gi * imagesPerGroup ..< min(batch, (gi + 1) * imagesPerGroup),
                bi * unitsPerBlock ..< min(units, (bi + 1) * unitsPerBlock))
    }
}
