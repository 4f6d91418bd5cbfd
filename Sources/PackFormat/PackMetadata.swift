import Foundation
import TensorModel

/// The pack's metadata JSON (Formats/lpk.md §8).
///
/// Decoding is tolerant of what later versions add and of fields earlier versions left out: unknown keys are
/// ignored, a missing `configuration` or `recipe` is absent, and a configuration missing fields takes
/// ``ModelConfiguration``'s defaults for them.
public struct PackMetadata: Codable, Sendable {
    /// The program that wrote the pack.
    public typealias Tool = Provenance.Tool

    /// Where the pack came from.
    public struct Source: Codable, Sendable {
        public let format: String
        public let files: [Provenance.SourceFile]

        public init(format: String, files: [Provenance.SourceFile]) {
            self.format = format
            self.files = files
        }
    }

    public var schemaVersion = 1
    public var tool = Tool(name: "layerpack", version: LayerPackVersion.current)
    public var source: Source
    public var configuration: ModelConfiguration?
    public var recipe: Recipe?

    public init(source: Source, configuration: ModelConfiguration?, recipe: Recipe?) {
        self.source = source
        self.configuration = configuration
        self.recipe = recipe
    }

    /// The provenance this metadata records.
    public var provenance: Provenance {
        Provenance(tool: tool, sourceFormat: source.format, sourceFiles: source.files, recipe: recipe)
    }

    /// The JSON bytes (sorted keys, so the same pack always gets the same bytes).
    public func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(self))
    }

    /// Decodes metadata JSON.
    /// - Throws: `DecodingError` naming the field that is wrong.
    public static func decode(_ bytes: [UInt8]) throws -> PackMetadata {
        try JSONDecoder().decode(PackMetadata.self, from: Data(bytes))
    }
}

/// LayerPack's version, recorded in every pack it writes.
public enum LayerPackVersion {
    public static let current = "0.2.0"
}
