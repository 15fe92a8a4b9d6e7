/// Errors from the CLIP tokenizer and model: each names the file or argument and the reason.
public struct CLIPError: Error, CustomStringConvertible, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
