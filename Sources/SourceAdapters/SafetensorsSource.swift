import ByteIO
import GGUFFormat
import SafetensorsFormat
import StrictJSON
import TensorModel
import TensorTypes

/// A Hugging Face checkpoint (single file or shards) served as a ``TensorSource``, with its `config.json`.
public struct SafetensorsSource: TensorSource {
    public let checkpoint: SafetensorsCheckpoint
    public let path: String
    public let tensors: [TensorDescriptor]
    public let configuration: ModelConfiguration?

    /// The configuration and tokenizer files found beside the weights.
    public let attachments: [Attachment]

    public var format: SourceFormat { .safetensors(shards: checkpoint.files.count) }
    public var fileBytes: Int { checkpoint.fileBytes }
    public var provenance: Provenance? { nil }
    public func ggufMetadata() -> GGUFFile? { nil }

    public var sections: [SourceSection] {
        checkpoint.files.flatMap { file in
            [SourceSection(name: "header", file: file.path, offset: 0, bytes: 8 + file.headerLength),
             SourceSection(name: "tensor data", file: file.path, offset: 8 + file.headerLength, bytes: file.file.count - 8 - file.headerLength)]
        }
    }

    /// Opens a file, index or directory; reads `config.json` beside it when present. A `config.json` that is there
    /// but malformed is an error naming it (and the key), as a GGUF with broken metadata is: nothing is sized from a
    /// configuration that did not parse, and nothing silently drops it. An MLX-LM checkpoint (a `quantization`
    /// block in config.json) shows each packed weight with its scales and biases as one tensor.
    public init(path: String) throws {
        checkpoint = try SafetensorsCheckpoint(path: path)
        self.path = path
        let directory = checkpoint.directory
        attachments = Attachment.huggingFaceFiles.compactMap { name in
            (try? MappedFile(path: directory + "/" + name)).map { Attachment(name: name, bytes: $0.bytes) }
        }
        let configPath = directory + "/config.json"
        var packed: [String: MLXQuantization.Packed] = [:]
        if FileSystem.exists(configPath) {
            let file = try MappedFile(path: configPath)
            let parsed: JSONValue
            do { parsed = try JSONParser.parse(file.bytes.array) } catch {
                throw TensorSourceError.invalidConfiguration(file: configPath, "not valid JSON: \(error)")
            }
            guard let object = parsed.objectValue else {
                throw TensorSourceError.invalidConfiguration(file: configPath, "not a JSON object")
            }
            configuration = try ModelConfiguration(huggingFace: object, file: configPath)
            packed = try MLXQuantization(config: object, file: configPath)?.packedTensors(in: checkpoint) ?? [:]
        } else {
            configuration = nil
        }
        mlxTensors = packed
        let parts = Set(packed.keys.flatMap { name in
            let module = name.dropLast(".weight".count)
            return ["\(module).scales", "\(module).biases"]
        })
        tensors = checkpoint.files.flatMap { file in
            file.tensors.compactMap { tensor in
                if parts.contains(tensor.name) { return nil }
                if let mlx = packed[tensor.name] {
                    return TensorDescriptor(name: tensor.name, role: TensorRole(tensorName: tensor.name), encoding: .mlx(mlx.affine),
                                            shape: mlx.shape, byteCount: mlx.byteCount, file: file.path, fileOffset: tensor.data.fileOffset)
                }
                return TensorDescriptor(name: tensor.name, role: TensorRole(tensorName: tensor.name), encoding: .plain(tensor.dtype),
                                        shape: tensor.shape, byteCount: tensor.data.count, file: file.path,
                                        fileOffset: tensor.data.fileOffset)
            }
        }
    }

    /// The MLX-quantized tensors, by the name of their packed weight.
    private let mlxTensors: [String: MLXQuantization.Packed]

    public func floats(_ name: String, rows: Range<Int>) throws -> [Float] {
        if let mlx = mlxTensors[name] {
            guard rows.lowerBound >= 0, rows.upperBound <= mlx.shape.rowCount else {
                throw TensorSourceError.rowsOutOfRange(path, tensor: name, rows: rows, rowCount: mlx.shape.rowCount)
            }
            return try mlx.floats(rows: rows)
        }
        let (tensor, file) = try checkpoint.tensor(named: name)
        let rowLength = tensor.shape.rowLength
        guard rows.lowerBound >= 0, rows.upperBound <= tensor.shape.rowCount else {
            throw TensorSourceError.rowsOutOfRange(path, tensor: name, rows: rows, rowCount: tensor.shape.rowCount)
        }
        guard !rows.isEmpty, rowLength > 0 else { return [] }  // empty tensors may declare huge row lengths
        guard tensor.dtype.convertsToFloat else {
            throw SafetensorsError(file: file.path, offset: tensor.data.fileOffset, kind: .noFloatConversion(tensor: name, dtype: tensor.dtype))
        }
        let rowBytes = tensor.dtype.byteCount(elements: rowLength)
        guard let rowBytes else {
            // Sub-byte rows that do not fill whole bytes: decode everything, then cut.
            let all = try file.floats(tensor)
            return Array(all[(rows.lowerBound * rowLength)..<(rows.upperBound * rowLength)])
        }
        let slice = tensor.data.slice(offset: rows.lowerBound * rowBytes, length: rows.count * rowBytes)!
        return try slice.withUnsafeBytes { raw in try LittleEndianDecoding.decode(raw, as: tensor.dtype, count: rows.count * rowLength) }
    }

    /// The tensor's bytes; for an MLX-quantized tensor, its packed words (the scales and biases are read with its values).
    public func storedBytes(_ name: String) throws -> ByteView { try checkpoint.tensor(named: name).0.data }

    public func deepCheck() -> [String] {
        var problems: [String] = []
        for tensor in tensors where tensor.isReadable {
            do {
                let values = try floats(tensor.name)
                if let bad = values.firstIndex(where: { !$0.isFinite }), TensorTypes.DType(rawValue: tensor.storage)?.isFloatingPoint == true {
                    problems.append("tensor '\(tensor.name)': non-finite value \(values[bad]) at element \(bad)")
                }
            } catch {
                problems.append("\(error)")
            }
        }
        return problems
    }
}
