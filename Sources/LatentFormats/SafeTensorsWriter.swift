import Foundation
import LatentTensor

/// Builds a safetensors file byte-for-byte as the reference writer (`safetensors.serialize`,
/// Rust crate 0.8) lays it out: tensors ordered by descending dtype (the crate's enum order: I64,
/// F64, F32, I32, BF16, F16, …, BOOL), then by name; compact JSON header with `__metadata__` first;
/// header padded with spaces to a multiple of 8 bytes so every tensor starts 8-byte aligned.
/// The one free choice, the order of metadata keys (a hash map in the crate), is sorted here so
/// output is reproducible.
///
/// ```swift
/// var w = SafeTensorsWriter(metadata: ["config": configJSON])
/// try w.add("mapping.w_avg", wAvg)                       // F32
/// try w.add("tokens", integers: ids, shape: [8, 32], dtype: .i32)
/// try w.write(to: "out.safetensors")
/// ```
public struct SafeTensorsWriter {
    /// String metadata written under `__metadata__` (omitted when empty, as the reference does for `None`).
    public var metadata: [String: String]
    private var items: [(name: String, dtype: DType, shape: [Int], bytes: [UInt8])] = []
    private var used = Set<String>()

    /// The path used in errors raised before a destination is known.
    static let errorPath = "safetensors writer"

    public init(metadata: [String: String] = [:]) { self.metadata = metadata }

    /// Names added so far, in insertion order.
    public var names: [String] { items.map(\.name) }

    private mutating func append(_ name: String, _ dtype: DType, _ shape: [Int], _ bytes: [UInt8]) throws {
        guard name != "__metadata__" else { throw FormatError(Self.errorPath, "'__metadata__' is reserved and cannot name a tensor") }
        guard used.insert(name).inserted else { throw FormatError(Self.errorPath, "tensor '\(name)' added twice") }
        items.append((name, dtype, shape, bytes))
    }

    private static func check(_ name: String, _ dtype: DType, _ shape: [Int], count: Int) throws {
        guard dtype.isWritable else { throw FormatError(errorPath, "tensor '\(name)': writing dtype \(dtype.rawValue) is not supported") }
        guard shape.allSatisfy({ $0 >= 0 }) else { throw FormatError(errorPath, "tensor '\(name)': negative dimension in shape \(shape)") }
        guard shape.reduce(1, *) == count else {
            throw FormatError(errorPath, "tensor '\(name)': shape \(shape) needs \(shape.reduce(1, *)) elements, got \(count)")
        }
    }

    /// Adds a float tensor stored as `dtype` (default F32). F16/BF16 round to nearest even (as
    /// `Tensor.half()` / `.bfloat16()` in PyTorch); an integer `dtype` requires every value to be
    /// an integer in range (e.g. token ids held in a `Tensor`).
    public mutating func add(_ name: String, _ tensor: Tensor, dtype: DType = .f32) throws {
        try Self.check(name, dtype, tensor.shape, count: tensor.count)
        if dtype.isInteger {
            var ints = [Int](repeating: 0, count: tensor.count)
            for (i, x) in tensor.storage.enumerated() {
                guard x.isFinite, x.rounded() == x, let v = Int(exactly: x) else {
                    throw FormatError(Self.errorPath, "tensor '\(name)': value \(x) at index \(i) is not an integer, cannot store as \(dtype.rawValue)")
                }
                ints[i] = v
            }
            try add(name, integers: ints, shape: tensor.shape, dtype: dtype)
            return
        }
        try append(name, dtype, tensor.shape, encodeFloats(tensor.storage, as: dtype))
    }

