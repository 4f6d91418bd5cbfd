import ByteIO

/// Why a pack could not be opened, read or written: the file, the byte offset and what is wrong.
public struct PackError: Error, Sendable, CustomStringConvertible {
    public let file: String
    public let offset: Int?
    public let message: String

    public init(file: String, offset: Int?, _ message: String) {
        self.file = file
        self.offset = offset
        self.message = message
    }

    public var description: String {
        (offset.map { "\(file) at offset \(Hex($0))" } ?? file) + ": " + message
    }
}
