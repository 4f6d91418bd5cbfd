import ByteIO
import Foundation
import TensorModel

extension Exporter {
    /// The Hugging Face files a checkpoint needs beside its weights to load in transformers, MLX-LM or LayerPack.
    public static let companionFileNames = ["config.json", "generation_config.json", "tokenizer.json", "tokenizer.model",
                                            "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja"]

    /// Writes the source's attached Hugging Face files (``companionFileNames``) into the directory of `path`, each
    /// atomically and never over an input. config.json loses its `quantization` / `quantization_config` entries (an
    /// MLX or pre-quantized source's): the export holds plain floats. A source without attached files (a GGUF's
    /// pack) writes none.
    /// - Returns: the paths written.
    public static func writeCompanionFiles(of source: any TensorSource, besideExport path: String,
                                           skipping skipped: Set<String> = []) throws -> [String] {
        let directory = (path as NSString).deletingLastPathComponent
        var written: [String] = []
        for name in companionFileNames where !skipped.contains(name) {
            guard let attachment = source.attachment(named: name) else { continue }
            let destination = directory.isEmpty ? name : directory + "/" + name
            try OutputGuard.check(destination, inputs: source.inputFiles + [path])
            var bytes = attachment.bytes.array
            if name == "config.json" { bytes = try withoutQuantization(bytes, file: attachment.location) }
            let writer = try AtomicFileWriter(destination: destination)
            try writer.write(bytes)
            try writer.commit()
            written.append(destination)
        }
        return written
    }

    /// config.json without the keys that would make a loader expect quantized weights; the bytes unchanged when it
    /// has none.
    static func withoutQuantization(_ bytes: [UInt8], file: String) throws -> [UInt8] {
        guard var object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            throw ConversionError(.unexportable, file: file, "config.json is not a JSON object")
        }
        let keys = ["quantization", "quantization_config"]
        guard keys.contains(where: { object[$0] != nil }) else { return bytes }
        for key in keys { object[key] = nil }
        if var text = object["text_config"] as? [String: Any] {
            for key in keys { text[key] = nil }
            object["text_config"] = text
        }
        return Array(try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])) + [0x0A]
    }
}
