import Foundation
import LatentTensor

/// One member of a zip archive, as its central directory describes it.
public struct ZipEntry: Sendable, Equatable {
    public let name: String
    /// 0 = stored, 8 = deflated (the only two methods read here).
    public let method: UInt16
    public let crc32: UInt32
    public let compressedSize: Int
    public let uncompressedSize: Int
    let flags: UInt16
    let localHeaderOffset: Int
}

/// A zip archive read from memory (PKWARE APPNOTE 6.3): end-of-central-directory record, the
/// zip64 end record when a locator precedes it, central directory entries with their zip64 extra
/// fields, and stored or deflated members checked against their CRC-32. Encrypted and multi-disk
/// archives are refused. This is what `numpy.savez`/`savez_compressed` (Python's `zipfile`, with
/// zip64 local headers forced) and `torch.save` write.
public struct ZipArchive: @unchecked Sendable {
    /// The file path or buffer name used in errors.
    public let path: String
    /// Members in central-directory order.
    public let entries: [ZipEntry]
    private let bytes: Data

    public init(path: String) throws {
        try self.init(data: try readFormatFile(path, maxBytes: InputFileLimit.arrays), name: path)
    }

    public init(data: Data, name: String = "<memory>") throws {
        path = name
        let data = data.startIndex == 0 ? data : Data(data)
        bytes = data
        entries = try data.withUnsafeBytes { try ZipArchive.readDirectory(ByteReader($0), name) }
    }

    /// The most bytes one member may decompress to.
    public static let maxMemberSize = InputFileLimit.arrays

    /// The decompressed, CRC-checked contents of `entry`.
    ///
    /// A deflated member is never inflated past what is known to be right: the size the
    /// directory claims must be at most `maxMemberSize`, and when `declaredSize` is given it
    /// reads the first `headBytes` inflated bytes (a file header) and returns the size the member
    /// must have; a claim that disagrees is refused before the rest is inflated.
    public func contents(of entry: ZipEntry, headBytes: Int = 0,
                         declaredSize: (([UInt8]) throws -> Int)? = nil) throws -> [UInt8] {
        try bytes.withUnsafeBytes { raw in
            let r = ByteReader(raw)
            func bad(_ why: String) -> FormatError { FormatError(path, "zip member '\(entry.name)': \(why)") }
            guard entry.flags & 1 == 0 else { throw bad("is encrypted, which is not supported") }
            let lh = entry.localHeaderOffset
            guard lh + 30 <= r.count, r.u32(lh) == 0x0403_4B50 else { throw bad("local header missing at offset \(lh) (corrupt archive)") }
            let start = lh + 30 + Int(r.u16(lh + 26)) + Int(r.u16(lh + 28))
            guard start + entry.compressedSize <= r.count else {
                throw bad("data (\(entry.compressedSize) bytes at offset \(start)) runs past the end of the \(r.count)-byte archive (truncated?)")
            }
            let payload = UnsafeRawBufferPointer(rebasing: raw[start ..< start + entry.compressedSize])
            // Deflate cannot expand data more than ~1032:1; a larger claim is corruption or a zip bomb.
            guard entry.method != 8 || entry.uncompressedSize <= entry.compressedSize * 1032 + 64 else {
                throw bad("claims \(entry.uncompressedSize) bytes from \(entry.compressedSize) compressed bytes, impossible for deflate")
            }
            guard entry.uncompressedSize <= ZipArchive.maxMemberSize else {
                throw bad("claims \(entry.uncompressedSize) bytes, more than the \(ZipArchive.maxMemberSize)-byte limit")
            }
            if let declaredSize {
                let head: [UInt8]
                if entry.method == 8 {
                    do { head = try Zlib.inflateRawPrefix(payload, count: min(headBytes, entry.uncompressedSize)) }
                    catch Zlib.Failure.message(let m) { throw bad(m) }
                } else {
                    head = [UInt8](payload.prefix(headBytes))
                }
                let size = try declaredSize(head)
                guard size == entry.uncompressedSize else {
                    throw bad("the directory says \(entry.uncompressedSize) bytes but the member's own header describes \(size)")
                }
            }
            let out: [UInt8]
            switch entry.method {
            case 0:
                guard entry.compressedSize == entry.uncompressedSize else {
                    throw bad("stored member has compressed size \(entry.compressedSize) but uncompressed size \(entry.uncompressedSize)")
                }
                out = [UInt8](payload)
            case 8:
                do { out = try Zlib.inflateRaw(payload, expectedSize: entry.uncompressedSize) }
                catch Zlib.Failure.message(let m) { throw bad(m) }
            default:
                throw bad("compression method \(entry.method) is not supported (only stored and deflated)")
            }
            let crc = Zlib.crc32(out)
            guard crc == entry.crc32 else {
                throw bad("CRC-32 mismatch (stored \(hex(entry.crc32)), computed \(hex(crc))): the data is corrupt")
            }
            return out
        }
    }

    /// The contents of the member called `name`.
    public func contents(named name: String) throws -> [UInt8] {
        guard let e = entries.first(where: { $0.name == name }) else { throw FormatError(path, "no zip member named '\(name)'") }
        return try contents(of: e)
    }

