import Foundation

/// The largest x, y, width or height a crop box may give.
public let maxCropCoordinate = 100_000_000

/// How `preprocess` cuts the region it resizes.
public enum CropMode: Equatable, Sendable, CustomStringConvertible, LosslessStringConvertible {
    /// The largest centred square, as NVIDIA's `projector.py` (`((w - s) // 2, (h - s) // 2)`).
    case center
    /// The whole image, squashed to a square.
    case none
    /// A box with its top-left corner at (x, y), in pixels of the upright image.
    case box(x: Int, y: Int, width: Int, height: Int)

    /// Parses `center`, `none` or `x,y,w,h` (spaces allowed), throwing a clear error otherwise.
    public static func parse(_ text: String) throws -> CropMode {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        if t == "center" || t == "centre" { return .center }
        if t == "none" { return .none }
        let parts = t.split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 4 else {
            throw ImageError(.invalidArgument, subject: "crop",
                             reason: "expected 'center', 'none' or 'x,y,w,h', got '\(text)'")
        }
        let values = parts.compactMap { Int($0) }
        guard values.count == 4 else {
            throw ImageError(.invalidArgument, subject: "crop", reason: "box '\(text)' must be four integers x,y,w,h")
        }
        guard values[0] >= 0, values[1] >= 0, values[2] >= 1, values[3] >= 1 else {
            throw ImageError(.invalidArgument, subject: "crop",
                             reason: "box '\(text)' needs x, y ≥ 0 and width, height ≥ 1")
        }
        // No image that loads (at most 100 megapixels) has a side this long; sums stay far from overflow.
        guard values.allSatisfy({ $0 <= maxCropCoordinate }) else {
            throw ImageError(.invalidArgument, subject: "crop",
                             reason: "box '\(text)': coordinates and sizes must be at most \(maxCropCoordinate)")
        }
        return .box(x: values[0], y: values[1], width: values[2], height: values[3])
    }

    /// `nil` when `description` does not parse (for ArgumentParser's `ExpressibleByArgument`).
    public init?(_ description: String) {
        guard let mode = try? CropMode.parse(description) else { return nil }
        self = mode
    }

    public var description: String {
        switch self {
        case .center: return "center"
        case .none: return "none"
        case let .box(x, y, w, h): return "\(x),\(y),\(w),\(h)"
        }
    }
}
