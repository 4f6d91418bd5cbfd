import ByteIO
import StrictJSON
import TensorTypes

/// A Hugging Face checkpoint: one `.safetensors` file, or several shards tied together by
/// `model.safetensors.index.json`, seen as one set of uniquely named tensors.
public struct SafetensorsCheckpoint: Sendable {
    /// The shards, in the order they were opened.
    public let files: [SafetensorsFile]
    /// The directory holding the shards (and usually `config.json`).
    public let directory: String
    /// Every tensor of every shard, in shard then header order.
    public let tensors: [SafetensorsTensor]
    private let location: [String: (file: Int, tensor: Int)]

    /// The index file's name in a sharded Hugging Face directory.
    public static let indexFileName = "model.safetensors.index.json"

    /// Opens `path`: a `.safetensors` file, an index JSON, or a directory holding either.
    ///
    /// A directory with an index uses it; otherwise `model.safetensors`; otherwise every `*.safetensors` file in
    /// name order. An index must name only plain file names in its directory, and every tensor it lists must be in
    /// the shard it names; a shard's tensors that the index does not list are refused.
    public init(path: String, limits: SafetensorsLimits = SafetensorsLimits()) throws(SafetensorsError) {
        if FileSystem.isDirectory(path) {
            let indexPath = path + "/" + Self.indexFileName
            if FileSystem.exists(indexPath) {
                try self.init(indexPath: indexPath, limits: limits)
            } else if FileSystem.exists(path + "/model.safetensors") {
                try self.init(shards: [try SafetensorsFile(path: path + "/model.safetensors", limits: limits)], directory: path)
            } else {
                let names = FileSystem.contents(ofDirectory: path).filter { $0.hasSuffix(".safetensors") }.sorted()
                guard !names.isEmpty else { throw SafetensorsError(file: path, offset: nil, kind: .noSafetensorsFiles) }
                var shards: [SafetensorsFile] = []
                for name in names { shards.append(try SafetensorsFile(path: path + "/" + name, limits: limits)) }
                try self.init(shards: shards, directory: path)
            }
        } else if path.hasSuffix(".json") {
            try self.init(indexPath: path, limits: limits)
        } else {
            try self.init(shards: [try SafetensorsFile(path: path, limits: limits)], directory: FileSystem.parent(of: path))
        }
    }

    private init(indexPath: String, limits: SafetensorsLimits) throws(SafetensorsError) {
        func invalid(_ reason: String, _ offset: Int? = nil) -> SafetensorsError {
            SafetensorsError(file: indexPath, offset: offset, kind: .invalidIndex(reason))
        }
        let bytes: MappedFile
        do { bytes = try MappedFile(path: indexPath) } catch { throw SafetensorsError(file: indexPath, offset: nil, kind: .system(error)) }
        guard bytes.count <= limits.maxHeaderBytes else { throw invalid("index larger than \(limits.maxHeaderBytes) bytes") }
        let json: JSONValue
        do { json = try JSONParser.parse(bytes.bytes.array) } catch { throw invalid(error.message, error.offset) }
        guard let map = json.objectValue?["weight_map"]?.objectValue else { throw invalid("no \"weight_map\" object") }
        guard !map.members.isEmpty else { throw invalid("\"weight_map\" is empty: the index names no tensor") }
        let directory = FileSystem.parent(of: indexPath)
        var shardOrder: [String] = []
        var expected: [String: Set<String>] = [:]
        for member in map.members {
            guard let shard = member.value.stringValue else { throw invalid("weight_map value for '\(member.key)' is not a string", member.offset) }
            guard !shard.isEmpty, !shard.contains("/"), shard != "..", shard != "." else {
                throw invalid("shard name \"\(shard)\" for '\(member.key)' is not a plain file name", member.offset)
            }
            if expected[shard] == nil { shardOrder.append(shard) }
            expected[shard, default: []].insert(member.key)
        }
        var shards: [SafetensorsFile] = []
        for name in shardOrder {
            let shard = try SafetensorsFile(path: directory + "/" + name, limits: limits)
            let present = Set(shard.tensors.map(\.name))
            if let missing = expected[name]!.subtracting(present).sorted().first {
                throw invalid("tensor '\(missing)' is mapped to \(name) but that shard does not contain it")
            }
            if let extra = present.subtracting(expected[name]!).sorted().first {
                throw invalid("shard \(name) holds tensor '\(extra)' that weight_map does not list there")
            }
            shards.append(shard)
        }
        try self.init(shards: shards, directory: directory)
    }

    private init(shards: [SafetensorsFile], directory: String) throws(SafetensorsError) {
        var location: [String: (file: Int, tensor: Int)] = [:]
        var tensors: [SafetensorsTensor] = []
        for (fileIndex, shard) in shards.enumerated() {
            for (tensorIndex, tensor) in shard.tensors.enumerated() {
                if let previous = location[tensor.name] {
                    throw SafetensorsError(file: shard.path, offset: nil,
                                           kind: .duplicateTensor(tensor: tensor.name, otherFile: shards[previous.file].path))
                }
                location[tensor.name] = (fileIndex, tensorIndex)
                tensors.append(tensor)
            }
        }
        self.files = shards
        self.directory = directory
        self.tensors = tensors
        self.location = location
    }

    /// The tensor named `name` and the shard holding it.
    public func tensor(named name: String) throws(SafetensorsError) -> (SafetensorsTensor, SafetensorsFile) {
        guard let place = location[name] else { throw SafetensorsError(file: directory, offset: nil, kind: .noSuchTensor(name)) }
        return (files[place.file].tensors[place.tensor], files[place.file])
    }

    /// Total bytes of all shards.
    public var fileBytes: Int { files.reduce(0) { $0 + $1.file.count } }
}
