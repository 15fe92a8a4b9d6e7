import Foundation
import CZlib

/// Inflates a gzip (RFC 1952) byte stream with zlib; used for OpenAI's gzipped BPE merges file.
/// `path` only names the source in error messages.
func gunzip(_ data: Data, path: String) throws -> Data {
    var stream = z_stream()
    // 16 + MAX_WBITS: expect a gzip header and trailer (CRC and size are checked by zlib).
    var status = inflateInit2_(&stream, 16 + MAX_WBITS, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
    guard status == Z_OK else { throw CLIPError("\(path): zlib inflateInit2 failed (\(status))") }
    defer { inflateEnd(&stream) }
    var output = Data()
    let chunk = 1 << 18
    var buffer = [UInt8](repeating: 0, count: chunk)
    try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
        guard let base = raw.bindMemory(to: UInt8.self).baseAddress else {
            throw CLIPError("\(path): empty file, expected gzip data")
        }
        stream.next_in = UnsafeMutablePointer(mutating: base)
        stream.avail_in = uInt(raw.count)
        repeat {
            let produced: Int = buffer.withUnsafeMutableBufferPointer { out in
                stream.next_out = out.baseAddress
                stream.avail_out = uInt(chunk)
                status = inflate(&stream, Z_NO_FLUSH)
                return chunk - Int(stream.avail_out)
            }
            guard status == Z_OK || status == Z_STREAM_END else {
                throw CLIPError("\(path): corrupt gzip data (zlib status \(status))")
            }
            output.append(buffer, count: produced)
            if status == Z_OK && produced == 0 && stream.avail_in == 0 {
                throw CLIPError("\(path): truncated gzip data")
            }
        } while status != Z_STREAM_END
    }
    return output
}
