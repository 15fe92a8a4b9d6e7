import Foundation

/// The reason part of a file error, as a short human phrase ("no such file", "permission denied",
/// "no space left on device"), never Foundation's "The operation could not be completed
/// (NSCocoaErrorDomain …)". Errors of other kinds give their description, folded onto one line.
public func fileErrorReason(_ error: Error) -> String {
    if let e = error as? FileAccessError { return e.reason }
    if let e = error as? POSIXError { return systemReason(e.code.rawValue) }
    let ns = error as NSError
    guard ns.domain == NSCocoaErrorDomain || ns.domain == NSPOSIXErrorDomain else {
        return "\(error)".split(whereSeparator: \.isNewline).joined(separator: " ")
    }
    if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
        return systemReason(Int32(underlying.code))
    }
    if ns.domain == NSPOSIXErrorDomain { return systemReason(Int32(ns.code)) }
    if let reason = ns.userInfo[NSLocalizedFailureReasonErrorKey] as? String { return reason }
    switch CocoaError.Code(rawValue: ns.code) {
    case .fileNoSuchFile, .fileReadNoSuchFile: return "no such file"
    case .fileWriteNoPermission, .fileReadNoPermission: return "permission denied"
    case .fileWriteOutOfSpace: return "no space left on device"
    case .fileWriteFileExists: return "already exists"
    case .fileWriteVolumeReadOnly: return "read-only file system"
    case .fileReadCorruptFile: return "corrupt file"
    case .fileReadInvalidFileName, .fileWriteInvalidFileName: return "invalid file name"
    case .fileReadInapplicableStringEncoding: return "not valid text in the expected encoding"
    case .fileWriteUnknown: return "cannot write"
    case .fileReadUnknown: return "cannot read"
    default: return "file error \(ns.code)"
    }
}

/// The path a Foundation file error names, if any.
public func fileErrorPath(_ error: Error) -> String? {
    if let e = error as? FileAccessError { return e.path }
    let ns = error as NSError
    return (ns.userInfo[NSFilePathErrorKey] as? String) ?? (ns.userInfo[NSURLErrorKey] as? URL)?.path
}

/// A `JSONDecoder` failure as one short line: what is wrong and where (`steps[1].strength`),
/// instead of Swift's multi-line `DecodingError.Context` dump.
public func decodingErrorReason(_ error: Error) -> String {
    func at(_ path: [CodingKey]) -> String {
        let text = path.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        return text.isEmpty ? "" : " at \(text.hasPrefix(".") ? String(text.dropFirst()) : text)"
    }
    guard let e = error as? DecodingError else { return fileErrorReason(error) }
    switch e {
    case .dataCorrupted(let c):
        let underlying = (c.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
        return "malformed JSON\(at(c.codingPath))" + (underlying.map { ": \($0)" } ?? "")
    case .keyNotFound(let key, let c): return "missing key '\(key.stringValue)'\(at(c.codingPath))"
    case .typeMismatch(let type, let c): return "expected \(type)\(at(c.codingPath))"
    case .valueNotFound(let type, let c): return "null where \(type) is expected\(at(c.codingPath))"
    @unknown default: return "malformed JSON"
    }
}

/// Any error as one human line: file errors as `PATH: reason` (see `fileErrorReason`), decoding
/// errors as `decodingErrorReason`, others as their description with line breaks folded.
public func errorLine(_ error: Error) -> String {
    let text: String
    if error is DecodingError {
        text = decodingErrorReason(error)
    } else if error is FileAccessError || error is CocoaError || error is POSIXError || type(of: error) is NSError.Type {
        let reason = fileErrorReason(error)
        text = fileErrorPath(error).map { "\($0): \(reason)" } ?? reason
    } else {
        text = "\(error)"
    }
    return text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
}
