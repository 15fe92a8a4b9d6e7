import CZlib
import LatentTensor
import Foundation

/// Thin wrappers over zlib for zip members: raw deflate streams (window bits −15, no zlib
/// header, as zip stores them) and CRC-32. zlib counts bytes in 32-bit `uInt`, so large buffers
/// are fed in chunks.
enum Zlib {
    private static let chunk = 1 << 30

    /// The zlib library version in use (deflate output is only byte-stable within one version).
    static var version: String { String(cString: zlibVersion()) }

    /// CRC-32 (ISO-HDLC, the zip/PNG checksum) of `bytes`.
    static func crc32(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc = CZlib.crc32(0, nil, 0)
        var offset = 0
        while offset < bytes.count {
            let n = min(chunk, bytes.count - offset)
            crc = CZlib.crc32(crc, bytes.baseAddress!.advanced(by: offset).assumingMemoryBound(to: Bytef.self), uInt(n))
            offset += n
        }
        return UInt32(crc)
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 { bytes.withUnsafeBytes { crc32($0) } }

    enum Failure: Error { case message(String) }

    /// Inflates a raw deflate stream that must decode to exactly `expectedSize` bytes.
    static func inflateRaw(_ input: UnsafeRawBufferPointer, expectedSize: Int) throws -> [UInt8] {
        var stream = z_stream()
        guard inflateInit2_(&stream, -15, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw Failure.message("zlib inflateInit2 failed")
        }
        defer { inflateEnd(&stream) }
        // One spare byte lets a stream that decodes to more than announced be detected.
        var out = [UInt8](repeating: 0, count: expectedSize + 1)
        var produced = 0
        var consumed = 0
        var status = Z_OK
        try out.withUnsafeMutableBytes { outBuf in
            while true {
                let inN = min(chunk, input.count - consumed)
                let outN = min(chunk, outBuf.count - produced)
                stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.advanced(by: consumed).assumingMemoryBound(to: Bytef.self))
                stream.avail_in = uInt(inN)
                stream.next_out = outBuf.baseAddress!.advanced(by: produced).assumingMemoryBound(to: Bytef.self)
                stream.avail_out = uInt(outN)
                status = inflate(&stream, Z_NO_FLUSH)
                consumed += inN - Int(stream.avail_in)
                produced += outN - Int(stream.avail_out)
                if status == Z_STREAM_END || produced > expectedSize { break }
                if status == Z_BUF_ERROR { throw Failure.message("deflate stream is truncated") }
                guard status == Z_OK else {
                    let msg = stream.msg.map { String(cString: $0) } ?? "zlib status \(status)"
                    throw Failure.message("corrupt deflate stream (\(msg))")
                }
            }
        }
        guard produced == expectedSize else {
            throw Failure.message("deflate stream decodes to \(produced > expectedSize ? "more than" : "only") \(produced > expectedSize ? expectedSize : produced) bytes, the directory says \(expectedSize)")
        }
        out.removeLast()
        return out
    }

