import Foundation
import TensorModel

/// The pack's metadata JSON (Formats/lpk.md §8).
public struct PackMetadata: Codable, Sendable {
    /// The program that wrote the pack.
    public struct Tool: Codable, Sendable {
        public var name = "layerpack"
        public var version = LayerPackVersion.current
    }

    /// One file the pack was made from.
    public struct SourceFile: Codable, Sendable {
        public let name: String
        public let bytes: Int
        /// XXH64 of the file, hex.
        public let xxh64: String
    }

    /// Where the pack came from.
    public struct Source: Codable, Sendable {
        public let format: String
        public let files: [SourceFile]
    }

    public var schemaVersion = 1
    public var tool = Tool()
    public var source: Source
    public var configuration: ModelConfiguration?
    public var recipe: Recipe?

    /// The JSON bytes (sorted keys, so the same pack always gets the same bytes).
    public func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(self))
    }

    /// Decodes metadata JSON.
    public static func decode(_ bytes: [UInt8]) throws -> PackMetadata {
        try JSONDecoder().decode(PackMetadata.self, from: Data(bytes))
    }
}

/// LayerPack's version, recorded in every pack it writes.
public enum LayerPackVersion {
    public static let current = "0.1.0"
}
