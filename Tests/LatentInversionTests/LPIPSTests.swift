import XCTest
import Foundation
import LatentTensor
import LatentFormats
import _TestSupport
import LatentInversion

/// LPIPS restated in Double from the definition (explicit convolution loops), to check the fast
/// path's forward and, by central differences, its backward — including masks and odd sizes.
enum NaiveLPIPS {
    struct Plane { var c: Int, h: Int, w: Int, v: [Double] }

    static func conv(_ x: Plane, _ wt: Tensor, _ b: Tensor, stride: Int, pad: Int) -> Plane {
        let (co, k) = (wt.shape[0], wt.shape[2])
        let oh = (x.h + 2 * pad - k) / stride + 1, ow = (x.w + 2 * pad - k) / stride + 1
        var out = [Double](repeating: 0, count: co * oh * ow)
        let wv = wt.doubles
        for o in 0..<co { for oy in 0..<oh { for ox in 0..<ow {
            var s = Double(b[flat: o])
            for ci in 0..<x.c { for ky in 0..<k { for kx in 0..<k {
                let iy = oy * stride - pad + ky, ix = ox * stride - pad + kx
                if iy < 0 || iy >= x.h || ix < 0 || ix >= x.w { continue }
                s += wv[((o * x.c + ci) * k + ky) * k + kx] * x.v[(ci * x.h + iy) * x.w + ix]
            } } }
            out[(o * oh + oy) * ow + ox] = s
        } } }
        return Plane(c: co, h: oh, w: ow, v: out)
    }

    static func maxPool(_ x: Plane, k: Int, s: Int) -> Plane {
        let oh = (x.h - k) / s + 1, ow = (x.w - k) / s + 1
        var out = [Double](repeating: 0, count: x.c * oh * ow)
        for c in 0..<x.c { for oy in 0..<oh { for ox in 0..<ow {
            var m = -Double.infinity
            for dy in 0..<k { for dx in 0..<k { m = max(m, x.v[(c * x.h + oy * s + dy) * x.w + ox * s + dx]) } }
            out[(c * oh + oy) * ow + ox] = m
        } } }
        return Plane(c: x.c, h: oh, w: ow, v: out)
    }

    static func relu(_ x: Plane) -> Plane { Plane(c: x.c, h: x.h, w: x.w, v: x.v.map { max($0, 0) }) }

    /// The five taps of one image `[3, h, w]` (already scaled).
    static func taps(_ net: LPIPSNet, _ x: Plane, _ p: [String: Tensor]) -> [Plane] {
        func cv(_ x: Plane, _ i: Int, _ s: Int, _ pad: Int) -> Plane {
            relu(conv(x, p["features.\(i).weight"]!, p["features.\(i).bias"]!, stride: s, pad: pad))
        }
        var out = [Plane]()
        switch net {
        case .vgg:
            var h = x
            for (k, block) in [[0, 2], [5, 7], [10, 12, 14], [17, 19, 21], [24, 26, 28]].enumerated() {
                if k > 0 { h = maxPool(h, k: 2, s: 2) }
                for i in block { h = cv(h, i, 1, 1) }
                out.append(h)
            }
        case .alex:
            var h = cv(x, 0, 4, 2); out.append(h)
            h = cv(maxPool(h, k: 3, s: 2), 3, 1, 2); out.append(h)
            h = cv(maxPool(h, k: 3, s: 2), 6, 1, 1); out.append(h)
            h = cv(h, 8, 1, 1); out.append(h)
            h = cv(h, 10, 1, 1); out.append(h)
        }
        return out
    }

    /// Per-image LPIPS of `[N, 3, h, w]` flat arrays; mask `[N or 1, 1, h, w]` flat or nil.
    static func image(_ x: [Double], _ i: Int, h: Int, w: Int) -> Plane {
        let shift = [-0.030, -0.088, -0.188], scale = [0.458, 0.448, 0.450]
        return Plane(c: 3, h: h, w: w, v: (0..<(3 * h * w)).map { j in (x[i * 3 * h * w + j] - shift[j / (h * w)]) / scale[j / (h * w)] })
    }

    /// The target's taps per image (computed once for all finite-difference evaluations).
    static func targetTaps(_ net: LPIPSNet, _ x1: [Double], n: Int, h: Int, w: Int, _ p: [String: Tensor]) -> [[Plane]] {
        (0..<n).map { taps(net, image(x1, $0, h: h, w: w), p) }
    }

