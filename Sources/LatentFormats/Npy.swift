import Foundation
import LatentTensor

/// An n-dimensional numpy array as stored in `.npy` files: shape, element type and the element
/// bytes, always little-endian in C (row-major) order (big-endian and Fortran-ordered files are
/// converted on reading).
public struct NpyArray: Sendable, Equatable {
    /// Sizes of each dimension, outermost first (`[]` for a 0-d array).
    public let shape: [Int]
    public let dtype: DType
    /// `count × dtype.itemSize` little-endian bytes in C order.
    public let bytes: [UInt8]

    /// Number of elements (1 for a 0-d array).
    public var count: Int { shape.reduce(1, *) }

    static let errorPath = "NpyArray"

    /// `.npy` files here hold the types with a numpy descr (`DType.npyTypes`).
    static func requireNpyType(_ dtype: DType) throws {
        guard dtype.npyDescr != nil else { throw FormatError(errorPath, "\(dtype.name) cannot be stored in an .npy file") }
    }

    /// An array over raw little-endian C-order bytes; the byte count must match the shape.
    public init(shape: [Int], dtype: DType, bytes: [UInt8]) throws {
        guard shape.allSatisfy({ $0 >= 0 }) else { throw FormatError(Self.errorPath, "negative dimension in shape \(shape)") }
        try Self.requireNpyType(dtype)
        guard shape.reduce(1, *) * dtype.itemSize == bytes.count else {
            throw FormatError(Self.errorPath, "shape \(shape) of \(dtype.name) needs \(shape.reduce(1, *) * dtype.itemSize) bytes, got \(bytes.count)")
        }
        self.shape = shape; self.dtype = dtype; self.bytes = bytes
    }

    /// A floating-point array from float32 values, stored as `dtype` (float32 by default; float16
    /// rounds to nearest even, float64 is exact).
    public init(shape: [Int], floats: [Float], dtype: DType = .f32) throws {
        try Self.requireNpyType(dtype)
        guard dtype.isFloatingPoint else { throw FormatError(Self.errorPath, "floats cannot be stored as \(dtype.name); use init(shape:integers:dtype:)") }
        guard shape.allSatisfy({ $0 >= 0 }), shape.reduce(1, *) == floats.count else {
            throw FormatError(Self.errorPath, "shape \(shape) does not hold \(floats.count) elements")
        }
        try self.init(shape: shape, dtype: dtype, bytes: encodeFloats(floats, as: dtype))
    }

    /// A float64 array (exact).
    public init(shape: [Int], doubles: [Double]) throws {
        guard shape.allSatisfy({ $0 >= 0 }), shape.reduce(1, *) == doubles.count else {
            throw FormatError(Self.errorPath, "shape \(shape) does not hold \(doubles.count) elements")
        }
        var b = [UInt8](repeating: 0, count: 8 * doubles.count)
        b.withUnsafeMutableBytes { out in
            for (i, v) in doubles.enumerated() { out.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: 8 * i, as: UInt64.self) }
        }
        try self.init(shape: shape, dtype: .f64, bytes: b)
    }

    /// An integer or boolean array (`int64` by default); every value must fit `dtype`.
    public init(shape: [Int], integers: [Int], dtype: DType = .i64) throws {
        try Self.requireNpyType(dtype)
        guard !dtype.isFloatingPoint else { throw FormatError(Self.errorPath, "integers cannot be stored as \(dtype.name); use init(shape:floats:dtype:)") }
        guard shape.allSatisfy({ $0 >= 0 }), shape.reduce(1, *) == integers.count else {
            throw FormatError(Self.errorPath, "shape \(shape) does not hold \(integers.count) elements")
        }
        let range: ClosedRange<Int>
        switch dtype {
        case .bool: range = 0 ... 1
        case .u8: range = 0 ... 255
        case .i8: range = -128 ... 127
        case .i16: range = Int(Int16.min) ... Int(Int16.max)
        case .i32: range = Int(Int32.min) ... Int(Int32.max)
        default: range = Int.min ... Int.max
        }
        if let i = integers.firstIndex(where: { !range.contains($0) }) {
            throw FormatError(Self.errorPath, "value \(integers[i]) at index \(i) does not fit in \(dtype.name)")
        }
        let size = dtype.itemSize
        var b = [UInt8](repeating: 0, count: size * integers.count)
        b.withUnsafeMutableBytes { out in
            for (i, v) in integers.enumerated() {
                switch size {
                case 1: out[i] = UInt8(truncatingIfNeeded: v)
                case 2: out.storeBytes(of: Int16(truncatingIfNeeded: v).littleEndian, toByteOffset: 2 * i, as: Int16.self)
                case 4: out.storeBytes(of: Int32(truncatingIfNeeded: v).littleEndian, toByteOffset: 4 * i, as: Int32.self)
                default: out.storeBytes(of: Int64(v).littleEndian, toByteOffset: 8 * i, as: Int64.self)
                }
            }
        }
        try self.init(shape: shape, dtype: dtype, bytes: b)
    }

    /// The tensor's values as a float32 array (or float16/float64), same shape.
    public init(_ tensor: Tensor, dtype: DType = .f32) throws {
        try self.init(shape: tensor.shape, floats: tensor.storage, dtype: dtype)
    }

    /// Every element as Double: exact for all supported types except int64 beyond 2^53.
    public func doubles() -> [Double] {
        let n = count
        var out = [Double](repeating: 0, count: n)
        bytes.withUnsafeBytes { p in
            for i in 0 ..< n {
                switch dtype {
                case .bool, .u8: out[i] = Double(p[i])
                case .i8: out[i] = Double(Int8(bitPattern: p[i]))
                case .i16: out[i] = Double(Int16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)))
                case .i32: out[i] = Double(Int32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)))
                case .i64: out[i] = Double(Int64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)))
                case .f16: out[i] = Double(halfToFloatTable[Int(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))])
                case .f32: out[i] = Double(Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))))
                case .f64: out[i] = Double(bitPattern: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))
                default: preconditionFailure("\(dtype.name) is not an npy type")   // refused by every initialiser
                }
            }
        }
        return out
    }

    /// Every element as float32 (float64 and large integers round to nearest).
    public func floats() -> [Float] {
        if dtype == .f32 {
            let n = count
            return [Float](unsafeUninitializedCapacity: n) { buf, initialized in
                bytes.withUnsafeBytes { p in
                    for i in 0 ..< n { buf[i] = Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
                }
                initialized = n
            }
        }
        if dtype == .i64 {
            // Through Double would round twice; convert directly.
            return bytes.withUnsafeBytes { p in (0 ..< count).map { Float(Int64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self))) } }
        }
        return doubles().map { Float($0) }
    }

    /// Every element as an exact Int; throws for floating-point arrays.
    public func integers() throws -> [Int] {
        guard !dtype.isFloatingPoint else { throw FormatError(Self.errorPath, "array of \(dtype.name) is not an integer array") }
        if dtype == .i64 {
            return bytes.withUnsafeBytes { p in (0 ..< count).map { Int(Int64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self))) } }
        }
        return doubles().map { Int($0) }
    }

    /// The array as a float32 `Tensor` of the same shape.
    public func toTensor() -> Tensor { Tensor(shape: shape, data: floats()) }
}

