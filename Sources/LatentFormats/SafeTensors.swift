import Foundation
import LatentTensor

/// Errors from reading or writing serialized files; each names the file and the reason.
public struct FormatError: Error, CustomStringConvertible, Equatable {
    public var path: String
    public var reason: String
    public init(_ path: String, _ reason: String) { self.path = path; self.reason = reason }
    public var description: String { "\(path): \(reason)" }
}

/// One tensor entry of a safetensors header.
public struct SafeTensorInfo: Sendable, Equatable {
    /// The dtype as spelled in the header, e.g. `"F32"`.
    public let dtype: String
    /// Sizes of each dimension, outermost first (`[]` for a scalar).
    public let shape: [Int]
    /// Byte range inside the data section (after the 8-byte length and the JSON header).
    public let dataOffsets: Range<Int>

    /// The parsed dtype (always valid: the reader refuses unknown ones).
    public var dataType: DType { DType(rawValue: dtype)! }
    /// Number of elements (1 for a scalar).
    public var elementCount: Int { shape.reduce(1, *) }
}

/// A safetensors file (https://github.com/huggingface/safetensors): 8-byte little-endian header
/// length, a JSON header `{name: {dtype, shape, data_offsets}, "__metadata__": {str: str}}`, then
/// the raw little-endian, C-ordered tensor bytes.
///
/// Validation follows the reference Rust crate (`SafeTensors::read_metadata` / `Metadata::validate`):
/// header ≤ 100 000 000 bytes and inside the file, valid UTF-8 JSON object, known dtypes, every
/// tensor's byte count equal to shape × element size, offsets contiguous from 0 in offset order
/// (no gap, no overlap) and ending exactly at the end of the file. Beyond the crate, duplicate
/// JSON keys are refused (the crate silently keeps the last), since either reading could be wrong.
///
/// The bytes are memory-mapped, so opening a large checkpoint costs no copy; a tensor is converted
/// to float32 only when asked for.
public final class SafeTensorsFile: @unchecked Sendable {
    /// The file path, or the name given to an in-memory buffer; used in every error message.
    public let path: String
    public let metadata: [String: String]
    public let entries: [String: SafeTensorInfo]
    /// Tensor names in file order of their data.
    public let names: [String]
    /// Length of the JSON header in bytes (including any padding).
    public let headerByteCount: Int
    private let bytes: Data
    private let dataStart: Int

    /// The header limit of the reference implementation (`MAX_HEADER_SIZE`).
    public static let maxHeaderSize = 100_000_000

    /// Opens and validates `path` (memory-mapped).
    public convenience init(path: String) throws {
        try self.init(data: try readFormatFile(path, maxBytes: InputFileLimit.checkpoint), name: path)
    }

    /// Parses and validates an in-memory safetensors buffer; `name` stands for the path in errors.
    public init(data: Data, name: String = "<memory>") throws {
        self.path = name
        // A slice of another Data keeps its parent's indices; rebase so offsets start at 0.
        let data = data.startIndex == 0 ? data : Data(data)
        guard !data.isEmpty else { throw FormatError(name, "file is empty") }
        guard data.count >= 8 else {
            throw FormatError(name, "not a safetensors file: \(data.count) bytes, shorter than the 8-byte header length")
        }
        let headerLen64 = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard headerLen64 <= UInt64(SafeTensorsFile.maxHeaderSize) else {
            throw FormatError(name, "header length \(headerLen64) exceeds the safetensors limit of \(SafeTensorsFile.maxHeaderSize) bytes (not a safetensors file?)")
        }
        let headerLen = Int(headerLen64)
        guard 8 + headerLen <= data.count else {
            throw FormatError(name, "header length \(headerLen) runs past the end of the \(data.count)-byte file (truncated?)")
        }
        let json: JSONValue
        do {
            json = try data.withUnsafeBytes { raw in
                try JSONParser.parse(UnsafeRawBufferPointer(rebasing: raw[8 ..< 8 + headerLen]))
            }
        } catch let e as JSONParseError {
            throw FormatError(name, "malformed header JSON: \(e.message) at header byte \(e.offset)")
        }
        guard case .object(let members) = json else {
            throw FormatError(name, "header is not a JSON object (found \(json.typeName))")
        }

        var meta: [String: String] = [:]
        var entries: [String: SafeTensorInfo] = [:]
        for (key, value) in members {
            if key == "__metadata__" {
                guard case .object(let m) = value else {
                    throw FormatError(name, "__metadata__ is \(value.typeName), not an object")
                }
                for (k, v) in m {
                    guard case .string(let s) = v else {
                        throw FormatError(name, "__metadata__ value for '\(k)' is \(v.typeName), not a string")
                    }
                    meta[k] = s
                }
                continue
            }
            entries[key] = try SafeTensorsFile.parseEntry(key, value, file: name)
        }

        // The crate sorts entries by (start, end) and requires each to start where the previous ended.
        let ordered = entries.sorted {
            ($0.value.dataOffsets.lowerBound, $0.value.dataOffsets.upperBound, $0.key)
                < ($1.value.dataOffsets.lowerBound, $1.value.dataOffsets.upperBound, $1.key)
        }
        var end = 0
        var previous: String?
        for (tname, info) in ordered {
            let r = info.dataOffsets
            if r.lowerBound < end {
                throw FormatError(name, "tensor '\(tname)' (data_offsets [\(r.lowerBound), \(r.upperBound)]) overlaps tensor '\(previous ?? "")', which ends at \(end)")
            }
            if r.lowerBound > end {
                let after = previous.map { "after tensor '\($0)' " } ?? "at the start of the data section "
                throw FormatError(name, "gap of \(r.lowerBound - end) bytes \(after)before tensor '\(tname)' (data_offsets [\(r.lowerBound), \(r.upperBound)]); safetensors data must be contiguous")
            }
            end = r.upperBound
            previous = tname
        }
        let dataSize = data.count - 8 - headerLen
        if end > dataSize {
            throw FormatError(name, "truncated: the tensors need \(end) bytes of data but the file holds \(dataSize) after the header")
        }
        if end < dataSize {
            throw FormatError(name, "\(dataSize - end) bytes after the last tensor are not covered by any tensor (the data section must be covered exactly)")
        }

        self.metadata = meta
        self.entries = entries
        self.names = ordered.map(\.key)
        self.headerByteCount = headerLen
        self.bytes = data
        self.dataStart = 8 + headerLen
    }

