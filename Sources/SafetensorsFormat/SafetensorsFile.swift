import ByteIO
import StrictJSON
import TensorTypes

/// A validated, memory-mapped `.safetensors` file.
///
/// Format: Formats/safetensors.md. Opening parses and validates the header in two phases (JSON structure, then
/// offsets against shapes and the buffer) and touches no tensor data.
public struct SafetensorsFile: Sendable {
    /// The path the file was opened from.
    public var path: String { file.path }
    /// Tensors in header order.
    public let tensors: [SafetensorsTensor]
    /// The `__metadata__` map (empty when absent).
    public let metadata: [String: String]
    /// The JSON header's length in bytes (the value of the first 8 bytes).
    public let headerLength: Int
    /// The mapped file.
    public let file: MappedFile
    private let indexByName: [String: Int]

    /// Maps and validates the file at `path`.
    public init(path: String, limits: SafetensorsLimits = SafetensorsLimits()) throws(SafetensorsError) {
        let file: MappedFile
        do { file = try MappedFile(path: path) } catch { throw SafetensorsError(file: path, offset: nil, kind: .system(error)) }
        try self.init(file: file, limits: limits)
    }

    /// Validates bytes already in memory or mapped.
    public init(file: MappedFile, limits: SafetensorsLimits = SafetensorsLimits()) throws(SafetensorsError) {
        self.file = file
        func fail(_ offset: Int?, _ kind: SafetensorsError.Kind) -> SafetensorsError {
            SafetensorsError(file: file.path, offset: offset, kind: kind)
        }
        // Phase 1: structure.
        guard let declared = file.bytes.load(UInt64.self, at: 0) else { throw fail(0, .fileTooSmall) }
        guard declared <= UInt64(limits.maxHeaderBytes) else {
            throw fail(0, .headerTooLarge(length: declared, limit: limits.maxHeaderBytes))
        }
        let length = Int(declared)
        guard length <= file.count - 8 else { throw fail(0, .headerBeyondFile(length: declared, fileSize: file.count)) }
        let headerBytes = file.bytes.slice(offset: 8, length: length)!.array
        guard headerBytes.first == UInt8(ascii: "{") else { throw fail(8, .headerNotJSONObject) }
        var jsonLimits = JSONParser.Limits()
        jsonLimits.maxDepth = limits.maxJSONDepth
        let parsedHeader: JSONValue
        do { parsedHeader = try JSONParser.parse(headerBytes, limits: jsonLimits) } catch {
            throw fail(8 + error.offset, .invalidJSON(error.message))
        }
        guard let header = parsedHeader.objectValue else { throw fail(8, .headerNotJSONObject) }
        let bufferStart = 8 + length
        let bufferSize = file.count - bufferStart
        guard header.members.count <= limits.maxTensors + 1 else {
            throw fail(8, .tooManyTensors(count: header.members.count, limit: limits.maxTensors))
        }

        // Phase 2: entries, then offsets against shapes and the buffer.
        var metadata: [String: String] = [:]
        var parsed: [(name: String, dtype: DType, shape: TensorShape, begin: UInt64, end: UInt64, offset: Int)] = []
        for member in header.members {
            let offset = 8 + member.offset
            if member.key == "__metadata__" {
                guard let object = member.value.objectValue else { throw fail(offset, .invalidMetadata("is not an object")) }
                for entry in object.members {
                    guard let value = entry.value.stringValue else {
                        throw fail(8 + entry.offset, .invalidMetadata("value for \"\(entry.key)\" is not a string"))
                    }
                    metadata[entry.key] = value
                }
                continue
            }
            parsed.append(try Self.parseEntry(member, offset: offset, file: file.path))
        }
        parsed.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var expectedBegin: UInt64 = 0
        var tensors: [SafetensorsTensor] = []
        tensors.reserveCapacity(parsed.count)
        for entry in parsed {
            guard entry.begin == expectedBegin else {
                throw fail(entry.offset, .notContiguous(tensor: entry.name, begin: entry.begin, expected: expectedBegin))
            }
            guard entry.end >= entry.begin,
                  let needed = entry.dtype.byteCount(elements: entry.shape.elementCount),
                  UInt64(needed) == entry.end - entry.begin
            else {
                throw fail(entry.offset, .sizeMismatch(tensor: entry.name, begin: entry.begin, end: entry.end,
                                                      shape: entry.shape.dimensions, dtype: entry.dtype))
            }
            guard entry.end <= UInt64(bufferSize) else {
                throw fail(entry.offset, .incompleteBuffer(coveredBytes: entry.end, bufferBytes: bufferSize))
            }
            let view = file.bytes.slice(offset: bufferStart + Int(entry.begin), length: needed)!  // within buffer
            tensors.append(SafetensorsTensor(name: entry.name, dtype: entry.dtype, shape: entry.shape, data: view))
            expectedBegin = entry.end
        }
        guard expectedBegin == UInt64(bufferSize) else {
            throw fail(bufferStart + Int(min(expectedBegin, UInt64(bufferSize))),
                       .incompleteBuffer(coveredBytes: expectedBegin, bufferBytes: bufferSize))
        }
        // Keep header order for display.
        let order = Dictionary(uniqueKeysWithValues: header.members.enumerated().map { ($1.key, $0) })
        tensors.sort { order[$0.name]! < order[$1.name]! }
        self.tensors = tensors
        self.metadata = metadata
        self.headerLength = length
        self.indexByName = Dictionary(uniqueKeysWithValues: tensors.enumerated().map { ($1.name, $0) })
    }