    private static func readDirectory(_ r: ByteReader, _ path: String) throws -> [ZipEntry] {
        func bad(_ why: String) -> FormatError { FormatError(path, why) }
        guard r.count > 0 else { throw bad("file is empty") }
        guard r.count >= 22 else { throw bad("not a zip archive (\(r.count) bytes, too short for an end-of-central-directory record)") }
        // The end record sits before a comment of at most 65535 bytes: search backwards.
        var eocd = -1
        var p = r.count - 22
        while p >= max(0, r.count - 22 - 65535) {
            if r.u32(p) == 0x0605_4B50 && p + 22 + Int(r.u16(p + 20)) <= r.count { eocd = p; break }
            p -= 1
        }
        guard eocd >= 0 else { throw bad("not a zip archive (no end-of-central-directory record; truncated?)") }
        var count = Int(r.u16(eocd + 10))
        var cdSize = Int(r.u32(eocd + 12))
        var cdOffset = Int(r.u32(eocd + 16))
        guard r.u16(eocd + 4) == 0, r.u16(eocd + 6) == 0, r.u16(eocd + 8) == r.u16(eocd + 10) else {
            throw bad("multi-disk zip archives are not supported")
        }
        var directoryEnd = eocd
        if eocd >= 20, r.u32(eocd - 20) == 0x0706_4B50 {
            let rec = Int(clamping: r.u64(eocd - 12))
            guard rec >= 0, rec + 56 <= eocd - 20, r.u32(rec) == 0x0606_4B50 else {
                throw bad("zip64 end-of-central-directory record missing or corrupt")
            }
            guard r.u32(rec + 16) == 0, r.u32(rec + 20) == 0 else { throw bad("multi-disk zip archives are not supported") }
            count = Int(clamping: r.u64(rec + 32))
            cdSize = Int(clamping: r.u64(rec + 40))
            cdOffset = Int(clamping: r.u64(rec + 48))
            directoryEnd = rec
        }
        guard cdOffset >= 0, cdSize >= 0, cdOffset <= directoryEnd, cdSize <= directoryEnd - cdOffset else {
            throw bad("central directory (\(cdSize) bytes at offset \(cdOffset)) lies outside the archive (truncated?)")
        }
        guard count <= cdSize / 46 else { throw bad("central directory claims \(count) entries in \(cdSize) bytes") }
        var entries: [ZipEntry] = []
        entries.reserveCapacity(count)
        var q = cdOffset
        let cdEnd = cdOffset + cdSize
        for i in 0 ..< count {
            guard q + 46 <= cdEnd, r.u32(q) == 0x0201_4B50 else { throw bad("central directory entry \(i) is corrupt") }
            let flags = r.u16(q + 8), method = r.u16(q + 10), crc = r.u32(q + 16)
            var csize = Int(r.u32(q + 20)), usize = Int(r.u32(q + 24))
            let nameLen = Int(r.u16(q + 28)), extraLen = Int(r.u16(q + 30)), commentLen = Int(r.u16(q + 32))
            var offset = Int(r.u32(q + 42))
            guard q + 46 + nameLen + extraLen + commentLen <= cdEnd else { throw bad("central directory entry \(i) runs past the directory") }
            let nameBytes = r.slice(q + 46, nameLen)
            let name = String(validating: nameBytes, as: UTF8.self)
                ?? String(String.UnicodeScalarView(nameBytes.map { Unicode.Scalar($0) }))
            // zip64 extra field: 8-byte values for exactly the fields saturated at 0xFFFFFFFF, in this order.
            var e = q + 46 + nameLen
            let extraEnd = e + extraLen
            while e + 4 <= extraEnd {
                let id = r.u16(e), len = Int(r.u16(e + 2))
                guard e + 4 + len <= extraEnd else { break }
                if id == 0x0001 {
                    var f = e + 4
                    func next() throws -> Int {
                        guard f + 8 <= e + 4 + len else { throw bad("zip member '\(name)': zip64 extra field too short") }
                        defer { f += 8 }
                        return Int(clamping: r.u64(f))
                    }
                    if usize == 0xFFFF_FFFF { usize = try next() }
                    if csize == 0xFFFF_FFFF { csize = try next() }
                    if offset == 0xFFFF_FFFF { offset = try next() }
                }
                e += 4 + len
            }
            guard offset >= 0, offset + 30 <= cdOffset, csize >= 0, usize >= 0 else {
                throw bad("zip member '\(name)': local header offset \(offset) is outside the archive data")
            }
            entries.append(ZipEntry(name: name, method: method, crc32: crc, compressedSize: csize,
                                    uncompressedSize: usize, flags: flags, localHeaderOffset: offset))
            q += 46 + nameLen + extraLen + commentLen
        }
        return entries
    }
}

private func hex(_ v: UInt32) -> String { "0x" + String(format: "%08x", v) }

