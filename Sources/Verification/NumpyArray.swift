import Foundation

import ByteIO

/// A float32 array read from a NumPy `.npy` file (format versions 1–3, little-endian `<f4`, C order).
public struct NumpyArray: Sendable {
    public let shape: [Int]
    public let values: [Float]


    public init(path: String) throws {
        let file = try MappedFile(path: path)
        var reader = ByteReader(file.bytes)
        func fail(_ reason: String) -> NumpyError { NumpyError(file: path, offset: reader.fileOffset, message: reason) }
        guard let magic = try? reader.readView(count: 6).array, magic == [0x93] + Array("NUMPY".utf8) else { throw fail("not a .npy file") }
        guard let major = try? reader.read(UInt8.self), (try? reader.read(UInt8.self)) != nil, (1...3).contains(major) else {
            throw fail("unsupported .npy version")
        }
        let headerLength: Int
        do { headerLength = major == 1 ? Int(try reader.read(UInt16.self)) : Int(try reader.read(UInt32.self)) } catch { throw fail("truncated header") }
        guard let headerView = try? reader.readView(count: headerLength) else { throw fail("truncated header") }
        let header = String(decoding: headerView.array, as: UTF8.self)
        guard header.contains("'descr': '<f4'") else { throw fail("dtype must be little-endian float32 ('<f4')") }
        guard header.contains("'fortran_order': False") else { throw fail("Fortran order is not supported") }
        guard let open = header.range(of: "'shape': ("), let close = header[open.upperBound...].firstIndex(of: ")") else { throw fail("no shape") }
        let dims = header[open.upperBound..<close].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let shape = try dims.map { text -> Int in
            guard let value = Int(text), value >= 0 else { throw fail("bad shape entry '\(text)'") }
            return value
        }
        let (count, overflow) = shape.reduce((1, false)) { partial, dim in
            let product = partial.0.multipliedReportingOverflow(by: dim)
            return (product.partialValue, partial.1 || product.overflow)
        }
        guard !overflow, !count.multipliedReportingOverflow(by: 4).overflow else {
            throw fail("shape \(shape) holds more floats than 2^63 bytes can")
        }
        guard count * 4 == reader.remaining else {
            throw fail("shape \(shape) needs \(count) floats (\(count * 4) bytes) but \(reader.remaining) bytes follow the header")
        }
        let data = try reader.readView(count: count * 4)
        self.shape = shape
        values = data.withUnsafeBytes { raw in (0..<count).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) } }
    }

    /// Writes `values` with `shape` as a float32 C-order `.npy` file (format 1.0, header padded to 64 bytes as
    /// NumPy writes it), atomically: a temporary file renamed into place when complete.
    public static func write(_ values: [Float], shape: [Int], to path: String) throws {
        precondition(shape.reduce(1, *) == values.count, "shape \(shape) does not hold \(values.count) values")
        let dims = shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? "," : "")
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(dims)), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
        withUnsafeBytes(of: UInt16(header.utf8.count).littleEndian) { bytes += $0 }
        bytes += Array(header.utf8)
        let sink = try AtomicFileWriter(destination: path)
        try sink.write(bytes)
        try values.map { $0.bitPattern.littleEndian }.withUnsafeBytes { try sink.write($0) }
        try sink.commit()
    }
}

/// A file that is not a float32 C-order `.npy`: the file, the offset and the reason.
public struct NumpyError: LayerPackError {
    /// The only kind: the file is not what `lpk-verify` reads.
    public enum Kind: Sendable, Equatable { case unsupportedFile }
    public var kind: Kind { .unsupportedFile }
    public let file: String
    public let offset: Int
    public let message: String
    public var path: String? { file }
    public var location: ErrorLocation? { .offset(offset) }

    public init(file: String, offset: Int, message: String) {
        self.file = file
        self.offset = offset
        self.message = message
    }
}
