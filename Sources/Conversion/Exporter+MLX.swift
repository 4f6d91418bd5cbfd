import ByteIO
import Foundation
import PackFormat
import SafetensorsFormat
import TensorModel
import TensorTypes

extension Exporter {
    /// Exports an MLX-LM checkpoint: `path` is its `model.safetensors`; config.json (with a `quantization` block)
    /// and the tokenizer files are written beside it.
    ///
    /// Symmetric row records map onto MLX's affine groups exactly: an int4 level q is stored as the unsigned
    /// nibble q + 8 (the very nibbles a pack holds, in MLX's packing order) with bias −8·scale, an int8 level as the
    /// byte q + 128 with bias −128·scale. Scales and biases are written as float32, so that `scale · u + bias`
    /// is exact in MLX's arithmetic and the checkpoint holds the pack's numbers. Records whose groups MLX cannot
    /// hold (one scale per row, PLE slices of other widths), ggml blocks and plain tensors are written as float
    /// values (plain floats in their own type, the rest as f32), exactly, and the entries say so.
    /// - Throws: for a source without a Hugging Face config.json (a GGUF's pack): MLX-LM builds the model from it.
    public static func exportMLX(_ source: any TensorSource, to path: String) throws -> [Entry] {
        let tensors = try exportable(source, to: path)
        guard let config = source.attachment(named: "config.json") else {
            throw ConversionError(.unexportable, file: source.path, "an MLX checkpoint needs the Hugging Face config.json the model came "
                                  + "with; this source carries none (a pack made from a GGUF): export it to .gguf instead")
        }
        var entries: [SafetensorsWriter.Entry] = []
        var plan: [(tensor: TensorDescriptor, part: MLXPart)] = []
        var report: [Entry] = []
        var modules: [String: (bits: Int, group: Int)] = [:]
        for tensor in tensors {
            if case .rows(let scheme) = tensor.encoding, let group = scheme.groupSize, MLXAffine.supportedGroupSizes.contains(group),
               tensor.shape.rank == 2, tensor.name.hasSuffix(".weight") {
                let module = String(tensor.name.dropLast(".weight".count))
                let rows = tensor.shape.rowCount, columns = tensor.shape.rowLength, bits = scheme.bits.rawValue
                modules[module] = (bits, group)
                entries += [.init(name: module + ".weight", dtype: .u32, shape: TensorShape([rows, columns * bits / 32])!),
                            .init(name: module + ".scales", dtype: .f32, shape: TensorShape([rows, columns / group])!),
                            .init(name: module + ".biases", dtype: .f32, shape: TensorShape([rows, columns / group])!)]
                plan += [(tensor, .words(scheme)), (tensor, .scales(scheme)), (tensor, .biases(scheme))]
                report.append(Entry(name: tensor.name, from: tensor.storage, to: "mlx affine \(bits)-bit g\(group)", exact: true))
            } else {
                let dtype: DType = if case .plain(let stored) = tensor.encoding, [.f32, .f16, .bf16].contains(stored) { stored } else { .f32 }
                entries.append(.init(name: tensor.name, dtype: dtype, shape: tensor.shape))
                plan.append((tensor, .floats(dtype)))
                report.append(Entry(name: tensor.name, from: tensor.storage, to: dtype.rawValue, exact: true))
            }
        }
        try SafetensorsWriter.write(to: path, entries: entries, metadata: ["format": "mlx", "producer": "layerpack \(LayerPackVersion.current)"]) { index, sink in
            try writeMLXPart(plan[index].part, of: plan[index].tensor, from: source, to: sink)
        }
        _ = try writeBeside(path, named: "config.json", try mlxConfig(config, modules: modules), inputs: source.inputFiles)
        _ = try writeCompanionFiles(of: source, besideExport: path, skipping: ["config.json"])
        return report
    }

    /// Which of a quantized module's three tensors, or a float tensor.
    enum MLXPart {
        case words(RowScheme), scales(RowScheme), biases(RowScheme)
        case floats(DType)
    }

    private static func writeMLXPart(_ part: MLXPart, of tensor: TensorDescriptor, from source: any TensorSource,
                                     to sink: AtomicFileWriter) throws {
        let scheme: RowScheme
        switch part {
        case .floats(let dtype):
            try writeFloatRows(tensor, as: dtype, from: source, to: sink)
            return
        case .words(let rows), .scales(let rows), .biases(let rows):
            scheme = rows
        }
        let columns = tensor.shape.rowLength, groups = scheme.groups(rowLength: columns)
        let valueBytes = scheme.valueBytes(rowLength: columns)
        let stored = try source.storedBytes(tensor.name)
        let stride = stored.count / max(1, tensor.shape.rowCount)
        let offset: Float = switch scheme.bits {
        case .int8: -128
        case .int4: -8
        case .int2: -2
        }
        try stored.withUnsafeBytes { raw in
            for row in 0..<tensor.shape.rowCount {
                let record = UnsafeRawBufferPointer(rebasing: raw[(row * stride)..<(row * stride + 2 * groups + valueBytes)])
                if case .words = part {
                    let values = UnsafeRawBufferPointer(rebasing: record[(2 * groups)...])
                    // int4 and int2: the pack's offset-binary values (element 2i / 4i first, in the low bits) are MLX's
                    // little-endian words; int8: q + 128 is the byte with its top bit flipped.
                    try sink.write(scheme.bits == .int8 ? values.map { $0 ^ 0x80 } : Array(values))
                    continue
                }
                var floats = [Float](repeating: 0, count: groups)
                for group in 0..<groups {
                    let scale = FloatConversion.float(fromHalf: UInt16(record[2 * group]) | UInt16(record[2 * group + 1]) << 8)
                    if case .scales = part { floats[group] = scale } else { floats[group] = offset * scale }
                }
                try sink.write(FloatEncoding.encode(floats, as: .f32))
            }
        }
    }

