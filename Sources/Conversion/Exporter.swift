import ByteIO
import GGUFFormat
import PackFormat
import SafetensorsFormat
import TensorModel
import TensorTypes

/// Writes a model out of LayerPack so other tools can load it: safetensors (dequantized) or GGUF.
public enum Exporter {
    /// What each tensor became, for the report.
    public struct Entry: Codable, Sendable {
        public let name: String
        public let from: String
        public let to: String
        /// Whether the exported values equal the pack's exactly.
        public let exact: Bool
    }

    /// Exports every tensor (attached files excepted) as `dtype` (F32 or BF16) safetensors, row chunk by row chunk.
    public static func exportSafetensors(_ source: any TensorSource, to path: String, dtype: DType) throws -> [Entry] {
        precondition(dtype == .f32 || dtype == .bf16 || dtype == .f16, "export as f32, f16 or bf16")
        let tensors = try exportable(source, to: path)
        var metadata = ["format": "pt", "producer": "layerpack \(LayerPackVersion.current)"]
        if let configuration = source.configuration { metadata["lpk.model_type"] = configuration.modelType }
        try SafetensorsWriter.write(to: path, entries: tensors.map { .init(name: $0.name, dtype: dtype, shape: $0.shape) },
                                    metadata: metadata) { index, sink in
            try writeFloatRows(tensors[index], as: dtype, from: source, to: sink)
        }
        return tensors.map { Entry(name: $0.name, from: $0.storage, to: dtype.rawValue, exact: $0.encoding == .plain(dtype)) }
    }

    /// Exports to GGUF: ggml blocks verbatim, int8 rows as Q8_0 and int4 rows as Q4_0 (exact when each 32-column
    /// block shares one scale), plain floats as they are, anything else as F32. GGUF metadata carried in the pack
    /// is written back unchanged; a Hugging Face Gemma 3 source gets llama.cpp's names, keys, norms and vocabulary
    /// (``llamaCppLayout(of:)``); other sources without GGUF metadata are refused.
    /// - Parameter dequantize: write row records no ggml type holds exactly (int4 in groups other than 32, per-row
    ///   scales over more than 32 columns, …) as F32 values; without it such a tensor is refused.
    public static func exportGGUF(_ source: any TensorSource, to path: String, dequantize: Bool = false) throws -> [Entry] {
        let exportable = try exportable(source, to: path)
        let carried = try source.ggufMetadata()
        let layout = carried == nil ? try llamaCppLayout(of: source) : nil
        var plan: [(GGUFWriter.Tensor, Entry)] = []
        var offsets: [Float] = []
        // Tensors written inside a stack (every part but the first, which names it).
        let inside = Set(layout?.stacked.values.flatMap { $0.dropFirst() } ?? [])
        let tensors = exportable.filter { !inside.contains($0.name) }
        for tensor in tensors {
            let offset = tensor.role == .norm ? layout?.normOffset ?? 0 : 0
            let parts = layout?.stacked[tensor.name]
            let plainFloat = [TensorEncoding.plain(.f32), .plain(.f16), .plain(.bf16)].contains(tensor.encoding)
            let name = layout?.names[tensor.name] ?? tensor.name
            // As llama.cpp's converter: vectors, norms and Gemma 3n's AltUp coefficients always in f32 (exact widening).
            let alwaysF32 = layout != nil && (tensor.shape.rank <= 1 || name.hasSuffix("_norm.weight")
                                              || name.hasSuffix("altup_correct_coef.weight") || name.hasSuffix("altup_predict_coef.weight"))
            let type = offset == 0 && !alwaysF32 && (parts == nil || plainFloat) ? ggmlType(for: tensor) : .f32
            if case .rows(let scheme) = tensor.encoding, type == .f32, !dequantize {
                throw ConversionError(.unexportable, file: source.path, tensor: tensor.name,
                                      "no ggml type holds \(scheme) rows of \(tensor.shape.rowLength) columns exactly (Q8_0 and Q4_0 are "
                                      + "int8 and int4 in groups of 32, Q2_K int2 in groups of 256); pass --dequantize to write its values as F32")
            }
            var ne = tensor.shape.rank == 0 ? [1] : Array(tensor.shape.dimensions.reversed())
            if let parts { ne.append(parts.count) }
            // A norm stored as 1 + w (llama.cpp's convention) is the same function of the same values.
            let exact = offset != 0 || type != .f32 || plainFloat
            plan.append((GGUFWriter.Tensor(name: name, type: type, ne: ne),
                         Entry(name: tensor.name, from: tensor.storage, to: type.name + (offset == 0 ? "" : " as 1 + w"), exact: exact)))
            offsets.append(offset)
        }
        for extra in layout?.extraTensors ?? [] {
            plan.append((GGUFWriter.Tensor(name: extra.name, type: .f32, ne: [extra.values.count]),
                         Entry(name: extra.name, from: "(llama.cpp needs it)", to: "F32", exact: true)))
        }
        let (count, encoded, alignment) = carried.map { ($0.metadata.count, $0.encodedMetadata.array, $0.alignment) }
            ?? (layout!.metadata.count, GGUFWriter.encode(metadata: layout!.metadata), GGUFFile.defaultAlignment)
        try GGUFWriter.write(to: path, metadataCount: count, encodedMetadata: encoded, alignment: alignment,
                             tensors: plan.map(\.0)) { index, sink in
            if index >= tensors.count {
                try sink.write(FloatEncoding.encode(layout!.extraTensors[index - tensors.count].values, as: .f32))
            } else if let parts = layout?.stacked[tensors[index].name] {
                for part in parts {
                    if plan[index].0.type == .f32 {
                        try sink.write(FloatEncoding.encode(try source.floats(part), as: .f32))
                    } else {
                        try source.storedBytes(part).withUnsafeBytes { try sink.write($0) }
                    }
                }
            } else if offsets[index] != 0 {
                let values = try source.floats(tensors[index].name).map { $0 + offsets[index] }
                try sink.write(FloatEncoding.encode(values, as: .f32))
            } else {
                try writeTensor(tensors[index], as: plan[index].0.type, from: source, to: sink)
            }
        }
        return plan.map(\.1)
    }