    /// The first `count` bytes a raw deflate stream decodes to (fewer when it ends sooner),
    /// inflating no further: a member's header can be read before its claimed size is trusted.
    static func inflateRawPrefix(_ input: UnsafeRawBufferPointer, count: Int) throws -> [UInt8] {
        guard count > 0 else { return [] }
        var stream = z_stream()
        guard inflateInit2_(&stream, -15, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw Failure.message("zlib inflateInit2 failed")
        }
        defer { inflateEnd(&stream) }
        var out = [UInt8](repeating: 0, count: count)
        var produced = 0
        var consumed = 0
        try out.withUnsafeMutableBytes { outBuf in
            while produced < count {
                let inN = min(chunk, input.count - consumed)
                stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.advanced(by: consumed).assumingMemoryBound(to: Bytef.self))
                stream.avail_in = uInt(inN)
                stream.next_out = outBuf.baseAddress!.advanced(by: produced).assumingMemoryBound(to: Bytef.self)
                stream.avail_out = uInt(count - produced)
                let status = inflate(&stream, Z_NO_FLUSH)
                consumed += inN - Int(stream.avail_in)
                produced += count - produced - Int(stream.avail_out)
                if status == Z_STREAM_END || status == Z_BUF_ERROR { break }   // ended, or truncated (found by the full inflate)
                guard status == Z_OK else {
                    let msg = stream.msg.map { String(cString: $0) } ?? "zlib status \(status)"
                    throw Failure.message("corrupt deflate stream (\(msg))")
                }
            }
        }
        return Array(out.prefix(produced))
    }

    /// Compresses `input` as a raw deflate stream at zlib's default level, as Python's
    /// `zipfile.ZIP_DEFLATED` (and so `numpy.savez_compressed`) does.
    static func deflateRaw(_ input: UnsafeRawBufferPointer, level: Int32 = Z_DEFAULT_COMPRESSION) throws -> [UInt8] {
        var stream = z_stream()
        guard deflateInit2_(&stream, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY, zlibVersion(),
                             Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw Failure.message("zlib deflateInit2 failed")
        }
        defer { deflateEnd(&stream) }
        var out = [UInt8]()
        out.reserveCapacity(input.count / 2 + 64)
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var consumed = 0
        while true {
            let inN = min(chunk, input.count - consumed)
            let last = consumed + inN == input.count
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.advanced(by: consumed).assumingMemoryBound(to: Bytef.self))
            stream.avail_in = uInt(inN)
            var status = Z_OK
            repeat {
                status = buffer.withUnsafeMutableBytes { b -> Int32 in
                    stream.next_out = b.baseAddress!.assumingMemoryBound(to: Bytef.self)
                    stream.avail_out = uInt(b.count)
                    let s = deflate(&stream, last ? Z_FINISH : Z_NO_FLUSH)
                    out.append(contentsOf: b[0 ..< (b.count - Int(stream.avail_out))])
                    return s
                }
                guard status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR else {
                    throw Failure.message("zlib deflate failed (\(status))")
                }
            } while stream.avail_out == 0 || (last && status != Z_STREAM_END)
            consumed += inN
            if last { break }
        }
        return out
    }
}

/// Inflates a gzip (RFC 1952) file's bytes, e.g. OpenAI's `bpe_simple_vocab_16e6.txt.gz`; zlib
/// checks the header, the CRC-32 and the length in the trailer. `path` names the source in errors.
/// - Parameter maxBytes: the most bytes the data may inflate to (a gzip bomb stops there).
/// - Throws: `FormatError` for empty, corrupt, truncated or oversized data.
public func gunzip(_ data: Data, path: String, maxBytes: Int = InputFileLimit.text) throws -> Data {
    var stream = z_stream()
    // 16 + MAX_WBITS: expect a gzip header and trailer.
    var status = inflateInit2_(&stream, 16 + MAX_WBITS, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
    guard status == Z_OK else { throw FormatError(path, "zlib inflateInit2 failed (\(status))") }
    defer { inflateEnd(&stream) }
    guard !data.isEmpty else { throw FormatError(path, "empty file, expected gzip data") }
    var output = Data()
    let chunk = 1 << 18
    var buffer = [UInt8](repeating: 0, count: chunk)
    try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
        var consumed = 0
        repeat {
            let inN = min(1 << 30, raw.count - consumed)
            stream.next_in = UnsafeMutablePointer(mutating: raw.baseAddress!.advanced(by: consumed).assumingMemoryBound(to: Bytef.self))
            stream.avail_in = uInt(inN)
            let produced: Int = buffer.withUnsafeMutableBufferPointer { out in
                stream.next_out = out.baseAddress
                stream.avail_out = uInt(chunk)
                status = inflate(&stream, Z_NO_FLUSH)
                return chunk - Int(stream.avail_out)
            }
            consumed += inN - Int(stream.avail_in)
            if status == Z_BUF_ERROR || (status == Z_OK && produced == 0 && consumed == raw.count) {
                throw FormatError(path, "truncated gzip data")
            }
            guard status == Z_OK || status == Z_STREAM_END else {
                let msg = stream.msg.map { String(cString: $0) } ?? "zlib status \(status)"
                throw FormatError(path, "corrupt gzip data (\(msg))")
            }
            guard output.count + produced <= maxBytes else {
                throw FormatError(path, "gzip data inflates to more than \(maxBytes) bytes")
            }
            output.append(buffer, count: produced)
        } while status != Z_STREAM_END
    }
    return output
}
