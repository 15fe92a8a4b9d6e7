import Foundation

/// The element types of every format LatentLab reads and writes — safetensors, `.npy`/`.npz` and torch
/// storages — as one vocabulary. Raw values are the safetensors spellings, ordered as the reference
/// Rust crate's `Dtype` enum (safetensors 0.8): the order matters, the reference writer lays tensors
/// out by descending position in this list ("descending alignment"), then by name. `npyDescr` and
/// `torchStorageName` give the other formats' spellings of the types they have.
public enum DType: String, CaseIterable, Sendable {
    case bool = "BOOL"
    case f4 = "F4"
    case f6E2M3 = "F6_E2M3"
    case f6E3M2 = "F6_E3M2"
    case u8 = "U8"
    case i8 = "I8"
    case f8E5M2 = "F8_E5M2"
    case f8E4M3 = "F8_E4M3"
    case f8E8M0 = "F8_E8M0"
    case f8E4M3FNUZ = "F8_E4M3FNUZ"
    case f8E5M2FNUZ = "F8_E5M2FNUZ"
    case i16 = "I16"
    case u16 = "U16"
    case f16 = "F16"
    case bf16 = "BF16"
    case i32 = "I32"
    case u32 = "U32"
    case f32 = "F32"
    case c64 = "C64"
    case f64 = "F64"
    case i64 = "I64"
    case u64 = "U64"

    /// Bytes per element, or nil for the sub-byte types (F4, F6_*), which this reader refuses.
    public var elementSize: Int? {
        switch self {
        case .f4, .f6E2M3, .f6E3M2: return nil
        case .bool, .u8, .i8, .f8E5M2, .f8E4M3, .f8E8M0, .f8E4M3FNUZ, .f8E5M2FNUZ: return 1
        case .i16, .u16, .f16, .bf16: return 2
        case .i32, .u32, .f32: return 4
        case .c64, .f64, .i64, .u64: return 8
        }
    }

    /// Bytes per element of a byte-sized type — every type `.npy` files and torch storages hold
    /// (their readers never produce a sub-byte type).
    public var itemSize: Int {
        guard let size = elementSize else { preconditionFailure("\(rawValue) is a sub-byte type") }
        return size
    }

    /// Position in the reference enum; the writer sorts on it.
    var rank: Int { DType.allCases.firstIndex(of: self)! }

    /// True for the integer and boolean types (values read exactly by `integers(_:)`).
    public var isInteger: Bool {
        switch self {
        case .bool, .u8, .i8, .i16, .u16, .i32, .u32, .i64, .u64: return true
        default: return false
        }
    }

    /// True when `tensor(_:)` can convert this type to float32.
    public var convertsToFloat: Bool {
        switch self {
        case .f4, .f6E2M3, .f6E3M2, .f8E8M0, .f8E4M3FNUZ, .f8E5M2FNUZ, .c64: return false
        default: return true
        }
    }

    /// Types `SafeTensorsWriter` can write.
    public var isWritable: Bool {
        switch self {
        case .f16, .bf16, .f32, .f64, .u8, .i8, .i16, .i32, .i64, .bool: return true
        default: return false
        }
    }

    /// The standard floating-point types (the ones `.npy` files and torch storages hold).
    public var isFloatingPoint: Bool { self == .f16 || self == .bf16 || self == .f32 || self == .f64 }

    /// numpy's and torch's name for the type (`float32`, `int64`, `bfloat16`, …), for messages;
    /// the safetensors spelling for the types neither has.
    public var name: String {
        switch self {
        case .bool: return "bool"
        case .u8: return "uint8"
        case .i8: return "int8"
        case .i16: return "int16"
        case .u16: return "uint16"
        case .f16: return "float16"
        case .bf16: return "bfloat16"
        case .i32: return "int32"
        case .u32: return "uint32"
        case .f32: return "float32"
        case .f64: return "float64"
        case .i64: return "int64"
        case .u64: return "uint64"
        default: return rawValue
        }
    }

    // MARK: npy

    /// numpy's little-endian `dtype.str` for the types `.npy` files here hold, nil for the others.
    public var npyDescr: String? {
        switch self {
        case .bool: return "|b1"
        case .u8: return "|u1"
        case .i8: return "|i1"
        case .i16: return "<i2"
        case .i32: return "<i4"
        case .i64: return "<i8"
        case .f16: return "<f2"
        case .f32: return "<f4"
        case .f64: return "<f8"
        default: return nil
        }
    }

    /// The types `.npy` files here hold.
    public static let npyTypes: [DType] = allCases.filter { $0.npyDescr != nil }

    /// The npy type for a descr's kind and size (`"f"`, 4), whatever its byte-order character.
    static func npy(kind: Character, size: Int) -> DType? {
        npyTypes.first { $0.npyDescr!.last.map { String($0) } == String(size) && $0.npyDescr!.dropFirst().first == kind }
    }

    // MARK: torch

    /// The legacy torch storage class of the type (`FloatStorage`), nil for types torch has none for.
    public var torchStorageName: String? {
        switch self {
        case .f32: return "FloatStorage"
        case .f16: return "HalfStorage"
        case .bf16: return "BFloat16Storage"
        case .f64: return "DoubleStorage"
        case .i64: return "LongStorage"
        case .i32: return "IntStorage"
        case .i16: return "ShortStorage"
        case .i8: return "CharStorage"
        case .u8: return "ByteStorage"
        case .bool: return "BoolStorage"
        default: return nil
        }
    }

    /// The types of torch storages read here.
    public static let torchTypes: [DType] = allCases.filter { $0.torchStorageName != nil }

    public init?(torchStorageName: String) {
        guard let t = DType.torchTypes.first(where: { $0.torchStorageName == torchStorageName }) else { return nil }
        self = t
    }
}

// MARK: - Scalar conversions

/// bfloat16 bits → float32 (exact: bfloat16 is the top half of a float32).
@inline(__always) func bf16ToFloat(_ bits: UInt16) -> Float {
    Float(bitPattern: UInt32(bits) << 16)
}

/// float32 → bfloat16 bits with round-to-nearest-even, as PyTorch's `Tensor.bfloat16()`;
/// every NaN becomes 0x7FC0 as in c10 (rounding its bits could carry it into infinity).
@inline(__always) func floatToBF16(_ x: Float) -> UInt16 {
    if x.isNaN { return 0x7FC0 }
    let bits = x.bitPattern
    let rounding = 0x7FFF + ((bits >> 16) & 1)
    return UInt16(truncatingIfNeeded: (bits &+ rounding) >> 16)
}

/// float8 E4M3 "fn" (PyTorch `float8_e4m3fn`): bias 7, no infinities, S.1111.111 is NaN.
@inline(__always) func f8E4M3ToFloat(_ b: UInt8) -> Float {
    let sign: Float = b & 0x80 != 0 ? -1 : 1
    let e = Int((b >> 3) & 0x0F), m = Float(b & 0x07)
    if e == 15 && b & 0x07 == 7 { return .nan }
    if e == 0 { return sign * m / 8 * Float(sign: .plus, exponent: -6, significand: 1) }
    return sign * (1 + m / 8) * Float(sign: .plus, exponent: e - 7, significand: 1)
}

/// float8 E5M2 (PyTorch `float8_e5m2`): exactly the top byte of an IEEE half.
@inline(__always) func f8E5M2ToFloat(_ b: UInt8) -> Float {
    Float(Float16(bitPattern: UInt16(b) << 8))
}
