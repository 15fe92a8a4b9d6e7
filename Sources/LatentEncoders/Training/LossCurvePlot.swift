import Foundation
import LatentTensor

/// A line chart of a series as an image `[3, height, width]` in [-1, 1] (for `encodePNG`): the raw
/// values in light grey, their moving average (window ≈ 2 % of the series) in `color`, y on a
/// log10 scale with faint grid lines at every power of ten (no text: the file name says what it
/// is, `history.csv` has the numbers). Non-finite and non-positive values are skipped.
func lossCurveImage(_ values: [Double], width: Int = 480, height: Int = 200,
                    color: (Float, Float, Float) = (-0.8, -0.4, 0.6)) -> Tensor {
    var img = Tensor(shape: [3, height, width], repeating: 1)
    func put(_ x: Int, _ y: Int, _ c: (Float, Float, Float)) {
        guard x >= 0, x < width, y >= 0, y < height else { return }
        img.storage[y * width + x] = c.0
        img.storage[(height + y) * width + x] = c.1
        img.storage[(2 * height + y) * width + x] = c.2
    }
    func line(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ c: (Float, Float, Float)) {
        let steps = max(abs(x1 - x0), abs(y1 - y0), 1)
        for k in 0...steps {
            let t = Double(k) / Double(steps)
            put(x0 + Int((Double(x1 - x0) * t).rounded()), y0 + Int((Double(y1 - y0) * t).rounded()), c)
        }
    }
    let margin = 8
    let pts = values.enumerated().filter { $0.element > 0 && $0.element.isFinite }.map { ($0.offset, log10($0.element)) }
    // Axes.
    line(margin, height - margin, width - margin, height - margin, (-1, -1, -1))
    line(margin, margin, margin, height - margin, (-1, -1, -1))
    guard pts.count >= 1 else { return img }
    let window = max(1, values.count / 50)
    var smooth = [(Int, Double)]()
    var acc = 0.0
    for (k, p) in pts.enumerated() {
        acc += p.1
        if k >= window { acc -= pts[k - window].1 }
        smooth.append((p.0, acc / Double(min(k + 1, window))))
    }
    var lo = pts.map(\.1).min()!, hi = pts.map(\.1).max()!
    if hi - lo < 1e-6 { lo -= 0.5; hi += 0.5 }
    let n = max(values.count - 1, 1)
    func px(_ i: Int) -> Int { margin + 1 + Int(Double(i) / Double(n) * Double(width - 2 * margin - 2)) }
    func py(_ v: Double) -> Int { height - margin - 1 - Int((v - lo) / (hi - lo) * Double(height - 2 * margin - 2)) }
    for decade in Int(lo.rounded(.up))...max(Int(lo.rounded(.up)), Int(hi.rounded(.down))) where Double(decade) <= hi {
        let y = py(Double(decade))
        for x in stride(from: margin + 1, to: width - margin, by: 3) { put(x, y, (0.6, 0.6, 0.6)) }
    }
    for k in 1..<max(pts.count, 1) where pts.count > 1 {
        line(px(pts[k - 1].0), py(pts[k - 1].1), px(pts[k].0), py(pts[k].1), (0.5, 0.5, 0.5))
    }
    for k in 1..<max(smooth.count, 1) where smooth.count > 1 {
        line(px(smooth[k - 1].0), py(smooth[k - 1].1), px(smooth[k].0), py(smooth[k].1), color)
    }
    return img
}