/// Bounds-unchecked little-endian reads; callers check ranges first.
struct ByteReader {
    let raw: UnsafeRawBufferPointer
    init(_ raw: UnsafeRawBufferPointer) { self.raw = raw }
    var count: Int { raw.count }
    func u16(_ o: Int) -> UInt16 { UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: o, as: UInt16.self)) }
    func u32(_ o: Int) -> UInt32 { UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: o, as: UInt32.self)) }
    func u64(_ o: Int) -> UInt64 { UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: o, as: UInt64.self)) }
    func slice(_ o: Int, _ n: Int) -> [UInt8] { [UInt8](UnsafeRawBufferPointer(rebasing: raw[o ..< o + n])) }
}

/// Writes a zip archive in memory the way Python's `zipfile` does for `numpy.savez`: zip64 local
/// headers forced (sizes in the extra field), DOS time 1980-01-01 00:00, Unix mode 0600, a zip64
/// central entry / end record only past 2^31 − 1 bytes or 65535 members. With the same zlib the
/// bytes equal numpy's.
struct ZipWriter {
    private(set) var data = Data()
    private var central = Data()
    private var count = 0
    /// Python's `zipfile.ZIP64_LIMIT`; lowered in tests to exercise the zip64 paths on small data.
    var zip64Limit = (1 << 31) - 1
    var fileCountLimit = 0xFFFF

    mutating func add(name: String, contents: [UInt8], compressed: Bool) throws {
        let crc = Zlib.crc32(contents)
        let payload: [UInt8]
        if compressed {
            do { payload = try contents.withUnsafeBytes { try Zlib.deflateRaw($0) } }
            catch Zlib.Failure.message(let m) { throw FormatError("zip writer", "member '\(name)': \(m)") }
        } else {
            payload = contents
        }
        let nameBytes = Array(name.utf8)
        let flags: UInt16 = name.utf8.allSatisfy { $0 < 0x80 } ? 0 : 0x0800
        let method: UInt16 = compressed ? 8 : 0
        let offset = data.count

        data.le32(0x0403_4B50); data.le16(45); data.le16(flags); data.le16(method)
        data.le16(0); data.le16(0x21)  // time 00:00:00, date 1980-01-01
        data.le32(crc); data.le32(0xFFFF_FFFF); data.le32(0xFFFF_FFFF)
        data.le16(UInt16(nameBytes.count)); data.le16(20)
        data.append(contentsOf: nameBytes)
        data.le16(1); data.le16(16); data.le64(UInt64(contents.count)); data.le64(UInt64(payload.count))
        data.append(contentsOf: payload)

        var extra = [UInt64]()
        var usize = UInt32(truncatingIfNeeded: contents.count), csize = UInt32(truncatingIfNeeded: payload.count)
        var off32 = UInt32(truncatingIfNeeded: offset)
        if contents.count > zip64Limit || payload.count > zip64Limit {
            extra += [UInt64(contents.count), UInt64(payload.count)]
            usize = 0xFFFF_FFFF; csize = 0xFFFF_FFFF
        }
        if offset > zip64Limit { extra.append(UInt64(offset)); off32 = 0xFFFF_FFFF }
        central.le32(0x0201_4B50); central.le16(0x032D); central.le16(45); central.le16(flags); central.le16(method)
        central.le16(0); central.le16(0x21); central.le32(crc); central.le32(csize); central.le32(usize)
        central.le16(UInt16(nameBytes.count)); central.le16(UInt16(extra.isEmpty ? 0 : 4 + 8 * extra.count)); central.le16(0)
        central.le16(0); central.le16(0); central.le32(0o600 << 16); central.le32(off32)
        central.append(contentsOf: nameBytes)
        if !extra.isEmpty {
            central.le16(1); central.le16(UInt16(8 * extra.count))
            for v in extra { central.le64(v) }
        }
        count += 1
    }

    /// The finished archive.
    func finished() -> Data {
        var out = data
        let cdOffset = out.count, cdSize = central.count
        out.append(central)
        if count >= fileCountLimit || cdOffset > zip64Limit || cdSize > zip64Limit {
            let rec = out.count
            out.le32(0x0606_4B50); out.le64(44); out.le16(45); out.le16(45); out.le32(0); out.le32(0)
            out.le64(UInt64(count)); out.le64(UInt64(count)); out.le64(UInt64(cdSize)); out.le64(UInt64(cdOffset))
            out.le32(0x0706_4B50); out.le32(0); out.le64(UInt64(rec)); out.le32(1)
        }
        out.le32(0x0605_4B50); out.le16(0); out.le16(0)
        out.le16(UInt16(min(count, 0xFFFF))); out.le16(UInt16(min(count, 0xFFFF)))
        out.le32(UInt32(min(cdSize, 0xFFFF_FFFF))); out.le32(UInt32(min(cdOffset, 0xFFFF_FFFF))); out.le16(0)
        return out
    }
}

extension Data {
    mutating func le16(_ v: UInt16) { Swift.withUnsafeBytes(of: v.littleEndian) { append(contentsOf: $0) } }
    mutating func le32(_ v: UInt32) { Swift.withUnsafeBytes(of: v.littleEndian) { append(contentsOf: $0) } }
    mutating func le64(_ v: UInt64) { Swift.withUnsafeBytes(of: v.littleEndian) { append(contentsOf: $0) } }
}