// MARK: - Reading and writing .npy

/// Reads an `.npy` file (format versions 1.0, 2.0 and 3.0; see numpy `lib/format.py`).
public func readNpy(path: String) throws -> NpyArray {
    try readNpy(data: try readFormatFile(path, maxBytes: InputFileLimit.arrays), name: path)
}

/// Parses an in-memory `.npy` file; `name` stands for the path in errors. Big-endian data is
/// byte-swapped and Fortran-ordered data transposed into C order. The data must be exactly
/// shape × itemsize bytes (numpy would ignore trailing bytes; here they signal corruption).
public func readNpy(data: Data, name: String = "<memory>") throws -> NpyArray {
    try data.withUnsafeBytes { try parseNpy($0, name: name) }
}

/// The longest npy header accepted (numpy's own reader stops at 10 000 bytes by default).
let maxNpyHeaderLength = 65536
/// Bytes that always hold a valid npy file's magic, version, length field and header.
let maxNpyHeaderBytes = 12 + maxNpyHeaderLength

/// What an npy header says: the element type, the byte order character, the header dict, where
/// the data starts and how many bytes it has.
struct NpyLayout {
    var header: NpyHeader
    var dtype: DType
    var order: Character
    var dataStart: Int
    var dataBytes: Int
    var totalBytes: Int { dataStart + dataBytes }
}

/// The total size (header and data) of the npy file whose first bytes are `head`.
func npySize(head: UnsafeRawBufferPointer, name: String) throws -> Int {
    try parseNpyLayout(head, name: name).totalBytes
}

func parseNpy(_ raw: UnsafeRawBufferPointer, name: String) throws -> NpyArray {
    func bad(_ why: String) -> FormatError { FormatError(name, why) }
    let layout = try parseNpyLayout(raw, name: name)
    let header = layout.header, dtype = layout.dtype, order = layout.order
    let size = dtype.itemSize, need = layout.dataBytes
    let have = raw.count - layout.dataStart
    guard have >= need else {
        throw bad("truncated: shape \(header.shape) of \(dtype.name) needs \(need) bytes of data but the file holds \(have)")
    }
    guard have == need else { throw bad("\(have - need) unexpected bytes after the \(need) bytes of array data") }

    var bytes = [UInt8](raw[(raw.count - need)...])
    if order == ">" && size > 1 {
        for i in stride(from: 0, to: need, by: size) { bytes[i ..< i + size].reverse() }
    }
    if header.fortranOrder && header.shape.count > 1 {
        bytes = fortranToC(bytes, shape: header.shape, itemSize: size)
    }
    return try NpyArray(shape: header.shape, dtype: dtype, bytes: bytes)
}

