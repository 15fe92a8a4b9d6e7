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
    public var dtype: String
    public var shape: [Int]
    /// Byte range inside the data section (after the 8-byte length and the JSON header).
    public var dataOffsets: Range<Int>
}

/// A safetensors file (https://github.com/huggingface/safetensors): 8-byte little-endian header
/// length, a JSON header `{name: {dtype, shape, data_offsets}, "__metadata__": {str: str}}`, then
/// the raw little-endian tensor bytes.
///
/// The bytes are memory-mapped, so opening a large checkpoint costs no copy; a tensor is converted
/// to float32 only when asked for.
public final class SafeTensorsFile: @unchecked Sendable {
    public let path: String
    public let metadata: [String: String]
    public let entries: [String: SafeTensorInfo]
    private let bytes: Data
    private let dataStart: Int

    /// Tensor names in file order of their data.
    public var names: [String] { entries.keys.sorted { entries[$0]!.dataOffsets.lowerBound < entries[$1]!.dataOffsets.lowerBound } }

    public init(path: String) throws {
        self.path = path
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) }
        catch { throw FormatError(path, "cannot read file (\(error.localizedDescription))") }
        guard data.count >= 8 else { throw FormatError(path, "not a safetensors file (shorter than 8 bytes)") }
        let headerLen = data.withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
        guard headerLen >= 2, headerLen <= 100_000_000, 8 + headerLen <= data.count else {
            throw FormatError(path, "not a safetensors file (header length \(headerLen) is impossible for a \(data.count)-byte file)")
        }
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + headerLen))) }
        catch { throw FormatError(path, "malformed safetensors header JSON") }
        guard let dict = json as? [String: Any] else { throw FormatError(path, "safetensors header is not a JSON object") }
        var meta: [String: String] = [:]
        var entries: [String: SafeTensorInfo] = [:]
        let dataSize = data.count - 8 - headerLen
        for (name, value) in dict {
            if name == "__metadata__" {
                guard let m = value as? [String: Any] else { throw FormatError(path, "__metadata__ is not an object") }
                for (k, v) in m {
                    guard let s = v as? String else { throw FormatError(path, "metadata value for '\(k)' is not a string") }
                    meta[k] = s
                }
                continue
            }
            guard let e = value as? [String: Any], let dtype = e["dtype"] as? String,
                  let shape = e["shape"] as? [Int], let offs = e["data_offsets"] as? [Int], offs.count == 2 else {
                throw FormatError(path, "tensor '\(name)' has a malformed header entry")
            }
            guard let size = SafeTensorsFile.elementSize(dtype) else {
                throw FormatError(path, "tensor '\(name)' has unsupported dtype \(dtype)")
            }
            guard shape.allSatisfy({ $0 >= 0 }), offs[0] >= 0, offs[0] <= offs[1], offs[1] <= dataSize else {
                throw FormatError(path, "tensor '\(name)' has offsets \(offs) outside the \(dataSize)-byte data section")
            }
            let (n, overflow) = shape.reduce((1, false)) { acc, d in
                let (p, o) = acc.0.multipliedReportingOverflow(by: d); return (p, acc.1 || o)
            }
            guard !overflow, n * size == offs[1] - offs[0] else {
                throw FormatError(path, "tensor '\(name)' shape \(shape) (\(dtype)) does not match its \(offs[1] - offs[0]) bytes")
            }
            entries[name] = SafeTensorInfo(dtype: dtype, shape: shape, dataOffsets: offs[0]..<offs[1])
        }
        let sorted = entries.values.map(\.dataOffsets).filter { !$0.isEmpty }.sorted { $0.lowerBound < $1.lowerBound }
        for (a, b) in zip(sorted, sorted.dropFirst()) where a.upperBound > b.lowerBound {
            throw FormatError(path, "tensor data ranges overlap (\(a) and \(b))")
        }
        self.metadata = meta
        self.entries = entries
        self.bytes = data
        self.dataStart = 8 + headerLen
    }

    /// Bytes per element of a safetensors dtype, or nil when unsupported.
    public static func elementSize(_ dtype: String) -> Int? {
        switch dtype {
        case "F32", "I32": return 4
        case "F16", "BF16": return 2
        case "I64", "F64": return 8
        case "U8", "I8", "BOOL": return 1
        default: return nil
        }
    }

    public func contains(_ name: String) -> Bool { entries[name] != nil }

    /// The named tensor converted to float32 (F16/BF16/F64/integers are converted exactly
    /// where float32 can represent them).
    public func tensor(_ name: String) throws -> Tensor {
        guard let e = entries[name] else { throw FormatError(path, "no tensor named '\(name)'") }
        let n = e.shape.reduce(1, *)
        var out = [Float](repeating: 0, count: n)
        bytes.withUnsafeBytes { raw in
            let base = raw.baseAddress! + dataStart + e.dataOffsets.lowerBound
            switch e.dtype {
            case "F32": for i in 0..<n { out[i] = Float(bitPattern: UInt32(littleEndian: (base + 4 * i).loadUnaligned(as: UInt32.self))) }
            case "F16": for i in 0..<n { out[i] = Float(Float16(bitPattern: UInt16(littleEndian: (base + 2 * i).loadUnaligned(as: UInt16.self)))) }
            case "BF16": for i in 0..<n { out[i] = Float(bitPattern: UInt32(UInt16(littleEndian: (base + 2 * i).loadUnaligned(as: UInt16.self))) << 16) }
            case "F64": for i in 0..<n { out[i] = Float(Double(bitPattern: UInt64(littleEndian: (base + 8 * i).loadUnaligned(as: UInt64.self)))) }
            case "I32": for i in 0..<n { out[i] = Float(Int32(bitPattern: UInt32(littleEndian: (base + 4 * i).loadUnaligned(as: UInt32.self)))) }
            case "I64": for i in 0..<n { out[i] = Float(Int64(bitPattern: UInt64(littleEndian: (base + 8 * i).loadUnaligned(as: UInt64.self)))) }
            case "U8", "BOOL": for i in 0..<n { out[i] = Float(base.load(fromByteOffset: i, as: UInt8.self)) }
            case "I8": for i in 0..<n { out[i] = Float(base.load(fromByteOffset: i, as: Int8.self)) }
            default: break
            }
        }
        return Tensor(shape: e.shape, data: out)
    }

    /// The named integer tensor (I32/I64) as Int values.
    public func integers(_ name: String) throws -> (shape: [Int], values: [Int]) {
        let t = try tensor(name)
        return (t.shape, t.storage.map { Int($0) })
    }

    /// Every tensor, converted to float32.
    public func allTensors() throws -> [String: Tensor] {
        var d: [String: Tensor] = [:]
        for n in entries.keys { d[n] = try tensor(n) }
        return d
    }
}
