import ByteIO
import GGUFFormat
import TensorModel
import TensorTypes

/// One tensor record of a pack (Formats/lpk.md §3), decoded.
public struct PackTensorRecord: Sendable, Equatable {
    public var name: String
    public var role: TensorRole
    public var section: PackSection
    public var encoding: PackEncoding
    public var shape: TensorShape
    /// Absolute offset of the data (in the companion file for PLE tensors of a split pack).
    public var dataOffset: Int
    public var dataLength: Int
    /// Bytes between row records (row encoding only, else 0).
    public var rowStride: Int
    public var checksum: UInt64
    /// The values' type before quantization, when known.
    public var sourceDType: DType?
    /// Where the tensor's block checksums are (absolute offset inside the index), how many there are and the block
    /// size (format 1.1, PLE tensors: §3 bytes 92–111); all 0 when the tensor has none.
    public var blockChecksumOffset = 0
    public var blockCount = 0
    public var blockSize = 0

    /// The bytes the encoding and shape require, with the given stride for row records; nil when impossible.
    public static func expectedLength(encoding: PackEncoding, shape: TensorShape, rowStride: Int) -> Int? {
        switch encoding {
        case .plain(let dtype): return dtype.byteCount(elements: shape.elementCount)
        case .ggml(let type): return shape.rank == 0 ? nil : type.byteCount(elements: shape.elementCount)
        case .rows(let scheme):
            guard shape.rank >= 1, scheme.accepts(rowLength: shape.rowLength),
                  rowStride >= scheme.recordBytes(rowLength: shape.rowLength) else { return nil }
            let (total, overflow) = shape.rowCount.multipliedReportingOverflow(by: rowStride)
            return overflow ? nil : total
        case .file: return shape.rank == 1 ? shape.elementCount : nil
        case .mlx: return nil  // §3 has no code for them: converted before writing
        }
    }

    /// Encodes the record; the name goes to the string table at `nameOffset`.
    func encoded(nameOffset: Int) -> [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(PackLayout.recordBytes)
        func put<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
        put(UInt64(nameOffset))
        put(UInt32(name.utf8.count))
        put(PackLayout.id(of: role))
        put(section.rawValue)
        put(encoding.packCode)
        put(UInt8(shape.rank))
        switch encoding {
        case .plain(let dtype): put(PackLayout.id(of: dtype)); put(UInt32(0))
        case .ggml(let type): put(type.rawValue); put(UInt32(0))
        case .rows(let scheme): put(UInt32(scheme.bits.rawValue)); put(UInt32(scheme.groupSize ?? 0))
        case .file: put(UInt32(0)); put(UInt32(0))
        case .mlx: preconditionFailure("a pack cannot hold MLX groups: PackWriter refuses them (expectedLength is nil)")
        }
        for index in 0..<PackLayout.maxRank { put(UInt64(index < shape.rank ? shape.dimensions[index] : 0)) }
        put(UInt64(dataOffset))
        put(UInt64(dataLength))
        put(UInt64(rowStride))
        put(checksum)
        put(sourceDType.map(PackLayout.id(of:)) ?? PackLayout.unknownDType)
        put(UInt64(blockChecksumOffset))
        put(UInt64(blockCount))
        put(UInt32(blockSize))
        bytes += [UInt8](repeating: 0, count: PackLayout.recordBytes - bytes.count)
        return bytes
    }

