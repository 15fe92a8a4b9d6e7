// Elementwise arithmetic, reductions and broadcasting for `Tensor`.
//
// Broadcasting follows NumPy/PyTorch rules: shapes are aligned at their trailing dimensions and a
// dimension of size 1 (or a missing leading dimension) stretches to the other operand's size. The
// common cases (equal shapes, scalar, a trailing-dims tensor such as a bias `[D]` against `[..., D]`)
// take contiguous fast paths; everything else goes through a strided odometer.
// Reductions accumulate in Double so that large sums agree with a float64 reference to ~1e-7.

// MARK: - Broadcasting helpers

extension Tensor {
    /// The broadcast result shape of `a` and `b` (NumPy rules), or nil when they are incompatible.
    public static func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int]? {
        let r = max(a.count, b.count)
        var out = [Int](repeating: 1, count: r)
        for i in 0..<r {
            let da = i < r - a.count ? 1 : a[i - (r - a.count)]
            let db = i < r - b.count ? 1 : b[i - (r - b.count)]
            if da == db || db == 1 { out[i] = da } else if da == 1 { out[i] = db } else { return nil }
        }
        return out
    }

    /// Strides (in elements) of a tensor of `shape` viewed as `target` (right-aligned); broadcast
    /// dimensions get stride 0.
    @usableFromInline
    static func broadcastStrides(_ shape: [Int], to target: [Int]) -> [Int] {
        var strides = [Int](repeating: 0, count: target.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            let t = i + target.count - shape.count
            strides[t] = shape[i] == 1 ? 0 : acc
            acc *= shape[i]
        }
        return strides
    }
}

/// Drops leading 1-sized dimensions (they never change a broadcast).
@usableFromInline
func strippedLeadingOnes(_ s: [Int]) -> ArraySlice<Int> {
    var i = 0
    while i < s.count && s[i] == 1 { i += 1 }
    return s[i...]
}

/// Elementwise `op` with broadcasting. `name` appears in shape errors.
@inlinable @inline(__always)
func broadcastBinary(_ a: Tensor, _ b: Tensor, _ name: StaticString,
                     _ op: (Float, Float) -> Float) -> Tensor {
    if a.shape == b.shape {
        var out = Tensor.zeros(a.shape)
        let n = a.count
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in out.withUnsafeMutableBufferPointer { po in
            let x = pa.baseAddress!, y = pb.baseAddress!, z = po.baseAddress!
            for i in 0..<n { z[i] = op(x[i], y[i]) }
        } } }
        return out
    }
    guard let shape = Tensor.broadcastShape(a.shape, b.shape) else {
        preconditionFailure("\(name): shapes \(a.shape) and \(b.shape) do not broadcast")
    }
    var out = Tensor.zeros(shape)
    let sa = strippedLeadingOnes(a.shape), sb = strippedLeadingOnes(b.shape)
    a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in out.withUnsafeMutableBufferPointer { po in
        let x = pa.baseAddress!, y = pb.baseAddress!, z = po.baseAddress!
        if sb.count <= sa.count && Array(sa.suffix(sb.count)) == Array(sb) && Array(sa) == Array(strippedLeadingOnes(shape)) {
            // b repeats over a's leading dimensions (e.g. bias [D] + x [..., D]).
            let inner = max(b.count, 1), outer = a.count / inner
            for o in 0..<outer { let xo = x + o * inner, zo = z + o * inner
                for i in 0..<inner { zo[i] = op(xo[i], y[i]) } }
        } else if sa.count <= sb.count && Array(sb.suffix(sa.count)) == Array(sa) && Array(sb) == Array(strippedLeadingOnes(shape)) {
            let inner = max(a.count, 1), outer = b.count / inner
            for o in 0..<outer { let yo = y + o * inner, zo = z + o * inner
                for i in 0..<inner { zo[i] = op(x[i], yo[i]) } }
        } else {
            let ast = Tensor.broadcastStrides(a.shape, to: shape), bst = Tensor.broadcastStrides(b.shape, to: shape)
            broadcastOdometer(shape) { outBase, idx in
                var oa = 0, ob = 0
                for d in 0..<(shape.count - 1) { oa += idx[d] * ast[d]; ob += idx[d] * bst[d] }
                let last = shape.count - 1, la = ast[last], lb = bst[last]
                for j in 0..<shape[last] { z[outBase + j] = op(x[oa + j * la], y[ob + j * lb]) }
            }
        }
    } } }
    return out
}

/// Visits every row (all dimensions but the last) of a tensor of `shape` in row-major order,
/// passing the flat offset of the row and the row's index (the last entry is unused).
@usableFromInline
func broadcastOdometer(_ shape: [Int], _ body: (Int, [Int]) -> Void) {
    guard !shape.isEmpty else { body(0, [0]); return }
    let n = shape.reduce(1, *)
    if n == 0 { return }
    let last = shape[shape.count - 1]
    var idx = [Int](repeating: 0, count: shape.count)
    var base = 0
    while base < n {
        body(base, idx)
        base += last
        var d = shape.count - 2
        while d >= 0 {
            idx[d] += 1
            if idx[d] < shape[d] { break }
            idx[d] = 0
            d -= 1
        }
    }
}