    private static func parseEntry(_ tname: String, _ value: JSONValue, file: String) throws -> SafeTensorInfo {
        func bad(_ why: String) -> FormatError { FormatError(file, "tensor '\(tname)': \(why)") }
        guard case .object(let fields) = value else { throw bad("header entry is \(value.typeName), not an object") }
        func field(_ k: String) throws -> JSONValue {
            guard let v = fields.first(where: { $0.key == k })?.value else { throw bad("header entry lacks '\(k)'") }
            return v
        }
        func naturals(_ k: String) throws -> [Int] {
            guard case .array(let items) = try field(k) else { throw bad("'\(k)' is not an array") }
            return try items.map {
                guard case .integer(let i) = $0, i >= 0 else { throw bad("'\(k)' holds \($0) (must be non-negative integers)") }
                return i
            }
        }
        guard case .string(let dtypeName) = try field("dtype") else { throw bad("'dtype' is not a string") }
        guard let dtype = DType(rawValue: dtypeName) else { throw bad("unknown dtype '\(dtypeName)'") }
        guard let size = dtype.elementSize else {
            throw bad("dtype \(dtypeName) packs elements below one byte, which this reader does not support")
        }
        let shape = try naturals("shape")
        let offs = try naturals("data_offsets")
        guard offs.count == 2 else { throw bad("data_offsets has \(offs.count) values, expected 2") }
        guard offs[0] <= offs[1] else { throw bad("data_offsets [\(offs[0]), \(offs[1])] end before they start") }
        var n = 1
        for d in shape {
            let (p, o) = n.multipliedReportingOverflow(by: d)
            guard !o else { throw bad("shape \(shape) overflows the element count") }
            n = p
        }
        let (nbytes, o) = n.multipliedReportingOverflow(by: size)
        guard !o else { throw bad("shape \(shape) overflows the byte count") }
        guard nbytes == offs[1] - offs[0] else {
            throw bad("shape \(shape) of \(dtypeName) needs \(nbytes) bytes but data_offsets [\(offs[0]), \(offs[1])] span \(offs[1] - offs[0])")
        }
        return SafeTensorInfo(dtype: dtypeName, shape: shape, dataOffsets: offs[0] ..< offs[1])
    }

    /// Bytes per element of a safetensors dtype name, or nil when unknown or sub-byte.
    public static func elementSize(_ dtype: String) -> Int? {
        DType(rawValue: dtype)?.elementSize
    }

    public func contains(_ name: String) -> Bool { entries[name] != nil }

    /// The header entry for `name`, or a `FormatError` naming the missing tensor.
    public func info(_ name: String) throws -> SafeTensorInfo {
        guard let e = entries[name] else { throw FormatError(path, "no tensor named '\(name)'") }
        return e
    }

    /// The raw little-endian bytes of a tensor (a copy).
    public func rawBytes(_ name: String) throws -> Data {
        let e = try info(name)
        return bytes.subdata(in: (dataStart + e.dataOffsets.lowerBound) ..< (dataStart + e.dataOffsets.upperBound))
    }

    private func withBytes<R>(of e: SafeTensorInfo, _ body: (UnsafeRawPointer) -> R) -> R {
        bytes.withUnsafeBytes { raw in body(raw.baseAddress! + dataStart + e.dataOffsets.lowerBound) }
    }

