/// Where in a file a problem lies.
public enum ErrorLocation: Sendable, Equatable, CustomStringConvertible {
    /// A byte offset in the file.
    case offset(Int)
    /// A key of a JSON or GGUF metadata object (`rope_theta`, `gemma3.block_count`).
    case key(String)
    /// A tensor, by name.
    case tensor(String)

    public var description: String {
        switch self {
        case .offset(let offset): "at offset \(Hex(offset))"
        case .key(let key): "key '\(key)'"
        case .tensor(let name): "tensor '\(name)'"
        }
    }
}

/// The one shape every LayerPack error has: a kind to match on, the file it concerns, where in that file, and what
/// is wrong in plain words. Its description reads `FILE at offset 0x10: message` (or `FILE key 'k': …`).
public protocol LayerPackError: Error, Sendable, CustomStringConvertible {
    /// What kind of problem this is: the value tests and callers match on.
    associatedtype Kind: Sendable, Equatable
    var kind: Kind { get }
    /// The file the problem concerns, when there is one.
    var path: String? { get }
    /// Where in that file.
    var location: ErrorLocation? { get }
    /// What is wrong and what was expected, without the file and the location.
    var message: String { get }
}

extension LayerPackError {
    public var description: String {
        let place = [path, location?.description].compactMap { $0 }.joined(separator: " ")
        return place.isEmpty ? message : "\(place): \(message)"
    }
}