    static func distance(_ net: LPIPSNet, _ x0: [Double], target: [[Plane]], n: Int, h: Int, w: Int,
                         mask: [Double]?, _ p: [String: Tensor]) -> [Double] {
        return (0..<n).map { i in
            let t0 = taps(net, image(x0, i, h: h, w: w), p), t1 = target[i]
            var total = 0.0
            for k in 0..<5 {
                let (a, b) = (t0[k], t1[k]), plane = a.h * a.w
                let lin = p["lin\(k).model.1.weight"]!.doubles
                // Mask resized by adaptive average pooling, normalised.
                var wt = [Double](repeating: 1 / Double(plane), count: plane)
                if let m = mask {
                    let off = m.count == h * w ? 0 : i * h * w
                    for oy in 0..<a.h { for ox in 0..<a.w {
                        let y0 = oy * h / a.h, y1 = Int((Double((oy + 1) * h) / Double(a.h)).rounded(.up))
                        let x0 = ox * w / a.w, x1 = Int((Double((ox + 1) * w) / Double(a.w)).rounded(.up))
                        var s = 0.0
                        for y in y0..<y1 { for x in x0..<x1 { s += m[off + y * w + x] } }
                        wt[oy * a.w + ox] = s / Double((y1 - y0) * (x1 - x0))
                    } }
                    let sw = wt.reduce(0, +); wt = wt.map { $0 / sw }
                }
                for q in 0..<plane {
                    var na = 0.0, nb = 0.0
                    for c in 0..<a.c { na += a.v[c * plane + q] * a.v[c * plane + q]; nb += b.v[c * plane + q] * b.v[c * plane + q] }
                    na = na.squareRoot() + 1e-10; nb = nb.squareRoot() + 1e-10
                    for c in 0..<a.c {
                        let d = a.v[c * plane + q] / na - b.v[c * plane + q] / nb
                        total += wt[q] * lin[c] * d * d
                    }
                }
            }
            return total
        }
    }
}

final class LPIPSTests: XCTestCase {
    /// Forward against the Double restatement, and the gradient's directional derivatives against
    /// central differences of it (a full finite-difference gradient of VGG16 is too slow for CI).
    func checkAgainstNaive(_ net: LPIPSNet, n: Int, h: Int, w: Int, maskImages: Int?, directions: Int, seed: UInt64) throws {
        var rng = TestRNG(seed: seed)
        let params = LPIPSFormula.parameters(net: net)
        let lpips = LPIPSFormula.lpips(net: net)
        let x0 = rng.tensor([n, 3, h, w]), x1 = rng.tensor([n, 3, h, w])
        let mask = maskImages.map { rng.tensor([$0, 1, h, w], 0, 1) }
        let (d, grad) = try lpips.distanceAndGradient(x0, x1, mask: mask)
        let target = NaiveLPIPS.targetTaps(net, x1.doubles, n: n, h: h, w: w, params)
        let want = NaiveLPIPS.distance(net, x0.doubles, target: target, n: n, h: h, w: w, mask: mask?.doubles, params)
        for i in 0..<n { XCTAssertEqual(Double(d[i]), want[i], accuracy: 2e-5 * want[i], "\(net) distance[\(i)]") }
        for _ in 0..<directions {
            let v = rng.doubles(x0.count)
            // Small step: with full-rank weights a deep tower has ~1e5 ReLU/max-pool units, and a
            // step of 1e-4 made dozens of them cross their kink (0.75 % error on VGG); Double
            // keeps 1e-6 precise.
            let eps = 1e-6
            let plus = zip(x0.doubles, v).map { $0 + eps * $1 }, minus = zip(x0.doubles, v).map { $0 - eps * $1 }
            let fd = (NaiveLPIPS.distance(net, plus, target: target, n: n, h: h, w: w, mask: mask?.doubles, params).reduce(0, +)
                      - NaiveLPIPS.distance(net, minus, target: target, n: n, h: h, w: w, mask: mask?.doubles, params).reduce(0, +)) / (2 * eps)
            let analytic = zip(grad.doubles, v).reduce(0) { $0 + $1.0 * $1.1 }
            XCTAssertEqual(analytic, fd, accuracy: 2e-3 * abs(fd), "\(net) directional derivative")
        }
    }

    func testAlexAgainstNaiveWithPerImageMask() throws {
        try checkAgainstNaive(.alex, n: 2, h: 33, w: 35, maskImages: 2, directions: 2, seed: 41)
    }

    func testVGGAgainstNaiveWithSharedMask() throws {
        try checkAgainstNaive(.vgg, n: 1, h: 18, w: 17, maskImages: 1, directions: 1, seed: 42)
    }

