/// A dense float32 tensor in row-major (C) order; images and activations are NCHW.
///
/// Storage is a Swift array, so copies are copy-on-write: `reshaped` and passing tensors around
/// never copy the data, and a tensor is only duplicated when one of two owners writes to it.
/// Kernels take raw pointers through `withUnsafeBufferPointer` / `withUnsafeMutableBufferPointer`.
public struct Tensor: Sendable, Equatable {
    /// Sizes of each dimension, outermost first, e.g. `[N, C, H, W]`.
    public private(set) var shape: [Int]
    /// The elements in row-major order; `storage.count == shape.reduce(1, *)`.
    public var storage: [Float]

    /// A tensor of `shape` filled with `value`.
    public init(shape: [Int], repeating value: Float = 0) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape)")
        self.shape = shape
        self.storage = [Float](repeating: value, count: shape.reduce(1, *))
    }

    /// A tensor of `shape` holding `data` (row-major); the counts must agree.
    public init(shape: [Int], data: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape)")
        precondition(shape.reduce(1, *) == data.count,
                     "shape \(shape) needs \(shape.reduce(1, *)) elements, got \(data.count)")
        self.shape = shape
        self.storage = data
    }

    /// A tensor of `shape` whose elements are produced by `body(flatIndex)`.
    public init(shape: [Int], generator body: (Int) -> Float) {
        let n = shape.reduce(1, *)
        self.init(shape: shape, data: (0..<n).map(body))
    }

    public static func zeros(_ shape: [Int]) -> Tensor { Tensor(shape: shape, repeating: 0) }
    public static func ones(_ shape: [Int]) -> Tensor { Tensor(shape: shape, repeating: 1) }
    /// A 0-dimensional tensor.
    public static func scalar(_ v: Float) -> Tensor { Tensor(shape: [], data: [v]) }

    /// Number of elements.
    @inlinable public var count: Int { storage.count }
    /// Number of dimensions.
    @inlinable public var rank: Int { shape.count }

    /// Row-major strides in elements.
    public var strides: [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) { s[i] = acc; acc *= shape[i] }
        return s
    }

    /// The same data under another shape (no copy). One dimension may be -1 (inferred).
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var shp = newShape
        if let i = shp.firstIndex(of: -1) {
            let known = shp.enumerated().filter { $0.offset != i }.map(\.element).reduce(1, *)
            precondition(known > 0 && count % known == 0, "cannot infer -1 in \(newShape) for \(count) elements")
            shp[i] = count / known
        }
        precondition(shp.reduce(1, *) == count, "cannot reshape \(shape) to \(newShape)")
        var t = self
        t.shape = shp
        return t
    }

    /// Size of dimension `d` (negative counts from the end).
    @inlinable public func dim(_ d: Int) -> Int { shape[d < 0 ? shape.count + d : d] }

    /// Flat element access.
    @inlinable public subscript(flat i: Int) -> Float {
        get { storage[i] }
        set { storage[i] = newValue }
    }

    /// Element access by full index, e.g. `t[n, c, y, x]`.
    public subscript(_ idx: Int...) -> Float {
        get { storage[flatIndex(idx)] }
        set { storage[flatIndex(idx)] = newValue }
    }

    @inlinable func flatIndex(_ idx: [Int]) -> Int {
        precondition(idx.count == shape.count, "index rank \(idx.count) != tensor rank \(shape.count)")
        var f = 0
        for (i, v) in idx.enumerated() {
            precondition(v >= 0 && v < shape[i], "index \(idx) out of bounds for shape \(shape)")
            f = f * shape[i] + v
        }
        return f
    }

    /// Rows `range` of the outermost dimension, copied (e.g. a sub-batch of `[N, ...]`).
    public func slice(_ range: Range<Int>) -> Tensor {
        precondition(rank >= 1 && range.lowerBound >= 0 && range.upperBound <= shape[0], "slice \(range) of \(shape)")
        let inner = count / max(shape[0], 1)
        var shp = shape
        shp[0] = range.count
        return Tensor(shape: shp, data: Array(storage[range.lowerBound * inner ..< range.upperBound * inner]))
    }

    /// Row `i` of the outermost dimension with that dimension dropped (copied).
    public func row(_ i: Int) -> Tensor {
        slice(i ..< i + 1).reshaped(Array(shape.dropFirst()))
    }

    /// Concatenation along the outermost dimension; all inner shapes must agree.
    public static func concatenate(_ parts: [Tensor]) -> Tensor {
        precondition(!parts.isEmpty, "concatenate of nothing")
        let inner = Array(parts[0].shape.dropFirst())
        var data = [Float]()
        data.reserveCapacity(parts.reduce(0) { $0 + $1.count })
        var n = 0
        for p in parts {
            precondition(Array(p.shape.dropFirst()) == inner, "concatenate: \(p.shape) vs inner \(inner)")
            data += p.storage
            n += p.shape[0]
        }
        return Tensor(shape: [n] + inner, data: data)
    }

    @inlinable public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try storage.withUnsafeBufferPointer(body)
    }

    @inlinable public mutating func withUnsafeMutableBufferPointer<R>(_ body: (inout UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        try storage.withUnsafeMutableBufferPointer(body)
    }

    /// Double-precision copy of the elements (for reference implementations and gradient checks).
    public var doubles: [Double] { storage.map(Double.init) }

    /// True when every element is finite (no NaN or infinity).
    public var isFinite: Bool { storage.allSatisfy { $0.isFinite } }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let head = storage.prefix(8).map { String(format: "%.5g", $0) }.joined(separator: ", ")
        return "Tensor(\(shape), [\(head)\(count > 8 ? ", …" : "")])"
    }
}