    private static func parseEntry(
        _ member: JSONMember, offset: Int, file: String
    ) throws(SafetensorsError) -> (name: String, dtype: DType, shape: TensorShape, begin: UInt64, end: UInt64, offset: Int) {
        let name = member.key
        func invalid(_ reason: String) -> SafetensorsError {
            SafetensorsError(file: file, offset: offset, kind: .invalidEntry(tensor: name, reason: reason))
        }
        guard let entry = member.value.objectValue else { throw invalid("entry is not an object") }
        for key in entry.keys where !["dtype", "shape", "data_offsets"].contains(key) {
            throw invalid("unexpected field \"\(key)\"")
        }
        guard let dtypeName = entry["dtype"]?.stringValue else { throw invalid("missing or non-string \"dtype\"") }
        guard let dtype = DType(rawValue: dtypeName) else {
            throw SafetensorsError(file: file, offset: offset, kind: .unknownDType(tensor: name, dtype: dtypeName))
        }
        guard let shapeValues = entry["shape"]?.arrayValue else { throw invalid("missing or non-array \"shape\"") }
        var dimensions: [UInt64] = []
        for value in shapeValues {
            guard let dimension = value.uint64Value else { throw invalid("shape has a non-integer or negative entry") }
            dimensions.append(dimension)
        }
        guard let shape = TensorShape(dimensions.map { Int(exactly: $0) ?? -1 }),
              !shape.elementCount.multipliedReportingOverflow(by: dtype.bitWidth).overflow
        else {
            throw SafetensorsError(file: file, offset: offset, kind: .shapeOverflow(tensor: name, shape: dimensions))
        }
        guard let offsets = entry["data_offsets"]?.arrayValue, offsets.count == 2,
              let begin = offsets[0].uint64Value, let end = offsets[1].uint64Value
        else { throw invalid("\"data_offsets\" must be two non-negative integers") }
        return (name, dtype, shape, begin, end, offset)
    }

    /// The tensor named `name`.
    public func tensor(named name: String) throws(SafetensorsError) -> SafetensorsTensor {
        guard let index = indexByName[name] else { throw SafetensorsError(file: path, offset: nil, kind: .noSuchTensor(name)) }
        return tensors[index]
    }

    /// Whether the file declares a tensor named `name`.
    public func contains(_ name: String) -> Bool { indexByName[name] != nil }

    /// The tensor's values converted to `Float`.
    public func floats(_ tensor: SafetensorsTensor) throws(SafetensorsError) -> [Float] {
        do {
            return try tensor.data.withUnsafeBytes { (raw) throws(LittleEndianDecoding.Failure) in
                try LittleEndianDecoding.decode(raw, as: tensor.dtype, count: tensor.shape.elementCount)
            }
        } catch {
            throw SafetensorsError(file: path, offset: tensor.data.fileOffset,
                                   kind: .noFloatConversion(tensor: tensor.name, dtype: tensor.dtype))
        }
    }
}
