import Foundation
import LatentTensor

/// A pickled torch tensor: a view `(storageOffset, size, stride)` of a `TorchStorage`, as
/// `torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
/// backward_hooks)` describes it. The view is validated against the storage when it is built and
/// materialised into a contiguous float32 `Tensor` only on request.
public struct TorchTensor: @unchecked Sendable {
    public let storage: TorchStorage
    public let storageOffset: Int
    /// Sizes, outermost first (`[]` for a scalar).
    public let size: [Int]
    /// Strides in elements (torch strides are never negative).
    public let stride: [Int]
    public var requiresGrad: Bool
    /// Whether it was pickled as an `nn.Parameter` (`_rebuild_parameter`).
    public var isParameter: Bool

    public var dtype: DType { storage.dtype }
    /// Number of elements.
    public let count: Int

    /// - Throws: `PickleError` when the view does not fit the storage.
    public init(storage: TorchStorage, storageOffset: Int, size: [Int], stride: [Int],
                requiresGrad: Bool = false, isParameter: Bool = false) throws {
        guard size.count == stride.count, size.count <= 64 else {
            throw PickleError("tensor has \(size.count) sizes but \(stride.count) strides")
        }
        guard storageOffset >= 0, size.allSatisfy({ $0 >= 0 }), stride.allSatisfy({ $0 >= 0 }) else {
            throw PickleError("tensor view with offset \(storageOffset), size \(size), stride \(stride) has a negative entry")
        }
        var n = 1, last = storageOffset, overflow = false
        for (d, s) in zip(size, stride) {
            var o1 = false, o2 = false, o3 = false
            (n, o1) = n.multipliedReportingOverflow(by: d)
            if d > 0 {
                let step: Int
                (step, o2) = (d - 1).multipliedReportingOverflow(by: s)
                (last, o3) = last.addingReportingOverflow(step)
            }
            overflow = overflow || o1 || o2 || o3
        }
        guard !overflow, n == 0 || last < storage.count else {
            throw PickleError("tensor view with offset \(storageOffset), size \(size), stride \(stride) reaches past its \(storage.count)-element storage")
        }
        self.storage = storage
        self.storageOffset = storageOffset
        self.size = size
        self.stride = stride
        self.requiresGrad = requiresGrad
        self.isParameter = isParameter
        self.count = n
    }

    /// Row-major strides of `size`: the view needs no gather when `stride` equals them.
    public var isContiguous: Bool {
        var expected = 1
        for i in stride.indices.reversed() where size[i] != 1 {
            if stride[i] != expected { return false }
            expected *= size[i]
        }
        return true
    }

    /// The storage index of row-major element `flat`.
    @inline(__always) func storageIndex(_ flat: Int) -> Int {
        var rem = flat, idx = storageOffset
        for d in stride.indices.reversed() {
            let s = size[d]
            idx += (rem % s) * stride[d]
            rem /= s
        }
        return idx
    }

    /// The elements in row-major order as a contiguous float32 tensor of shape `size`
    /// (offset and strides honoured; float16/bfloat16/float64/integers converted).
    public func floatTensor() -> Tensor {
        let off = storageOffset
        let data = isContiguous ? storage.floats(from: off, count: count) : storage.floats(count, storageIndex)
        return Tensor(shape: size, data: data)
    }

    /// The elements in row-major order as Int (exact for integer dtypes).
    public func integers() -> [Int] {
        let off = storageOffset
        return isContiguous ? storage.integers(count) { off + $0 } : storage.integers(count, storageIndex)
    }
}

extension TorchTensor {
    /// Evaluates the torch functions a snapshot applies, as data: `_load_from_bytes` →
    /// `.storage`, `_rebuild_tensor_v2` → `.tensor`, `_rebuild_parameter(_with_state)` →
    /// `.tensor` marked as a parameter. Other globals are left to the default handling.
    public static func reducer(source: String) -> Unpickler.Reducer {
        return { g, args, kind in
            guard kind == .reduce else { return nil }
            switch g.qualifiedName {
            case "torch.storage._load_from_bytes":
                guard args.count == 1, case .bytes(let b) = args[0] else {
                    throw PickleError("torch.storage._load_from_bytes expects one bytes argument")
                }
                return .storage(try TorchStorage.loadLegacy(b, source: source))
            case "torch._utils._rebuild_tensor_v2":
                guard args.count >= 4, case .storage(let st) = args[0], let off = args[1].intValue,
                      let size = args[2].sequenceValue?.compactMap(\.intValue), size.count == args[2].sequenceValue?.count,
                      let stride = args[3].sequenceValue?.compactMap(\.intValue), stride.count == args[3].sequenceValue?.count else {
                    throw PickleError("torch._utils._rebuild_tensor_v2 expects (storage, offset, size, stride, …)")
                }
                try checkNoHooks(args.count > 5 ? args[5] : .none, g)
                let grad = args.count > 4 ? args[4].boolValue ?? false : false
                return .tensor(try TorchTensor(storage: st, storageOffset: off, size: size, stride: stride, requiresGrad: grad))
            case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
                guard args.count >= 1, case .tensor(var t) = args[0] else {
                    throw PickleError("\(g.qualifiedName) expects a tensor")
                }
                try checkNoHooks(args.count > 2 ? args[2] : .none, g)
                t.requiresGrad = args.count > 1 ? args[1].boolValue ?? false : false
                t.isParameter = true
                return .tensor(t)
            default:
                return nil
            }
        }
    }

    /// Backward hooks are functions; a snapshot carries an empty `OrderedDict` (anything else
    /// would already have been refused as a global, this keeps the intent explicit).
    private static func checkNoHooks(_ v: PickleValue, _ g: PickleGlobal) throws {
        switch v {
        case .none: return
        case .dict(let d) where d.count == 0: return
        default: throw PickleError("\(g.qualifiedName): tensors with backward hooks are not supported")
        }
    }
}
