import Foundation

import ByteIO

/// A float32 array in a NumPy `.npy` file (format versions 1–3, little-endian `<f4`, C order), mapped: its values
/// are read when asked for, all at once or a range of rows (first-dimension entries) at a time.
public struct NumpyArray: Sendable {
    public let shape: [Int]
    /// The values, after the header.
    private let data: ByteView

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
        data = try reader.readView(count: count * 4)
        self.shape = shape
    }

    /// Every value, in C order.
    public var values: [Float] { floats(0..<(data.count / 4)) }

    /// Rows `range` of the first dimension (every value of each), in C order.
    /// - Precondition: the array has at least one dimension and `range` lies within its first.
    public func rows(_ range: Range<Int>) -> [Float] {
        precondition(!shape.isEmpty && range.lowerBound >= 0 && range.upperBound <= shape[0], "rows \(range) of \(shape)")
        let rowLength = shape.dropFirst().reduce(1, *)
        return floats((range.lowerBound * rowLength)..<(range.upperBound * rowLength))
    }

    private func floats(_ range: Range<Int>) -> [Float] {
        data.withUnsafeBytes { raw in
            range.map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        }
    }

    /// Writes `values` with `shape` as a float32 C-order `.npy` file (see ``Writer``).
    public static func write(_ values: [Float], shape: [Int], to path: String) throws {
        precondition(shape.reduce(1, *) == values.count, "shape \(shape) does not hold \(values.count) values")
        let writer = try Writer(path: path, shape: shape)
        try values.withUnsafeBufferPointer { try writer.append($0) }
        try writer.commit()
    }

    /// A float32 C-order `.npy` file (format 1.0, header padded to 64 bytes as NumPy writes it) written a run of
    /// values at a time, atomically: a temporary file renamed into place by ``commit()`` once every value is in.
    public final class Writer {
        private let sink: AtomicFileWriter
        private var remaining: Int

        public init(path: String, shape: [Int]) throws {
            let dims = shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? "," : "")
            var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(dims)), }"
            let unpadded = 10 + header.utf8.count + 1
            header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
            var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
            withUnsafeBytes(of: UInt16(header.utf8.count).littleEndian) { bytes += $0 }
            bytes += Array(header.utf8)
            remaining = shape.reduce(1, *)
            sink = try AtomicFileWriter(destination: path)
            try sink.write(bytes)
        }

        /// Appends the next values in C order.
        /// - Precondition: no more values than the shape holds.
        public func append(_ values: UnsafeBufferPointer<Float>) throws {
            precondition(values.count <= remaining, "\(values.count) values past the shape's end")
            remaining -= values.count
            for start in stride(from: 0, to: values.count, by: 1 << 16) {  // 256 KiB at a time, not a copy of them all
                try values[start..<min(values.count, start + 1 << 16)].map { $0.bitPattern.littleEndian }.withUnsafeBytes { try sink.write($0) }
            }
        }

        /// Puts the file in place.
        /// - Precondition: every value the shape holds was appended.
        public func commit() throws {
            precondition(remaining == 0, "\(remaining) values missing")
            try sink.commit()
        }
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
