import Foundation

/// A run-time failure of a command (bad input file, wrong latent shape, not a generator, an
/// unwritable output): ArgumentParser prints it as one `Error: …` line and exits with 1.
///
/// Throw `ValidationError` only for malformed command lines (checked in `validate()`): ArgumentParser
/// answers those with the command's usage and exit code 64, which is wrong for a bad file found at
/// run time (and, thrown from `run()`, it prints the usage of the root command, not the subcommand).
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }

    /// Wraps any error as one clean line, prefixed with `context` (e.g. the path being written)
    /// unless the message already names it.
    init(_ error: Error, context: String? = nil) {
        let line = oneLine(error)
        if let context, !line.hasPrefix(context) {
            description = "\(context): \(line)"
        } else {
            description = line
        }
    }
}

/// An error as one readable line: multi-line descriptions folded; Foundation file errors (whose
/// default text is "The operation could not be completed") reduced to the path and the system's
/// reason.
func oneLine(_ error: Error) -> String {
    let text: String
    if let failure = error as? CommandFailure {
        text = failure.description
    } else if error is CocoaError || error is POSIXError || type(of: error) is NSError.Type {
        text = describeFileError(error as NSError)
    } else {
        text = "\(error)"
    }
    return text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        .joined(separator: " ")
}

/// "PATH: REASON" for an `NSError` from Foundation's file APIs.
private func describeFileError(_ error: NSError) -> String {
    let path = (error.userInfo[NSFilePathErrorKey] as? String)
        ?? (error.userInfo[NSURLErrorKey] as? URL)?.path
    var reason: String
    if let underlying = error.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
        reason = String(cString: strerror(Int32(underlying.code)))
    } else if error.domain == NSPOSIXErrorDomain {
        reason = String(cString: strerror(Int32(error.code)))
    } else {
        switch CocoaError.Code(rawValue: error.code) {
        case .fileNoSuchFile, .fileReadNoSuchFile: reason = "no such file"
        case .fileWriteNoPermission, .fileReadNoPermission: reason = "permission denied"
        case .fileWriteOutOfSpace: reason = "no space left on device"
        case .fileWriteFileExists: reason = "already exists"
        case .fileWriteVolumeReadOnly: reason = "read-only file system"
        case .fileReadCorruptFile: reason = "corrupt file"
        case .fileWriteUnknown: reason = "cannot write"
        case .fileReadUnknown: reason = "cannot read"
        default: reason = error.localizedDescription
        }
    }
    return path.map { "\($0): \(reason)" } ?? reason
}
