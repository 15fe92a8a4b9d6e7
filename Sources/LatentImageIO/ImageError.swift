import Foundation

/// Why an image could not be read, written or prepared. Its `description` is one line that
/// names the file (or, for bad arguments, the argument) and the reason, e.g.
/// `photo.png: truncated PNG data (file ends after 812 bytes, inside a chunk)`.
public struct ImageError: Error, Equatable, Sendable, CustomStringConvertible, LocalizedError {
    public enum Kind: String, Sendable {
        /// The file could not be read from disk (missing, a directory, no permission).
        case unreadable
        /// The file or buffer holds no bytes.
        case empty
        /// The first bytes are neither a PNG nor a JPEG signature.
        case unknownFormat
        /// A valid file the decoder cannot convert (e.g. 12-bit JPEG).
        case unsupported
        /// The decoder rejected the data (bad CRC, bad Huffman code, invalid header, ...).
        case corrupt
        /// The data ends before the image does.
        case truncated
        /// width × height exceeds `maxPixels` (checked from the header, before decoding).
        case tooLarge
        case outOfMemory
        /// A bad argument (tensor shape, crop box, quality, file extension, ...).
        case invalidArgument
        /// Encoding or writing the output file failed.
        case writeFailed
    }

    public let kind: Kind
    /// The file name or path (or argument name) the error is about.
    public let subject: String
    /// The reason, without the subject.
    public let reason: String

    public init(_ kind: Kind, subject: String, reason: String) {
        self.kind = kind
        self.subject = subject
        self.reason = reason
    }

    public var description: String {
        "\(subject): \(reason)".replacingOccurrences(of: "\n", with: " ")
    }

    public var errorDescription: String? { description }
}
