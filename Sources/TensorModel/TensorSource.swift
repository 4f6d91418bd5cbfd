import ByteIO
import GGUFFormat
import TensorTypes

/// A model checkpoint seen as named tensors plus a configuration, whatever the container.
///
/// Safetensors checkpoints, GGUF files and packs all serve this protocol; everything downstream (inspection,
/// quantization, inference, export) reads models only through it. What only some containers have is asked for
/// through the capabilities below (attachments, GGUF metadata, sections, provenance), never by casting to a type.
public protocol TensorSource: Sendable {
    /// The path that was opened.
    var path: String { get }
    /// The kind of container.
    var format: SourceFormat { get }
    /// Every tensor, in the source's order (attached files are not tensors: see ``attachments``).
    var tensors: [TensorDescriptor] { get }
    /// The model description, when the source carries one (config.json, GGUF metadata, pack metadata).
    var configuration: ModelConfiguration? { get }
    /// Total bytes of the source's files.
    var fileBytes: Int { get }
    /// Files that travel with the model: a Hugging Face checkpoint's config and tokenizer files, or those a pack
    /// carries. GGUF metadata is not among them: see ``ggufMetadata()``.
    var attachments: [Attachment] { get }
    /// Where the bytes go: the container's parts in file order.
    var sections: [SourceSection] { get }
    /// Where a converted model came from and how it was made (packs); nil for checkpoints as downloaded.
    var provenance: Provenance? { get }
    /// The GGUF metadata the model carries (a GGUF file's own, or the copy a pack made from one keeps), else nil.
    /// - Throws: when a carried copy is damaged.
    func ggufMetadata() throws -> GGUFFile?
    /// Rows `rows` of the named tensor as `Float` (a row is the innermost dimension).
    func floats(_ name: String, rows: Range<Int>) throws -> [Float]
    /// The tensor's bytes as stored (in its ``TensorDescriptor/encoding``), zero-copy; a source with checksums
    /// verifies them (the first time) before handing the bytes out.
    func storedBytes(_ name: String) throws -> ByteView
    /// A table read one row at a time (the PLE table): its bytes, and the block checksums to verify each row's
    /// blocks against when it is first read, where the source has them (it then verifies nothing up front).
    func lookupTable(_ name: String) throws -> LookupTable
    /// Runs every check opening skipped (full metadata decoding, every tensor readable); returns problems found.
    func deepCheck() -> [String]
}

extension TensorSource {
    /// The container's name for display (`safetensors (3 shards)`, `GGUF v3`, `LayerPack pack v1.1`).
    public var formatName: String { format.description }

    /// The whole named tensor as `Float`.
    public func floats(_ name: String) throws -> [Float] {
        try floats(name, rows: 0..<descriptor(name).shape.rowCount)
    }

    /// The descriptor of the named tensor.
    public func descriptor(_ name: String) throws -> TensorDescriptor {
        guard let descriptor = tensors.first(where: { $0.name == name }) else { throw TensorSourceError.noSuchTensor(name, path) }
        return descriptor
    }

    /// Every file the source reads: tensor files (shards, a pack's companion), attached files, and the path opened.
    public var inputFiles: [String] {
        var seen = Set<String>()
        return ([path] + tensors.map(\.file) + attachments.map(\.bytes.file.path)).filter { seen.insert($0).inserted }
    }

    /// The table's bytes, without block checksums (sources that have them override this).
    public func lookupTable(_ name: String) throws -> LookupTable { LookupTable(bytes: try storedBytes(name), checksums: nil) }

    /// The attached file called `name`, if the source carries one.
    public func attachment(named name: String) -> Attachment? { attachments.first { $0.name == name } }
}

/// A table's stored bytes and, where its source has them, the checksums of its blocks.
public struct LookupTable: Sendable {
    public let bytes: ByteView
    public let checksums: BlockChecksums?

    public init(bytes: ByteView, checksums: BlockChecksums?) {
        self.bytes = bytes
        self.checksums = checksums
    }
}

/// The kinds of container a ``TensorSource`` can be.
public enum SourceFormat: Sendable, Equatable, CustomStringConvertible {
    /// Hugging Face safetensors, one file or several shards.
    case safetensors(shards: Int)
    /// A GGUF file of the given version.
    case gguf(version: Int)
    /// A LayerPack pack; `companion` is the path of its `.ple` file when the PLE section lives there.
    case pack(major: Int, minor: Int, companion: String?)