    /// The named tensor converted to float32. F16, BF16, F8_E4M3/F8_E5M2 and integers up to 2^24
    /// convert exactly; F64 and larger integers round to nearest. Complex, sub-byte and the FNUZ /
    /// E8M0 float8 variants throw.
    public func tensor(_ name: String) throws -> Tensor {
        let e = try info(name)
        let dt = e.dataType
        guard dt.convertsToFloat else { throw FormatError(path, "tensor '\(name)' has dtype \(e.dtype), which cannot be converted to float32") }
        let n = e.elementCount
        let out = [Float](unsafeUninitializedCapacity: n) { buf, initialized in
            withBytes(of: e) { base in
                convertToFloat(dt, base, buf.baseAddress!, n)
            }
            initialized = n
        }
        return Tensor(shape: e.shape, data: out)
    }

    /// The named integer or boolean tensor as exact `Int` values, in C order.
    public func integers(_ name: String) throws -> (shape: [Int], values: [Int]) {
        let e = try info(name)
        let dt = e.dataType
        guard dt.isInteger else { throw FormatError(path, "tensor '\(name)' has dtype \(e.dtype), not an integer type") }
        let n = e.elementCount
        var values = [Int](repeating: 0, count: n)
        var tooLarge = false
        withBytes(of: e) { p in
            for i in 0 ..< n {
                switch dt {
                case .bool, .u8: values[i] = Int(p.load(fromByteOffset: i, as: UInt8.self))
                case .i8: values[i] = Int(p.load(fromByteOffset: i, as: Int8.self))
                case .i16: values[i] = Int(Int16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)))
                case .u16: values[i] = Int(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                case .i32: values[i] = Int(Int32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)))
                case .u32: values[i] = Int(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                case .i64: values[i] = Int(Int64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)))
                case .u64:
                    let v = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))
                    if v > UInt64(Int.max) { tooLarge = true } else { values[i] = Int(v) }
                default: break
                }
            }
        }
        if tooLarge { throw FormatError(path, "tensor '\(name)' holds a U64 value larger than Int.max") }
        return (e.shape, values)
    }

    /// Every float-convertible tensor, converted to float32.
    public func allTensors() throws -> [String: Tensor] {
        var d: [String: Tensor] = [:]
        for n in names { d[n] = try tensor(n) }
        return d
    }
}

/// float32 value of every float16 bit pattern (256 KiB, built on first use; exact).
let halfToFloatTable: [Float] = (0 ... 0xFFFF).map { Float(Float16(bitPattern: UInt16($0))) }

/// Converts `n` little-endian elements of `dt` at `src` to float32 at `dst`.
func convertToFloat(_ dt: DType, _ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
    switch dt {
    case .f32:
        #if _endian(little)
        memcpy(dst, src, 4 * n)
        #else
        for i in 0 ..< n { dst[i] = Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
        #endif
    case .f16:
        // A table lookup: Swift's Float16 → Float is a software routine on x86 without F16C.
        halfToFloatTable.withUnsafeBufferPointer { table in
            for i in 0 ..< n { dst[i] = table[Int(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))] }
        }
    case .bf16: for i in 0 ..< n { dst[i] = bf16ToFloat(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
    case .f64: for i in 0 ..< n { dst[i] = Float(Double(bitPattern: UInt64(littleEndian: src.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))) }
    case .f8E4M3: for i in 0 ..< n { dst[i] = f8E4M3ToFloat(src.load(fromByteOffset: i, as: UInt8.self)) }
    case .f8E5M2: for i in 0 ..< n { dst[i] = f8E5M2ToFloat(src.load(fromByteOffset: i, as: UInt8.self)) }
    case .bool, .u8: for i in 0 ..< n { dst[i] = Float(src.load(fromByteOffset: i, as: UInt8.self)) }
    case .i8: for i in 0 ..< n { dst[i] = Float(src.load(fromByteOffset: i, as: Int8.self)) }
    case .i16: for i in 0 ..< n { dst[i] = Float(Int16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self))) }
    case .u16: for i in 0 ..< n { dst[i] = Float(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
    case .i32: for i in 0 ..< n { dst[i] = Float(Int32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self))) }
    case .u32: for i in 0 ..< n { dst[i] = Float(UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
    case .i64: for i in 0 ..< n { dst[i] = Float(Int64(littleEndian: src.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))) }
    case .u64: for i in 0 ..< n { dst[i] = Float(UInt64(littleEndian: src.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))) }
    default: break
    }
}

/// The regular file at `path`, memory-mapped, as `readInputFile` checks it (no FIFO, device or
/// folder; at most `maxBytes`), its errors as `FormatError`.
func readFormatFile(_ path: String, maxBytes: Int) throws -> Data {
    do { return try readInputFile(path: path, maxBytes: maxBytes, mapped: true) }
    catch let e as FileAccessError { throw FormatError(e.path, e.reason) }
}
