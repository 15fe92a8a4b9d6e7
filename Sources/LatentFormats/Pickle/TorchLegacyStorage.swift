import Foundation

/// A torch storage: `count` little-endian elements of `dtype`, kept as a slice of the file's
/// bytes and converted only when a tensor is materialised.
public final class TorchStorage: @unchecked Sendable {
    public let dtype: DType
    public let count: Int
    /// `count * dtype.itemSize` raw little-endian bytes.
    public let raw: Data

    /// A storage over `raw`, which must hold exactly `count` elements of `dtype`.
    public init(dtype: DType, count: Int, raw: Data) throws {
        guard dtype.torchStorageName != nil else { throw PickleError("\(dtype.name) is not a torch storage type") }
        guard count >= 0, raw.count == count * dtype.itemSize else {
            throw PickleError("a \(count)-element \(dtype.name) storage needs \(count * dtype.itemSize) bytes, got \(raw.count)")
        }
        self.dtype = dtype
        self.count = count
        self.raw = raw
    }

    /// Elements `start ..< start + n` converted to Float; float32 data is copied byte for byte.
    func floats(from start: Int, count n: Int) -> [Float] {
        guard dtype == .f32 else { return floats(n) { start + $0 } }
        return [Float](unsafeUninitializedCapacity: n) { out, initialized in
            raw.withUnsafeBytes { (b: UnsafeRawBufferPointer) in
                let src = b.baseAddress! + 4 * start
                if n > 0 { memcpy(out.baseAddress!, src, 4 * n) }
                #if _endian(big)
                for i in 0..<n { out[i] = Float(bitPattern: UInt32(littleEndian: out[i].bitPattern)) }
                #endif
            }
            initialized = n
        }
    }

    /// Elements at storage indices `index(0) ..< index(n-1)` converted to Float (integers exactly
    /// up to 2^24, like any float32 conversion).
    func floats(_ n: Int, _ index: (Int) -> Int) -> [Float] {
        [Float](unsafeUninitializedCapacity: n) { out, initialized in
            raw.withUnsafeBytes { (b: UnsafeRawBufferPointer) in
                let p = b.baseAddress!
                func fill(_ get: (Int) -> Float) { for i in 0..<n { out[i] = get(index(i)) } }
                switch dtype {
                case .f32: fill { Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
                case .f16: fill { Float(Float16(bitPattern: UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self)))) }
                case .bf16: fill { Float(bitPattern: UInt32(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self))) << 16) }
                case .f64: fill { Float(Double(bitPattern: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self)))) }
                case .i64: fill { Float(Int64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self))) }
                case .i32: fill { Float(Int32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self))) }
                case .i16: fill { Float(Int16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * $0, as: Int16.self))) }
                case .i8: fill { Float(p.load(fromByteOffset: $0, as: Int8.self)) }
                case .u8, .bool: fill { Float(p.load(fromByteOffset: $0, as: UInt8.self)) }
                default: preconditionFailure("\(dtype.name) is not a torch storage type")   // refused by init
                }
            }
            initialized = n
        }
    }

    /// Elements as Int (exact for integer storages; floating-point values are truncated).
    func integers(_ n: Int, _ index: (Int) -> Int) -> [Int] {
        if dtype.isFloatingPoint {
            return floats(n, index).map { Int(exactly: $0.rounded(.towardZero)) ?? 0 }
        }
        return raw.withUnsafeBytes { (b: UnsafeRawBufferPointer) -> [Int] in
            let p = b.baseAddress!
            return (0..<n).map { i in
                let j = index(i)
                switch dtype {
                case .i64: return Int(Int64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * j, as: Int64.self)))
                case .i32: return Int(Int32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * j, as: Int32.self)))
                case .i16: return Int(Int16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * j, as: Int16.self)))
                case .i8: return Int(p.load(fromByteOffset: j, as: Int8.self))
                default: return Int(p.load(fromByteOffset: j, as: UInt8.self))
                }
            }
        }
    }
}

extension TorchStorage {
    /// The magic number that opens legacy `torch.save` data, 0x1950a86a20f9469cfc6c, as the
    /// little-endian bytes of its `LONG1` opcode.
    static let legacyMagic: [UInt8] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]

    /// Decodes `torch.storage._load_from_bytes(b)`: the legacy (non-zip) `torch.save` format of
    /// one storage, following `torch/serialization.py` `_legacy_load`.
    ///
    /// Layout: four pickles (magic number, protocol version 1001, sys-info dict, the storage as a
    /// persistent id `('storage', torch.FloatStorage, key, location, numel, view_metadata)`), a
    /// pickled list of storage keys, then per key an int64 little-endian element count and the raw
    /// little-endian elements. `view_metadata` `(view_key, offset, size)` selects a sub-range.
    ///
    /// - Throws: `PickleError` naming what is wrong (the caller adds the file and offset).
    public static func loadLegacy(_ bytes: Data, source: String) throws -> TorchStorage {
        do {
            return try decodeLegacy(bytes, source: source)
        } catch let e as FormatError {
            throw PickleError("legacy torch.save bytes: \(e.reason)")
        }
    }

    private static func decodeLegacy(_ bytes: Data, source: String) throws -> TorchStorage {
        let object = try decodeLegacyContainer(bytes, source: source, objectAllowList: .torchLegacyStorage, maxDepth: 16, reducer: nil)
        guard case .storage(let s) = object else {
            throw PickleError("legacy torch.save bytes hold \(object), not a storage")
        }
        return s
    }
}
