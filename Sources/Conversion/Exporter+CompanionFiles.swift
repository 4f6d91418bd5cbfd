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
        var written: [String] = []
        for name in companionFileNames where !skipped.contains(name) {
            guard let attachment = source.attachment(named: name) else { continue }
            let bytes = name == "config.json" ? try withoutQuantization(attachment) : attachment.bytes.array
            written.append(try writeBeside(path, named: name, bytes, inputs: source.inputFiles))
        }
        return written
    }

    /// Writes `bytes` as the file `name` in the directory of the export `path`, atomically and never over an input
    /// (nor over the export itself). - Returns: its path.
    static func writeBeside(_ path: String, named name: String, _ bytes: [UInt8], inputs: [String]) throws -> String {
        let directory = (path as NSString).deletingLastPathComponent
        let destination = directory.isEmpty ? name : directory + "/" + name
        try OutputGuard.check(destination, inputs: inputs + [path])
        let writer = try AtomicFileWriter(destination: destination)
        try writer.write(bytes)
        try writer.commit()
        return destination
    }

    /// A JSON object file (config.json) edited by `edit` and written back with sorted keys; its bytes unchanged when
    /// `edit` says it changed nothing.
    static func editedJSON(_ file: Attachment, _ edit: (inout [String: Any]) throws -> Bool) throws -> [UInt8] {
        guard var object = try? JSONSerialization.jsonObject(with: Data(file.bytes.array)) as? [String: Any] else {
            throw ConversionError(.unexportable, file: file.location, "\(file.name) is not a JSON object")
        }
        guard try edit(&object) else { return file.bytes.array }
        return Array(try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])) + [0x0A]
    }

    /// config.json without the keys that would make a loader expect quantized weights (an MLX or pre-quantized
    /// source's, also inside `text_config`).
    static func withoutQuantization(_ config: Attachment) throws -> [UInt8] {
        try editedJSON(config) { object in
            let keys = ["quantization", "quantization_config"]
            var text = object["text_config"] as? [String: Any]
            guard keys.contains(where: { object[$0] != nil || text?[$0] != nil }) else { return false }
            for key in keys {
                object[key] = nil
                text?[key] = nil
            }
            if let text { object["text_config"] = text }
            return true
        }
    }
}