    /// Adds exact integers (token ids, labels) as `dtype` (default I64; also I32, I16, I8, U8, BOOL).
    public mutating func add(_ name: String, integers: [Int], shape: [Int], dtype: DType = .i64) throws {
        try Self.check(name, dtype, shape, count: integers.count)
        guard dtype.isInteger else { throw FormatError(Self.errorPath, "tensor '\(name)': \(dtype.rawValue) is not an integer dtype") }
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
            throw FormatError(Self.errorPath, "tensor '\(name)': value \(integers[i]) at index \(i) does not fit in \(dtype.rawValue)")
        }
        let size = dtype.elementSize!
        var bytes = [UInt8](repeating: 0, count: integers.count * size)
        bytes.withUnsafeMutableBytes { out in
            for (i, v) in integers.enumerated() {
                switch size {
                case 1: out[i] = UInt8(truncatingIfNeeded: v)
                case 2: out.storeBytes(of: Int16(truncatingIfNeeded: v).littleEndian, toByteOffset: 2 * i, as: Int16.self)
                case 4: out.storeBytes(of: Int32(truncatingIfNeeded: v).littleEndian, toByteOffset: 4 * i, as: Int32.self)
                default: out.storeBytes(of: Int64(v).littleEndian, toByteOffset: 8 * i, as: Int64.self)
                }
            }
        }
        try append(name, dtype, shape, bytes)
    }

    /// Adds double-precision values stored as F64 (no rounding through float32).
    public mutating func add(_ name: String, doubles: [Double], shape: [Int]) throws {
        try Self.check(name, .f64, shape, count: doubles.count)
        var bytes = [UInt8](repeating: 0, count: doubles.count * 8)
        bytes.withUnsafeMutableBytes { out in
            for (i, v) in doubles.enumerated() { out.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: 8 * i, as: UInt64.self) }
        }
        try append(name, .f64, shape, bytes)
    }

    /// Adds already-encoded little-endian bytes (e.g. copied from another file with `rawBytes`).
    public mutating func add(_ name: String, rawBytes: Data, dtype: DType, shape: [Int]) throws {
        guard let size = dtype.elementSize else { throw FormatError(Self.errorPath, "tensor '\(name)': sub-byte dtype \(dtype.rawValue) is not supported") }
        guard shape.allSatisfy({ $0 >= 0 }), shape.reduce(1, *) * size == rawBytes.count else {
            throw FormatError(Self.errorPath, "tensor '\(name)': \(rawBytes.count) bytes do not match shape \(shape) of \(dtype.rawValue)")
        }
        try append(name, dtype, shape, [UInt8](rawBytes))
    }

    /// The complete file.
    public func encoded() -> Data {
        let order = items.indices.sorted { a, b in
            let (x, y) = (items[a], items[b])
            if x.dtype.rank != y.dtype.rank { return x.dtype.rank > y.dtype.rank }
            return x.name.utf8.lexicographicallyPrecedes(y.name.utf8)
        }
        var header: [UInt8] = [UInt8(ascii: "{")]
        var first = true
        func comma() { if !first { header.append(UInt8(ascii: ",")) }; first = false }
        if !metadata.isEmpty {
            comma()
            JSONWriter.appendString("__metadata__", to: &header)
            header += Array(":{".utf8)
            for (i, k) in metadata.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }).enumerated() {
                if i > 0 { header.append(UInt8(ascii: ",")) }
                JSONWriter.appendString(k, to: &header)
                header.append(UInt8(ascii: ":"))
                JSONWriter.appendString(metadata[k]!, to: &header)
            }
            header.append(UInt8(ascii: "}"))
        }
        var offset = 0
        for i in order {
            let it = items[i]
            comma()
            JSONWriter.appendString(it.name, to: &header)
            let shape = it.shape.map(String.init).joined(separator: ",")
            header += Array(":{\"dtype\":\"\(it.dtype.rawValue)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + it.bytes.count)]}".utf8)
            offset += it.bytes.count
        }
        header.append(UInt8(ascii: "}"))
        header += [UInt8](repeating: UInt8(ascii: " "), count: (8 - header.count % 8) % 8)

        var out = Data(capacity: 8 + header.count + offset)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: header)
        for i in order { out.append(contentsOf: items[i].bytes) }
        return out
    }

    /// Writes the file atomically (a temporary file renamed over `path`).
    public func write(to path: String) throws {
        do { try writeAtomically(encoded(), to: path) }
        catch { throw FormatError(path, "cannot write file (\(fileErrorReason(error)))") }
    }
}

/// float32 values encoded little-endian as the float dtype `dtype` (F32, F16, BF16, F64).
func encodeFloats(_ values: [Float], as dtype: DType) -> [UInt8] {
    let size = dtype.elementSize!
    var bytes = [UInt8](repeating: 0, count: values.count * size)
    bytes.withUnsafeMutableBytes { out in
        values.withUnsafeBufferPointer { v in
            switch dtype {
            case .f32:
                #if _endian(little)
                if let base = v.baseAddress { out.baseAddress!.copyMemory(from: base, byteCount: 4 * v.count) }
                #else
                for i in 0 ..< v.count { out.storeBytes(of: v[i].bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self) }
                #endif
            case .f16:
                for i in 0 ..< v.count { out.storeBytes(of: Float16(v[i]).bitPattern.littleEndian, toByteOffset: 2 * i, as: UInt16.self) }
            case .bf16:
                for i in 0 ..< v.count { out.storeBytes(of: floatToBF16(v[i]).littleEndian, toByteOffset: 2 * i, as: UInt16.self) }
            case .f64:
                for i in 0 ..< v.count { out.storeBytes(of: Double(v[i]).bitPattern.littleEndian, toByteOffset: 8 * i, as: UInt64.self) }
            default:
                preconditionFailure("encodeFloats: \(dtype) is not a float dtype")
            }
        }
    }
    return bytes
}

/// Encodes `tensors` as a safetensors file (see `SafeTensorsWriter` for the layout), every tensor
/// stored as `dtype` (F32 by default; F16, BF16, F64, or an integer type for integral values).
/// Throws on duplicate names or values the dtype cannot hold.
public func encodeSafeTensors(_ tensors: [(name: String, tensor: Tensor)], metadata: [String: String] = [:],
                              dtype: DType = .f32) throws -> Data {
    var w = SafeTensorsWriter(metadata: metadata)
    for (name, t) in tensors { try w.add(name, t, dtype: dtype) }
    return w.encoded()
}

/// Writes `tensors` to `path` atomically as a safetensors file (see `encodeSafeTensors`).
public func writeSafeTensors(_ tensors: [(name: String, tensor: Tensor)], metadata: [String: String] = [:],
                             dtype: DType = .f32, to path: String) throws {
    var w = SafeTensorsWriter(metadata: metadata)
    do {
        for (name, t) in tensors { try w.add(name, t, dtype: dtype) }
    } catch let e as FormatError {
        throw FormatError(path, e.reason)
    }
    try w.write(to: path)
}
