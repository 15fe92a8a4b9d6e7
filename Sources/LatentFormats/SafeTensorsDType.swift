import Foundation

/// Element types of the safetensors format, spelled and ordered as the reference Rust crate's
/// `Dtype` enum (safetensors 0.8). The order matters: the reference writer lays tensors out by
/// descending position in this list ("descending alignment"), then by name.
public enum SafeTensorsDType: String, CaseIterable, Sendable {
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

    /// Position in the reference enum; the writer sorts on it.
    var rank: Int { SafeTensorsDType.allCases.firstIndex(of: self)! }

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