@inlinable @inline(__always)
func unaryMap(_ a: Tensor, _ op: (Float) -> Float) -> Tensor {
    var out = Tensor.zeros(a.shape)
    let n = a.count
    a.withUnsafeBufferPointer { pa in out.withUnsafeMutableBufferPointer { po in
        let x = pa.baseAddress!, z = po.baseAddress!
        for i in 0..<n { z[i] = op(x[i]) }
    } }
    return out
}

@inlinable @inline(__always)
func inPlaceBinary(_ a: inout Tensor, _ b: Tensor, _ name: StaticString, _ op: (Float, Float) -> Float) {
    if a.shape == b.shape {
        let n = a.count
        b.withUnsafeBufferPointer { pb in a.withUnsafeMutableBufferPointer { pa in
            let x = pa.baseAddress!, y = pb.baseAddress!
            for i in 0..<n { x[i] = op(x[i], y[i]) }
        } }
        return
    }
    guard let shape = Tensor.broadcastShape(a.shape, b.shape), shape.reduce(1, *) == a.count,
          Array(strippedLeadingOnes(shape)) == Array(strippedLeadingOnes(a.shape)) else {
        preconditionFailure("\(name): \(b.shape) cannot be broadcast onto \(a.shape) in place")
    }
    a = broadcastBinary(a, b, name, op).reshaped(a.shape)
}

// MARK: - Operators

extension Tensor {
    /// Elementwise sum with broadcasting (e.g. `[N, D] + [D]`).
    public static func + (a: Tensor, b: Tensor) -> Tensor { broadcastBinary(a, b, "+") { $0 + $1 } }
    /// Elementwise difference with broadcasting.
    public static func - (a: Tensor, b: Tensor) -> Tensor { broadcastBinary(a, b, "-") { $0 - $1 } }
    /// Elementwise (Hadamard) product with broadcasting.
    public static func * (a: Tensor, b: Tensor) -> Tensor { broadcastBinary(a, b, "*") { $0 * $1 } }
    /// Elementwise quotient with broadcasting.
    public static func / (a: Tensor, b: Tensor) -> Tensor { broadcastBinary(a, b, "/") { $0 / $1 } }

    public static func + (a: Tensor, s: Float) -> Tensor { unaryMap(a) { $0 + s } }
    public static func - (a: Tensor, s: Float) -> Tensor { unaryMap(a) { $0 - s } }
    public static func * (a: Tensor, s: Float) -> Tensor { unaryMap(a) { $0 * s } }
    public static func / (a: Tensor, s: Float) -> Tensor { unaryMap(a) { $0 / s } }
    public static func + (s: Float, a: Tensor) -> Tensor { unaryMap(a) { s + $0 } }
    public static func - (s: Float, a: Tensor) -> Tensor { unaryMap(a) { s - $0 } }
    public static func * (s: Float, a: Tensor) -> Tensor { unaryMap(a) { s * $0 } }
    public static func / (s: Float, a: Tensor) -> Tensor { unaryMap(a) { s / $0 } }
    public static prefix func - (a: Tensor) -> Tensor { unaryMap(a) { -$0 } }

    /// In place; `b` must broadcast onto `a`'s shape (the shape of `a` never changes).
    public static func += (a: inout Tensor, b: Tensor) { inPlaceBinary(&a, b, "+=") { $0 + $1 } }
    public static func -= (a: inout Tensor, b: Tensor) { inPlaceBinary(&a, b, "-=") { $0 - $1 } }
    public static func *= (a: inout Tensor, b: Tensor) { inPlaceBinary(&a, b, "*=") { $0 * $1 } }
    public static func /= (a: inout Tensor, b: Tensor) { inPlaceBinary(&a, b, "/=") { $0 / $1 } }
    public static func += (a: inout Tensor, s: Float) { a.mapInPlace { $0 + s } }
    public static func -= (a: inout Tensor, s: Float) { a.mapInPlace { $0 - s } }
    public static func *= (a: inout Tensor, s: Float) { a.mapInPlace { $0 * s } }
    public static func /= (a: inout Tensor, s: Float) { a.mapInPlace { $0 / s } }

    /// `self += alpha * x` (same shape), the axpy update used for gradient accumulation.
    public mutating func add(_ x: Tensor, scaledBy alpha: Float = 1) {
        precondition(shape == x.shape, "add(_:scaledBy:): shape \(x.shape) != \(shape)")
        let n = count
        x.withUnsafeBufferPointer { px in withUnsafeMutableBufferPointer { pa in
            let s = px.baseAddress!, d = pa.baseAddress!
            for i in 0..<n { d[i] += alpha * s[i] }
        } }
    }

