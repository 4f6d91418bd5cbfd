import ByteIO

/// A ``ByteReader`` whose reads fail with a ``GGUFError`` that names the file, the offset and what was being read.
struct GGUFCursor {
    var reader: ByteReader
    var file: String { reader.view.file.path }
    var fileOffset: Int { reader.fileOffset }
    var remaining: Int { reader.remaining }
    var position: Int { reader.position }

    init(_ view: ByteView) { reader = ByteReader(view) }

    func fail(_ kind: GGUFError.Kind, at offset: Int? = nil) -> GGUFError {
        GGUFError(file: file, offset: offset ?? fileOffset, kind: kind)
    }

    private func truncated(_ error: ByteReadError, _ what: String) -> GGUFError {
        GGUFError(file: file, offset: error.offset, kind: .truncated(what: what, needed: error.needed, available: error.available))
    }

    mutating func read<T: FixedWidthInteger>(_ type: T.Type, _ what: @autoclosure () -> String) throws(GGUFError) -> T {
        do { return try reader.read(type) } catch { throw truncated(error, what()) }
    }

    mutating func view(count: Int, _ what: @autoclosure () -> String) throws(GGUFError) -> ByteView {
        do { return try reader.readView(count: count) } catch { throw truncated(error, what()) }
    }

    mutating func skip(_ count: Int, _ what: @autoclosure () -> String) throws(GGUFError) {
        do { try reader.skip(count) } catch { throw truncated(error, what()) }
    }

    mutating func skipStrings(count: Int, _ what: @autoclosure () -> String) throws(GGUFError) {
        do { try reader.skipLengthPrefixedStrings(count: count) } catch { throw truncated(error, what()) }
    }

    mutating func seek(to position: Int) throws(GGUFError) {
        do { try reader.seek(to: position) } catch { throw truncated(error, "data section") }
    }
}
