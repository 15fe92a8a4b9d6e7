/// One line for `latentlab inspect`, e.g.
/// `PNG 451×300, 4 channels (RGBA), 8-bit, non-interlaced, orientation 1 (as stored); alpha is composited on white when loaded`.
public func describeImage(_ info: ImageInfo) -> String {
    let layout: String
    switch info.format {
    case .png: layout = info.interlaced ? "interlaced (Adam7)" : "non-interlaced"
    case .jpeg: layout = info.interlaced ? "progressive" : "baseline"
    }
    let orientations = [1: "as stored", 2: "mirrored left-right", 3: "rotated 180°", 4: "mirrored top-bottom",
                        5: "transposed", 6: "rotated 90° clockwise", 7: "transversed", 8: "rotated 90° counter-clockwise"]
    let orientation = "orientation \(info.orientation) (\(orientations[info.orientation] ?? "unknown"))"
    let channels = "\(info.channels) channel\(info.channels == 1 ? "" : "s") (\(info.colorType))"
    var line = "\(info.format.rawValue) \(info.width)×\(info.height), \(channels), \(info.bitDepth)-bit, \(layout), \(orientation)"
    if info.orientation >= 5 { line += ", stored as \(info.height)×\(info.width)" }
    line += info.hasAlpha ? "; alpha is composited on white when loaded" : "; no alpha"
    return line
}