    /// Applies `op` to every element in place.
    @inlinable
    public mutating func mapInPlace(_ op: (Float) -> Float) {
        let n = count
        withUnsafeMutableBufferPointer { p in
            let d = p.baseAddress!
            for i in 0..<n { d[i] = op(d[i]) }
        }
    }

    /// A new tensor with `op` applied to every element.
    @inlinable
    public func map(_ op: (Float) -> Float) -> Tensor { unaryMap(self, op) }

    /// Elementwise square.
    public func squared() -> Tensor { unaryMap(self) { $0 * $0 } }
}

// MARK: - Reductions

extension Tensor {
    /// Sum of all elements (accumulated in Double).
    public func sum() -> Float {
        withUnsafeBufferPointer { p in
            var s: Double = 0
            for v in p { s += Double(v) }
            return Float(s)
        }
    }

    /// Mean of all elements (0 for an empty tensor).
    public func mean() -> Float {
        count == 0 ? 0 : Float(withUnsafeBufferPointer { p in p.reduce(0.0) { $0 + Double($1) } } / Double(count))
    }

    /// Inner product `Σ self_i · other_i` of two equally shaped tensors (accumulated in Double).
    public func dot(_ other: Tensor) -> Float {
        precondition(shape == other.shape, "dot: shapes \(shape) and \(other.shape) differ")
        return withUnsafeBufferPointer { pa in other.withUnsafeBufferPointer { pb in
            var s: Double = 0
            for i in 0..<pa.count { s += Double(pa[i]) * Double(pb[i]) }
            return Float(s)
        } }
    }

    /// Sum over dimension `axis` (negative counts from the end). The dimension is removed, or kept
    /// with size 1 when `keepDims` is true. `[A, L, B].sum(axis: 1) -> [A, B]`.
    public func sum(axis: Int, keepDims: Bool = false) -> Tensor {
        let ax = axis < 0 ? rank + axis : axis
        precondition(ax >= 0 && ax < rank, "sum(axis:): axis \(axis) out of range for shape \(shape)")
        let outer = shape[..<ax].reduce(1, *), len = shape[ax], inner = shape[(ax + 1)...].reduce(1, *)
        var outShape = shape
        if keepDims { outShape[ax] = 1 } else { outShape.remove(at: ax) }
        var out = Tensor.zeros(outShape)
        var acc = [Double](repeating: 0, count: inner)
        withUnsafeBufferPointer { p in out.withUnsafeMutableBufferPointer { po in
            for o in 0..<outer {
                for i in 0..<inner { acc[i] = 0 }
                for l in 0..<len {
                    let row = p.baseAddress! + (o * len + l) * inner
                    for i in 0..<inner { acc[i] += Double(row[i]) }
                }
                for i in 0..<inner { po[o * inner + i] = Float(acc[i]) }
            }
        } }
        return out
    }

    /// Mean over dimension `axis`; see `sum(axis:keepDims:)`.
    public func mean(axis: Int, keepDims: Bool = false) -> Tensor {
        let ax = axis < 0 ? rank + axis : axis
        precondition(ax >= 0 && ax < rank, "mean(axis:): axis \(axis) out of range for shape \(shape)")
        return sum(axis: ax, keepDims: keepDims) / Float(max(shape[ax], 1))
    }

    /// Sums a (broadcast) tensor down to `target`, the shape of an operand that was broadcast to
    /// `self.shape`: the adjoint of broadcasting, i.e. the gradient of a broadcast operand.
    /// `[N, T, D].sum(toShape: [D])`, `[N, C, H, W].sum(toShape: [1, C, 1, 1])`.
    public func sum(toShape target: [Int]) -> Tensor {
        if target == shape { return self }
        guard let b = Tensor.broadcastShape(target, shape), b == shape else {
            preconditionFailure("sum(toShape:): \(target) does not broadcast to \(shape)")
        }
        var acc = [Double](repeating: 0, count: target.reduce(1, *))
        let st = Tensor.broadcastStrides(target, to: shape)
        withUnsafeBufferPointer { p in
            let x = p.baseAddress!
            if shape.isEmpty { acc[0] += Double(x[0]); return }
            let last = shape.count - 1, ls = st[last], len = shape[last]
            broadcastOdometer(shape) { base, idx in
                var o = 0
                for d in 0..<last { o += idx[d] * st[d] }
                for j in 0..<len { acc[o + j * ls] += Double(x[base + j]) }
            }
        }
        return Tensor(shape: target, data: acc.map(Float.init))
    }
}

/// Inner product of two equally shaped tensors (accumulated in Double).
public func dot(_ a: Tensor, _ b: Tensor) -> Float { a.dot(b) }