    /// The source's tensors, once the output is known not to clobber an input and every tensor has float values:
    /// an export refuses a tensor it cannot write (complex or 6-bit floats, …) instead of dropping it.
    static func exportable(_ source: any TensorSource, to path: String) throws -> [TensorDescriptor] {
        try OutputGuard.check(path, inputs: source.inputFiles)
        let unreadable = source.tensors.filter { !$0.isReadable }
        guard unreadable.isEmpty else {
            throw ConversionError(.unexportable, file: source.path, tensor: unreadable[0].name,
                                  "\(unreadable.count) tensor\(unreadable.count == 1 ? "" : "s") (\(unreadable.prefix(3).map { "\($0.name): \($0.storage)" }.joined(separator: ", "))) "
                                  + "have no float values to export; a pack keeps them as they are")
        }
        return source.tensors
    }

    /// The ggml type a tensor is exported as.
    static func ggmlType(for tensor: TensorDescriptor) -> GGMLType {
        switch tensor.encoding {
        case .ggml(let type): return type
        case .plain(.f16): return .f16
        case .plain(.bf16): return .bf16
        case .plain(.i8): return .i8
        case .plain(.i16): return .i16
        case .plain(.i32): return .i32
        case .plain(.i64): return .i64
        case .plain(.f64): return .f64
        case .rows(let scheme):
            return GGMLRows.blockType(holding: scheme, rowLength: tensor.shape.rowLength) ?? .f32
        default: return .f32
        }
    }

    private static func writeTensor(_ tensor: TensorDescriptor, as type: GGMLType, from source: any TensorSource,
                                    to sink: AtomicFileWriter) throws {
        let rowLength = tensor.shape.rowLength
        switch (tensor.encoding, type) {
        case (.ggml, _), (.plain(.f16), .f16), (.plain(.bf16), .bf16), (.plain(.i8), .i8), (.plain(.i16), .i16),
             (.plain(.i32), .i32), (.plain(.i64), .i64), (.plain(.f64), .f64):
            try source.storedBytes(tensor.name).withUnsafeBytes { try sink.write($0) }
        case (.rows(let scheme), .q8_0), (.rows(let scheme), .q4_0), (.rows(let scheme), .q2_K):
            let stored = try source.storedBytes(tensor.name)
            let stride = stored.count / max(1, tensor.shape.rowCount)
            var blocks = [UInt8]()
            try stored.withUnsafeBytes { raw in
                for row in 0..<tensor.shape.rowCount {
                    blocks.removeAll(keepingCapacity: true)
                    GGMLRows.appendBlocks(fromRecord: UnsafeRawBufferPointer(rebasing: raw[(row * stride)..<((row + 1) * stride)]),
                                          scheme: scheme, rowLength: rowLength, to: &blocks)
                    try blocks.withUnsafeBytes { try sink.write($0) }
                }
            }
        default:
            try writeFloatRows(tensor, as: .f32, from: source, to: sink)
        }
    }

    /// Writes a tensor's values as `dtype`, about a mebibyte of rows at a time.
    static func writeFloatRows(_ tensor: TensorDescriptor, as dtype: DType, from source: any TensorSource, to sink: AtomicFileWriter) throws {
        let rowsPerChunk = max(1, (1 << 20) / max(1, tensor.shape.rowLength))
        let rowCount = tensor.shape.rank == 0 ? 1 : tensor.shape.rowCount
        var row = 0
        while row < rowCount {
            let end = min(rowCount, row + rowsPerChunk)
            try sink.write(FloatEncoding.encode(try source.floats(tensor.name, rows: row..<end), as: dtype))
            row = end
        }
    }
}
