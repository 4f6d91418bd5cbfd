import ByteIO
import GGUFFormat
import PackFormat
import TensorModel
import TensorTypes

/// A model as a recipe would make it, held in memory instead of written: the tensors the recipe changes are encoded
/// exactly as ``PackConverter`` writes them into a pack (same quantizer, same calibration, same records), every other
/// tensor is read from the base source. The reference inference runs on it as on any source, so sensitivity
/// measurements and budget searches try many recipes without writing a file per try.
///
/// Memory: the changed tensors' encoded bytes (quantizing one layer holds that layer only).
public final class QuantizedView: TensorSource {
    public let base: any TensorSource
    public let tensors: [TensorDescriptor]
    private let replaced: [String: ByteView]

    /// Encodes the tensors of `base` that `include` selects (all by default) under `recipe`.
    public init(_ base: any TensorSource, recipe: Recipe, calibration: Calibration? = nil,
                include: (TensorDescriptor) -> Bool = { _ in true }) throws {
        try recipe.validate()
        self.base = base
        let sink = MemorySink()
        var job = PackConverter.Job(source: base, writer: sink, options: PackConverter.Options(recipe: recipe, calibration: calibration))
        let pleGroup = base.configuration?.perLayerInputSize
        var descriptors: [TensorDescriptor] = []
        var replaced: [String: ByteView] = [:]
        for tensor in base.tensors {
            guard tensor.encoding != .file, include(tensor) else {
                descriptors.append(tensor)
                continue
            }
            let decision = try recipe.decision(for: tensor, pleGroup: tensor.role == .perLayerEmbedding ? pleGroup : nil)
            let plan = PackConverter.Plan(tensor, decision, requantize: false)
            switch plan {
            case .keep, .carry:
                descriptors.append(tensor)
                continue
            case .convert, .quantize, .reencode:
                break
            }
            let (encoding, _) = try job.write(tensor, plan, section: tensor.role == .perLayerEmbedding ? .ple : .core)
            let bytes = MappedFile(bytes: sink.take(), name: "\(base.path) (\(tensor.name) as \(encoding), in memory)").bytes
            replaced[tensor.name] = bytes
            descriptors.append(TensorDescriptor(name: tensor.name, role: tensor.role, encoding: encoding, shape: tensor.shape,
                                                byteCount: bytes.count, file: bytes.file.path, fileOffset: 0))
        }
        self.tensors = descriptors
        self.replaced = replaced
    }

    /// Bytes the view holds in memory (its changed tensors).
    public var heldBytes: Int { replaced.values.map(\.count).reduce(0, +) }

    public var path: String { base.path }
    public var format: SourceFormat { base.format }
    public var configuration: ModelConfiguration? { base.configuration }
    public var fileBytes: Int { base.fileBytes - base.tensors.filter { replaced[$0.name] != nil }.map(\.byteCount).reduce(0, +) + heldBytes }
    public var attachments: [Attachment] { base.attachments }
    public var sections: [SourceSection] { base.sections }
    public var provenance: Provenance? { base.provenance }
    public func ggufMetadata() throws -> GGUFFile? { try base.ggufMetadata() }

    public func floats(_ name: String, rows: Range<Int>) throws -> [Float] {
        guard let bytes = replaced[name] else { return try base.floats(name, rows: rows) }
        let tensor = try descriptor(name)
        guard case .rows(let scheme) = tensor.encoding else {
            guard case .plain(let dtype) = tensor.encoding else { preconditionFailure("a view holds rows or plain floats") }
            let width = tensor.shape.rowLength, size = dtype.byteCount(elements: width)!
            guard rows.lowerBound >= 0, rows.upperBound <= tensor.shape.rowCount else {
                throw TensorSourceError.rowsOutOfRange(path, tensor: name, rows: rows, rowCount: tensor.shape.rowCount)
            }
            return FloatEncoding.decode(bytes.slice(offset: rows.lowerBound * size, length: rows.count * size)!.array, as: dtype)
        }
        guard rows.lowerBound >= 0, rows.upperBound <= tensor.shape.rowCount else {
            throw TensorSourceError.rowsOutOfRange(path, tensor: name, rows: rows, rowCount: tensor.shape.rowCount)
        }
        let width = tensor.shape.rowLength, stride = bytes.count / max(1, tensor.shape.rowCount)
        var values = [Float](repeating: 0, count: rows.count * width)
        bytes.withUnsafeBytes { raw in
            values.withUnsafeMutableBufferPointer { out in
                for (index, row) in rows.enumerated() {
                    RowDequantizer.dequantize(UnsafeRawBufferPointer(rebasing: raw[(row * stride)..<((row + 1) * stride)]), scheme: scheme,
                                              into: UnsafeMutableBufferPointer(rebasing: out[(index * width)..<((index + 1) * width)]))
                }
            }
        }
        return values
    }

    public func storedBytes(_ name: String) throws -> ByteView { try replaced[name] ?? base.storedBytes(name) }
    public func lookupTable(_ name: String) throws -> LookupTable {
        if let bytes = replaced[name] { return LookupTable(bytes: bytes, checksums: nil) }
        return try base.lookupTable(name)
    }
    public func deepCheck() -> [String] { base.deepCheck() }
}

/// Collects one tensor's bytes at a time in memory.
final class MemorySink: TensorSink {
    private var bytes: [UInt8] = []

    func beginTensor(_ spec: PackWriter.TensorSpec) throws { bytes.removeAll(keepingCapacity: false) }
    func append(_ chunk: UnsafeRawBufferPointer) throws { bytes.append(contentsOf: chunk) }
    func append(_ chunk: [UInt8]) throws { bytes.append(contentsOf: chunk) }
    func endTensor() throws {}

    /// The finished tensor's bytes (the sink is then empty).
    func take() -> [UInt8] {
        defer { bytes = [] }
        return bytes
    }
}