/// Parses the magic, version and header of an npy file; only the header bytes need be present.
func parseNpyLayout(_ raw: UnsafeRawBufferPointer, name: String) throws -> NpyLayout {
    func bad(_ why: String) -> FormatError { FormatError(name, why) }
    guard raw.count > 0 else { throw bad("file is empty") }
    let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)
    guard raw.count >= 6, Array(raw[0 ..< 6]) == magic else { throw bad("not an npy file (bad magic: expected \\x93NUMPY)") }
    guard raw.count >= 10 else { throw bad("truncated npy header (\(raw.count) bytes)") }
    let major = raw[6], minor = raw[7]
    let lenSize: Int
    switch (major, minor) {
    case (1, 0): lenSize = 2
    case (2, 0), (3, 0): lenSize = 4
    default: throw bad("unsupported npy format version \(major).\(minor) (supported: 1.0, 2.0, 3.0)")
    }
    guard raw.count >= 8 + lenSize else { throw bad("truncated npy header (\(raw.count) bytes)") }
    var headerLen = 0
    for k in 0 ..< lenSize { headerLen |= Int(raw[8 + k]) << (8 * k) }
    let headerStart = 8 + lenSize
    guard headerLen <= maxNpyHeaderLength else {
        throw bad("header length \(headerLen) exceeds the \(maxNpyHeaderLength)-byte limit (corrupt file?)")
    }
    guard headerStart + headerLen <= raw.count else {
        throw bad("header length \(headerLen) runs past the end of the \(raw.count)-byte file (truncated?)")
    }
    let headerBytes = raw[headerStart ..< headerStart + headerLen]
    // Versions 1 and 2 are latin-1, version 3 UTF-8.
    let text: String
    if major == 3 {
        guard let t = String(validating: headerBytes, as: UTF8.self) else { throw bad("npy 3.0 header is not valid UTF-8") }
        text = t
    } else {
        text = String(String.UnicodeScalarView(headerBytes.map { Unicode.Scalar($0) }))
    }
    let header: NpyHeader
    do { header = try NpyHeader(PyLiteralParser.parse(text), bad: { bad($0) }) }
    catch let e as PyLiteralParser.Failure { throw bad("malformed npy header: \(e.message)") }

    let descr = header.descr
    if descr.dropFirst().first == "O" { throw bad("array holds pickled Python objects (descr '\(descr)'), which are not supported") }
    guard descr.count >= 3, let order = descr.first, "<>|=".contains(order),
          let size = Int(descr.dropFirst(2)), let kind = descr.dropFirst().first,
          let dtype = DType.npy(kind: kind, size: size) else {
        let supported = DType.npyTypes.map { $0.npyDescr! }.joined(separator: ", ")
        throw bad("unsupported dtype descr '\(descr)' (supported: \(supported), either byte order)")
    }
    var n = 1
    for d in header.shape {
        let (p, o) = n.multipliedReportingOverflow(by: d)
        guard !o else { throw bad("shape \(header.shape) overflows") }
        n = p
    }
    let (need, o) = n.multipliedReportingOverflow(by: size)
    guard !o, need <= Int.max - headerStart - headerLen else { throw bad("shape \(header.shape) overflows") }
    return NpyLayout(header: header, dtype: dtype, order: order, dataStart: headerStart + headerLen, dataBytes: need)
}

/// Reorders column-major (Fortran) element bytes into row-major order.
func fortranToC(_ src: [UInt8], shape: [Int], itemSize: Int) -> [UInt8] {
    let n = shape.reduce(1, *)
    guard n > 0 else { return src }
    var fStrides = [Int](repeating: 1, count: shape.count)
    for d in 1 ..< shape.count { fStrides[d] = fStrides[d - 1] * shape[d - 1] }
    var out = [UInt8](repeating: 0, count: src.count)
    var index = [Int](repeating: 0, count: shape.count)
    var fOffset = 0
    for c in 0 ..< n {
        for b in 0 ..< itemSize { out[c * itemSize + b] = src[fOffset * itemSize + b] }
        // Odometer over the C index, last dimension fastest, tracking the Fortran offset.
        var d = shape.count - 1
        while d >= 0 {
            index[d] += 1
            fOffset += fStrides[d]
            if index[d] < shape[d] { break }
            fOffset -= fStrides[d] * shape[d]
            index[d] = 0
            d -= 1
        }
    }
    return out
}

/// The `.npy` encoding of `array`, byte-identical to `numpy.save` (format 1.0, C order).
public func encodeNpy(_ array: NpyArray) -> Data {
    var out = Data(NpyHeader(descr: array.dtype.npyDescr!, fortranOrder: false, shape: array.shape).encoded())
    out.append(contentsOf: array.bytes)
    return out
}

/// Writes `array` to `path` atomically as `numpy.save` would.
public func writeNpy(_ array: NpyArray, to path: String) throws {
    do { try writeAtomically(encodeNpy(array), to: path) }
    catch { throw FormatError(path, "cannot write file (\(fileErrorReason(error)))") }
}

/// Writes a tensor to `path` as a float32 `.npy`.
public func writeNpy(_ tensor: Tensor, to path: String) throws {
    try writeNpy(try NpyArray(tensor), to: path)
}