    public var description: String {
        switch self {
        case .safetensors(let shards): shards > 1 ? "safetensors (\(shards) shards)" : "safetensors"
        case .gguf(let version): "GGUF v\(version)"
        case .pack(let major, let minor, let companion):
            "LayerPack pack v\(major).\(minor)" + (companion.map { " (PLE in \($0))" } ?? "")
        }
    }

    /// Whether the source is a LayerPack pack.
    public var isPack: Bool { if case .pack = self { true } else { false } }
}

/// A file that travels with a model (`config.json`, `tokenizer.json`, …), by name.
public struct Attachment: Sendable {
    /// The file's name (`tokenizer.json`).
    public let name: String
    /// Its bytes.
    public let bytes: ByteView

    public init(name: String, bytes: ByteView) {
        self.name = name
        self.bytes = bytes
    }

    /// Where the bytes live, for messages: the file's own path, or the container that carries it.
    public var location: String {
        let holder = bytes.file.path
        return holder.hasSuffix("/" + name) || holder == name ? holder : "\(holder) (carried \(name))"
    }

    /// The files of a Hugging Face checkpoint that describe it besides its weights, in the order they are carried.
    public static let huggingFaceFiles = ["config.json", "generation_config.json", "tokenizer.json", "tokenizer.model",
                                          "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja"]
}

/// One part of a container, for showing where the bytes go.
public struct SourceSection: Sendable, Codable, Equatable {
    /// What the part is (`header`, `core tensors`, `per-layer embeddings`, `index`).
    public let name: String
    /// The file holding it.
    public let file: String
    /// Its first byte in that file.
    public let offset: Int
    /// Its length in bytes.
    public let bytes: Int

    public init(name: String, file: String, offset: Int, bytes: Int) {
        self.name = name
        self.file = file
        self.offset = offset
        self.bytes = bytes
    }
}

/// Where a converted model came from: the tool, the source files, and the recipe.
public struct Provenance: Sendable, Codable, Equatable {
    /// The program that wrote the model.
    public struct Tool: Sendable, Codable, Equatable {
        public var name: String
        public var version: String

        public init(name: String, version: String) {
            self.name = name
            self.version = version
        }
    }

    /// One file the model was made from.
    public struct SourceFile: Sendable, Codable, Equatable {
        public let name: String
        public let bytes: Int
        /// XXH64 of the file, hex.
        public let xxh64: String

        public init(name: String, bytes: Int, xxh64: String) {
            self.name = name
            self.bytes = bytes
            self.xxh64 = xxh64
        }
    }

    public var tool: Tool
    /// The source's container, as ``SourceFormat`` describes it.
    public var sourceFormat: String
    public var sourceFiles: [SourceFile]
    /// The recipe, for quantized models (nil: a lossless import).
    public var recipe: Recipe?

    public init(tool: Tool, sourceFormat: String, sourceFiles: [SourceFile], recipe: Recipe?) {
        self.tool = tool
        self.sourceFormat = sourceFormat
        self.sourceFiles = sourceFiles
        self.recipe = recipe
    }
}

/// Why a model could not be opened or read, whatever its format: the kind, the file, the tensor or key, and what
/// is wrong.
public struct TensorSourceError: LayerPackError {
    /// What kind of problem.
    public enum Kind: Sendable, Equatable {
        case noSuchTensor
        case rowsOutOfRange
        case unrecognizedFormat
        case invalidConfiguration
    }

    public let kind: Kind
    public let path: String?
    public let location: ErrorLocation?
    public let message: String

    public init(_ kind: Kind, path: String?, location: ErrorLocation? = nil, _ message: String) {
        self.kind = kind
        self.path = path
        self.location = location
        self.message = message
    }

    /// `path` has no tensor `name`.
    public static func noSuchTensor(_ name: String, _ path: String) -> Self {
        Self(.noSuchTensor, path: path, location: .tensor(name), "no such tensor")
    }

    /// Rows asked of a tensor that it does not have.
    public static func rowsOutOfRange(_ path: String, tensor: String, rows: Range<Int>, rowCount: Int) -> Self {
        Self(.rowsOutOfRange, path: path, location: .tensor(tensor), "rows \(rows.lowerBound):\(rows.upperBound) outside 0:\(rowCount)")
    }

    /// A configuration (config.json or metadata) that does not describe a model LayerPack can run.
    public static func invalidConfiguration(file: String, key: String? = nil, _ reason: String) -> Self {
        Self(.invalidConfiguration, path: file, location: key.map(ErrorLocation.key), reason)
    }
}
