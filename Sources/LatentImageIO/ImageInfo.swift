import LatentTensor

/// The container format, detected from the first bytes (never from the file extension).
public enum ImageFormat: String, Sendable {
    case png = "PNG"
    case jpeg = "JPEG"
}

/// What a file's header says about the image.
public struct ImageInfo: Equatable, Sendable {
    public var format: ImageFormat
    /// Size as displayed, i.e. after the EXIF orientation is applied (orientations 5–8 swap the
    /// stored width and height); this is the size of `LoadedImage.tensor`.
    public var width: Int
    public var height: Int
    /// Samples per pixel as stored: PNG 1 (gray or palette indices), 2, 3 or 4; JPEG 1, 3 or 4.
    public var channels: Int
    /// Bits per sample as stored: PNG 1, 2, 4, 8 or 16; JPEG 8 (or 12).
    public var bitDepth: Int
    /// The colour model as stored, e.g. `RGB`, `RGBA`, `gray+alpha`, `palette+tRNS`, `YCbCr`,
    /// `grayscale`, `CMYK (Adobe, inverted)`.
    public var colorType: String
    /// An alpha channel or a PNG tRNS chunk; such images are composited on white when loaded.
    public var hasAlpha: Bool
    /// PNG Adam7 interlacing or a progressive JPEG.
    public var interlaced: Bool
    /// EXIF orientation 1...8 (1 = as stored; JPEG APP1 Exif or PNG eXIf).
    public var orientation: Int

    public init(format: ImageFormat, width: Int, height: Int, channels: Int, bitDepth: Int,
                colorType: String, hasAlpha: Bool, interlaced: Bool, orientation: Int) {
        self.format = format
        self.width = width
        self.height = height
        self.channels = channels
        self.bitDepth = bitDepth
        self.colorType = colorType
        self.hasAlpha = hasAlpha
        self.interlaced = interlaced
        self.orientation = orientation
    }

    /// A progressive JPEG (the JPEG name for `interlaced`).
    public var progressive: Bool { format == .jpeg && interlaced }
}

/// A decoded image ready for the networks.
public struct LoadedImage: Sendable {
    /// `[3, H, W]` in [-1, 1] (`sample / (max / 2) - 1`, i.e. `uint8 / 127.5 - 1` as NVIDIA's
    /// dataset loader), upright (EXIF orientation applied), gray replicated to RGB, alpha
    /// composited on white.
    public var tensor: Tensor
    public var info: ImageInfo
    /// True when the image carried alpha (channel or tRNS) and was composited on white.
    public var compositedAlpha: Bool

    public init(tensor: Tensor, info: ImageInfo, compositedAlpha: Bool) {
        self.tensor = tensor
        self.info = info
        self.compositedAlpha = compositedAlpha
    }
}
