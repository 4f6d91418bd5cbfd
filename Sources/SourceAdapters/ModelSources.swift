import ByteIO
import PackFormat
import TensorModel

/// Opens any supported model path as a ``TensorSource``, choosing the reader from the bytes, not the name.
public enum ModelSources {
    /// Opens a `.safetensors` file, a sharded index, a Hugging Face directory, a GGUF file, or a pack.
    /// - Throws: the format's own error (naming file and offset), or ``TensorSourceError/unrecognizedFormat(_:)``.
    public static func open(_ path: String) throws -> any TensorSource {
        if path.hasSuffix(".json") || FileSystem.isDirectory(path) { return try SafetensorsSource(path: path) }
        let file = try MappedFile(path: path)
        let magic = file.bytes.slice(offset: 0, length: min(8, file.count))!.array
        if magic.starts(with: Array("GGUF".utf8)) { return try GGUFSource(path: path) }
        if magic == PackLayout.magic { return try PackSource(path: path) }
        // safetensors has no magic: an 8-byte length followed by '{'.
        if file.count >= 9, file.bytes.byte(at: 8) == UInt8(ascii: "{") { return try SafetensorsSource(path: path) }
        if path.hasSuffix(".safetensors") { return try SafetensorsSource(path: path) }
        throw TensorSourceError(.unrecognizedFormat, path: path, "not a safetensors file, GGUF file, pack or model directory")
    }
}
