import CZlib
import Foundation
import LatentFormats

/// A decompression bomb in `.npz` form: one member `name` whose deflate stream holds a valid
/// small npy file (`shape`, float32 zeros) followed by zeros, `inflatedBytes` in all, and whose
/// zip directory honestly claims that size and its CRC-32. A reader that trusts the directory
/// inflates all of it before finding out the array needed only the first bytes.
///
/// Built in milliseconds whatever the size: after a full flush deflate forgets its history, so
/// every 1 MiB of zeros compresses to the same bytes, which are repeated (about 1 KiB per MiB).
public func npzBomb(name: String = "w.npy", shape: [Int] = [1, 2], inflatedBytes: Int) throws -> Data {
    let npy = [UInt8](encodeNpy(try NpyArray(shape: shape, floats: [Float](repeating: 0, count: shape.reduce(1, *)))))
    precondition(inflatedBytes >= npy.count && inflatedBytes < 1 << 32)
    var stream = z_stream()
    precondition(deflateInit2_(&stream, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY, zlibVersion(),
                               Int32(MemoryLayout<z_stream>.size)) == Z_OK)
    defer { deflateEnd(&stream) }
    func deflateChunk(_ input: [UInt8], flush: Int32) -> [UInt8] {
        var input = input
        var out = [UInt8](repeating: 0, count: input.count + 65536)
        let produced: Int = input.withUnsafeMutableBytes { inBuf in
            out.withUnsafeMutableBytes { outBuf in
                stream.next_in = inBuf.baseAddress?.assumingMemoryBound(to: Bytef.self)
                stream.avail_in = uInt(inBuf.count)
                stream.next_out = outBuf.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.avail_out = uInt(outBuf.count)
                let status = deflate(&stream, flush)
                precondition(status == Z_OK || status == Z_STREAM_END, "deflate \(status)")
                precondition(stream.avail_in == 0)
                return outBuf.count - Int(stream.avail_out)
            }
        }
        return Array(out.prefix(produced))
    }
    let block = 1 << 20
    let zeros = inflatedBytes - npy.count
    var payload = deflateChunk(npy, flush: Z_FULL_FLUSH)
    let zeroBlock = deflateChunk([UInt8](repeating: 0, count: block), flush: Z_FULL_FLUSH)
    let blockCRC = crc32(0, [UInt8](repeating: 0, count: block), uInt(block))
    var crc = crc32(0, npy, uInt(npy.count))
    if zeros >= block {
        crc = crc32_combine(crc, blockCRC, block)
        payload += zeroBlock
        for _ in 1 ..< zeros / block {
            payload += zeroBlock
            crc = crc32_combine(crc, blockCRC, block)
        }
    }
    let rest = zeros % block
    payload += deflateChunk([UInt8](repeating: 0, count: rest), flush: Z_FINISH)
    crc = crc32_combine(crc, crc32(0, [UInt8](repeating: 0, count: rest), uInt(rest)), off_t(rest))

    var zip = Data()
    func le16(_ v: Int) { withUnsafeBytes(of: UInt16(v).littleEndian) { zip.append(contentsOf: $0) } }
    func le32(_ v: Int) { withUnsafeBytes(of: UInt32(truncatingIfNeeded: v).littleEndian) { zip.append(contentsOf: $0) } }
    let nameBytes = Array(name.utf8)
    le32(0x0403_4B50); le16(20); le16(0); le16(8); le16(0); le16(0x21)
    le32(Int(crc)); le32(payload.count); le32(inflatedBytes); le16(nameBytes.count); le16(0)
    zip.append(contentsOf: nameBytes)
    zip.append(contentsOf: payload)
    let cdOffset = zip.count
    le32(0x0201_4B50); le16(20); le16(20); le16(0); le16(8); le16(0); le16(0x21)
    le32(Int(crc)); le32(payload.count); le32(inflatedBytes); le16(nameBytes.count); le16(0); le16(0)
    le16(0); le16(0); le32(0); le32(0)
    zip.append(contentsOf: nameBytes)
    let cdSize = zip.count - cdOffset
    le32(0x0605_4B50); le16(0); le16(0); le16(1); le16(1); le32(cdSize); le32(cdOffset); le16(0)
    return zip
}