    /// The loss adapter: per-image values and gradient equal the LPIPS calls; a mask of ones is
    /// plain LPIPS.
    func testLPIPSLossAndMaskOfOnes() throws {
        var rng = TestRNG(seed: 43)
        let lpips = LPIPSFormula.lpips(net: .alex)
        let x0 = rng.tensor([2, 3, 40, 37]), x1 = rng.tensor([2, 3, 40, 37])
        let plain = try lpips.distanceAndGradient(x0, x1)
        let ones = try lpips.distanceAndGradient(x0, x1, mask: Tensor.ones([1, 1, 40, 37]))
        for i in 0..<2 { XCTAssertEqual(ones.distance[i], plain.distance[i], accuracy: 1e-6 * plain.distance[i]) }
        assertClose(ones.gradX0, plain.gradX0, atol: 1e-9, rtol: 1e-5)
        let loss = try LPIPSLoss(lpips).evaluate(reconstruction: x0, target: x1)
        XCTAssertEqual(loss.loss, plain.distance)
        XCTAssertEqual(loss.gradient, plain.gradX0)
        XCTAssertEqual(try lpips.distance(x0, x0), [0, 0])
    }

    /// A user weights file in the `lpips` package's own names loads to the same network; missing,
    /// misshapen and unknown keys are errors that name the file.
    func testWeightsFileLoading() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lpips-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let params = LPIPSFormula.parameters(net: .alex)
        let slices = [0: 1, 3: 2, 6: 3, 8: 4, 10: 5]
        var renamed = [String: Tensor]()
        for (k, t) in params {
            let parts = k.split(separator: ".")
            if parts[0] == "features" { renamed["net.slice\(slices[Int(parts[1])!]!).\(parts[1]).\(parts[2])"] = t } else { renamed[k] = t }
        }
        renamed["scaling_layer.shift"] = Tensor(shape: [1, 3, 1, 1], data: [-0.030, -0.088, -0.188])
        renamed["scaling_layer.scale"] = Tensor(shape: [1, 3, 1, 1], data: [0.458, 0.448, 0.450])
        let good = dir.appendingPathComponent("alex.safetensors").path
        try writeSafeTensors(renamed, to: good)
        let loaded = try LPIPS(net: .alex, weightsPath: good)
        var rng = TestRNG(seed: 44)
        let x0 = rng.tensor([1, 3, 35, 35]), x1 = rng.tensor([1, 3, 35, 35])
        XCTAssertEqual(try loaded.distance(x0, x1), try LPIPSFormula.lpips(net: .alex).distance(x0, x1))

        var missing = params; missing["lin3.model.1.weight"] = nil
        let p1 = dir.appendingPathComponent("missing.safetensors").path
        try writeSafeTensors(missing, to: p1)
        XCTAssertThrowsError(try LPIPS(net: .alex, weightsPath: p1)) { XCTAssertTrue("\($0)".contains("lin3.model.1.weight")) }
        var extra = params; extra["classifier.1.weight"] = Tensor.zeros([2, 2])
        let p2 = dir.appendingPathComponent("extra.safetensors").path
        try writeSafeTensors(extra, to: p2)
        XCTAssertThrowsError(try LPIPS(net: .alex, weightsPath: p2)) { XCTAssertTrue("\($0)".contains("classifier.1.weight")) }
        XCTAssertNoThrow(try LPIPS(net: .alex, weightsPath: p2, allowUnusedKeys: true))
        var wrong = params; wrong["features.3.bias"] = Tensor.zeros([191])
        let p3 = dir.appendingPathComponent("wrong.safetensors").path
        try writeSafeTensors(wrong, to: p3)
        XCTAssertThrowsError(try LPIPS(net: .alex, weightsPath: p3)) { XCTAssertTrue("\($0)".contains("features.3.bias")) }
        XCTAssertThrowsError(try LPIPS(net: .vgg, weightsPath: good))
    }

    func testBadInputThrows() throws {
        let alex = LPIPSFormula.lpips(net: .alex)
        XCTAssertThrowsError(try alex.distance(Tensor.zeros([1, 3, 20, 20]), Tensor.zeros([1, 3, 20, 20])))  // too small
        XCTAssertThrowsError(try alex.distance(Tensor.zeros([1, 1, 64, 64]), Tensor.zeros([1, 1, 64, 64])))  // not RGB
        XCTAssertThrowsError(try alex.distance(Tensor.zeros([1, 3, 64, 64]), Tensor.zeros([2, 3, 64, 64])))
        XCTAssertThrowsError(try LPIPSLoss(alex).evaluate(reconstruction: Tensor.zeros([1, 3, 64, 64]), target: Tensor.zeros([1, 3, 64, 63])))
    }
}

/// Minimal safetensors writer for test files (F32 only).
func writeSafeTensors(_ tensors: [String: Tensor], to path: String) throws {
    var header = [String: Any]()
    var data = Data()
    for name in tensors.keys.sorted() {
        let t = tensors[name]!
        let start = data.count
        t.storage.withUnsafeBytes { data.append(contentsOf: $0) }   // little-endian host (x86-64)
        header[name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [start, data.count]]
    }
    var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
    while json.count % 8 != 0 { json.append(0x20) }
    var out = Data()
    withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
    out.append(json)
    out.append(data)
    try out.write(to: URL(fileURLWithPath: path))
}