    /// config.json with MLX-LM's `quantization` block (and its `quantization_config` copy): the commonest
    /// (bits, group) as the default, every other quantized module by name; modules without `.scales` stay float.
    private static func mlxConfig(_ config: Attachment, modules: [String: (bits: Int, group: Int)]) throws -> [UInt8] {
        var counts: [String: Int] = [:]
        for (_, setting) in modules { counts["\(setting.bits) \(setting.group)", default: 0] += 1 }
        var block: [String: Any] = ["mode": "affine"]
        if let common = counts.max(by: { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) })?.key {
            let parts = common.split(separator: " ").compactMap { Int($0) }
            block["bits"] = parts[0]
            block["group_size"] = parts[1]
            for (module, setting) in modules where setting.bits != parts[0] || setting.group != parts[1] {
                block[module] = ["bits": setting.bits, "group_size": setting.group, "mode": "affine"]
            }
        }
        return try editedJSON(config) { object in
            if object["model_type"] as? String == "gemma3_text", let types = object["layer_types"] as? [String] {
                object["sliding_window_pattern"] = try slidingWindowPattern(types, file: config.location)
            }
            if (object["model_type"] as? String)?.hasPrefix("gemma4") == true {
                try addGlobalAttentionFields(&object, file: config.location)
            } else if var text = object["text_config"] as? [String: Any], (text["model_type"] as? String)?.hasPrefix("gemma4") == true {
                try addGlobalAttentionFields(&text, file: config.location)
                object["text_config"] = text
            }
            object["quantization"] = modules.isEmpty ? nil : block
            object["quantization_config"] = modules.isEmpty ? nil : block
            return true
        }
    }

    /// MLX-LM's Gemma 3 ignores `layer_types` and makes layer i full-attention iff (i + 1) % `sliding_window_pattern`
    /// is 0 (default 6): the period that reproduces `types`, or an error when none does.
    static func slidingWindowPattern(_ types: [String], file: String) throws -> Int {
        for period in 1...max(1, types.count + 1) where types.indices.allSatisfy({ (types[$0] == "full_attention") == (($0 + 1) % period == 0) }) {
            return period
        }
        throw ConversionError(.unexportable, file: file, "MLX-LM's Gemma 3 places a full-attention layer every sliding_window_pattern "
                              + "layers; layer_types \(types) has no such period")
    }

    /// MLX-LM's Gemma 4 reads the full-attention layers' head size and KV head count from `global_head_dim` and
    /// `num_global_key_value_heads` (head size 512 when absent), not from transformers' `per_layer_config`: both are
    /// written from it when every full layer has the same overrides, and the export is refused when they differ.
    static func addGlobalAttentionFields(_ config: inout [String: Any], file: String) throws {
        guard config["global_head_dim"] == nil, let perLayer = config["per_layer_config"] as? [String: Any],
              let types = config["layer_types"] as? [String] else { return }
        var headSizes = Set<Int>(), kvHeads = Set<Int>()
        for (key, value) in perLayer {
            guard let layer = Int(key), types.indices.contains(layer), types[layer] == "full_attention",
                  let overrides = value as? [String: Any], Set(overrides.keys).isSubset(of: ["head_dim", "num_key_value_heads"]) else {
                throw ConversionError(.unexportable, file: file, "MLX-LM's Gemma 4 cannot hold per_layer_config entry \(key): only "
                                      + "full-attention layers' head_dim and num_key_value_heads, the same for every such layer")
            }
            if let size = overrides["head_dim"] as? Int { headSizes.insert(size) }
            if let heads = overrides["num_key_value_heads"] as? Int { kvHeads.insert(heads) }
        }
        guard headSizes.count <= 1, kvHeads.count <= 1 else {
            throw ConversionError(.unexportable, file: file, "MLX-LM's Gemma 4 has one head size and KV head count for all full-attention "
                                  + "layers; per_layer_config gives several")
        }
        if let size = headSizes.first { config["global_head_dim"] = size }
        if let heads = kvHeads.first { config["num_global_key_value_heads"] = heads }
    }
}