    /// Decodes the record at `view` (128 bytes) with names from `strings`.
    /// - Throws: a description of the first field that is wrong; the caller adds file and offset.
    static func decode(_ view: ByteView, strings: ByteView) throws(PackRecordProblem) -> PackTensorRecord {
        var reader = ByteReader(view)
        func read<T: FixedWidthInteger>(_: T.Type) -> T { try! reader.read(T.self) }  // the view is exactly 128 bytes
        let nameOffset = read(UInt64.self), nameLength = read(UInt32.self)
        let roleID = read(UInt8.self), sectionID = read(UInt8.self), encodingID = read(UInt8.self), rank = read(UInt8.self)
        let typeID = read(UInt32.self), group = read(UInt32.self)
        let dims = (0..<PackLayout.maxRank).map { _ in read(UInt64.self) }
        let offset = read(UInt64.self), length = read(UInt64.self), stride = read(UInt64.self)
        let checksum = read(UInt64.self), sourceID = read(UInt32.self)
        let blockOffset = read(UInt64.self), blockCount = read(UInt64.self), blockSize = read(UInt32.self)
        let reserved = view.slice(offset: 112, length: 16)!.array

        guard nameLength >= 1, nameLength <= UInt32(PackLayout.maxNameBytes), nameOffset <= UInt64(strings.count),
              UInt64(nameLength) <= UInt64(strings.count) - nameOffset,
              let name = strings.slice(offset: Int(nameOffset), length: Int(nameLength))!.withUnsafeBytes({ String(validating: $0, as: UTF8.self) })
        else { throw PackRecordProblem(tensor: nil, reason: "name (offset \(nameOffset), length \(nameLength)) is outside the string table or not UTF-8") }
        func problem(_ reason: String) -> PackRecordProblem { PackRecordProblem(tensor: name, reason: reason) }
        guard reserved.allSatisfy({ $0 == 0 }) else { throw problem("reserved bytes are not zero") }
        guard let role = PackLayout.role(id: roleID) else { throw problem("unknown role \(roleID)") }
        guard let section = PackSection(rawValue: sectionID) else { throw problem("unknown section \(sectionID)") }
        guard rank <= UInt8(PackLayout.maxRank) else { throw problem("rank \(rank) exceeds \(PackLayout.maxRank)") }
        guard dims[Int(rank)...].allSatisfy({ $0 == 0 }) else { throw problem("unused dimensions are not zero") }
        guard let shape = TensorShape(dims[..<Int(rank)].map { Int(exactly: $0) ?? -1 }) else {
            throw problem("dimensions \(Array(dims[..<Int(rank)])) overflow")
        }
        let encoding: PackEncoding
        switch encodingID {
        case 0:
            guard let dtype = PackLayout.dtype(id: typeID) else { throw problem("unknown dtype id \(typeID)") }
            encoding = .plain(dtype)
        case 1:
            guard let type = GGMLType(rawValue: typeID) else { throw problem("unknown ggml type id \(typeID)") }
            encoding = .ggml(type)
        case 2:
            let groupSize: Int? = group == 0 ? nil : Int(group)
            guard let bits = Int(exactly: typeID).flatMap(RowBits.init(rawValue:)),
                  groupSize.map({ $0 > 0 && $0 % 2 == 0 && $0 % bits.valuesPerByte == 0 && $0 <= 1 << 20 }) ?? true
            else { throw problem("unsupported row scheme: \(typeID) bits, group \(group)") }
            encoding = .rows(RowScheme(bits: bits, groupSize: groupSize))
        case 3: encoding = .file
        default: throw problem("unknown encoding \(encodingID)")
        }
        guard let dataOffset = Int(exactly: offset), let dataLength = Int(exactly: length), let rowStride = Int(exactly: stride) else {
            throw problem("offset, length or stride exceeds 2^63")
        }
        if case .rows = encoding {} else if rowStride != 0 { throw problem("row stride \(rowStride) on a tensor without row records") }
        guard let expected = expectedLength(encoding: encoding, shape: shape, rowStride: rowStride), expected == dataLength else {
            throw problem("data length \(dataLength) does not match its shape \(shape) and encoding")
        }
        let sourceDType: DType?
        if sourceID == PackLayout.unknownDType {
            sourceDType = nil
        } else {
            guard let dtype = PackLayout.dtype(id: sourceID) else { throw problem("unknown source dtype id \(sourceID)") }
            sourceDType = dtype
        }
        var record = PackTensorRecord(name: name, role: role, section: section, encoding: encoding, shape: shape,
                                      dataOffset: dataOffset, dataLength: dataLength, rowStride: rowStride,
                                      checksum: checksum, sourceDType: sourceDType)
        if blockOffset != 0 || blockCount != 0 || blockSize != 0 {
            guard blockSize >= 4096, blockSize & (blockSize - 1) == 0, let offset = Int(exactly: blockOffset), let count = Int(exactly: blockCount),
                  count == BlockChecksums.blockCount(bytes: dataLength, blockSize: Int(blockSize))
            else { throw problem("block checksums (offset \(blockOffset), \(blockCount) blocks of \(blockSize)) do not fit its \(dataLength) bytes") }
            record.blockChecksumOffset = offset
            record.blockCount = count
            record.blockSize = Int(blockSize)
        }
        return record
    }
}

/// A record field that is wrong (the reader wraps it in a ``PackError`` with the file and offset).
struct PackRecordProblem: Error {
    let tensor: String?
    let reason: String
}
