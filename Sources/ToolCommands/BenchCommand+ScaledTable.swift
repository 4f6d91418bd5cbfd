import ArgumentParser
import ByteIO
import Foundation
import PackFormat
import Quantization
import SourceAdapters
import TensorModel
import TensorTypes

extension BenchCommand {
    /// Writes a Gemma-3n/4-shaped int4 pack whose per-layer width is raised to `--per-layer-width`, by a generator through
    /// the pack writer: every tensor of the template (a Gemma 3n or 4 checkpoint) at its scaled shape, matrices as random
    /// values quantized like `lpk-quantize --preset int4` does, the PLE table as random int4 records (its float source
    /// would be four times its size on disk), norms and scalars tiled from the template's. The table goes to a companion
    /// `.ple` file. For measuring a table far larger than the core, served from storage.
    struct ScaledTable: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "scaled-table")
        @Argument var template: String
        @Option(name: .shortAndLong) var output: String
        @Option var perLayerWidth: Int

        func run() throws {
            let source = try ModelSources.open(template)
            guard var configuration = source.configuration, let oldWidth = configuration.perLayerInputSize else {
                throw ValidationError("\(template) is not a Gemma 3n or 4 model with a per-layer embedding table")
            }
            guard perLayerWidth % 64 == 0, perLayerWidth > 0, perLayerWidth <= 1 << 16 else {
                throw ValidationError("--per-layer-width must be a positive multiple of 64, at most 65536")
            }
            configuration.perLayerInputSize = perLayerWidth
            let layers = configuration.layerCount
            try OutputGuard.check(output, inputs: source.inputFiles)
            try OutputGuard.check(PackLayout.companionPath(of: output), inputs: source.inputFiles)
            let writer = try PackWriter(destination: output, splitPLE: true)
            let ordered = source.tensors.filter { $0.role != .perLayerEmbedding } + source.tensors.filter { $0.role == .perLayerEmbedding }
            var state: UInt64 = 0x9E37_79B9_7F4A_7C15
            func random() -> Float {
                state ^= state << 13; state ^= state >> 7; state ^= state << 17
                return Float(state >> 40) / Float(1 << 24) * 0.1 - 0.05
            }
            for tensor in ordered {
                let shape = Self.scaled(tensor, oldWidth: oldWidth, newWidth: perLayerWidth, layers: layers)
                let rows = shape.rowCount, columns = shape.rowLength
                if tensor.role == .perLayerEmbedding {
                    // int4 records grouped per layer slice, random nibbles and scales near the template's magnitudes.
                    let scheme = RowScheme(bits: .int4, groupSize: perLayerWidth)
                    let record = scheme.recordBytes(rowLength: columns), stride = PackLayout.align(record, to: PackLayout.pleRecordAlignment)!
                    try writer.beginTensor(.init(name: tensor.name, role: tensor.role, section: .ple, encoding: .rows(scheme), shape: shape,
                                                 rowStride: stride, sourceDType: .bf16))
                    let rowsPerChunk = max(1, (8 << 20) / stride)
                    var chunk = [UInt8](repeating: 0, count: rowsPerChunk * stride)
                    var row = 0
                    while row < rows {
                        let count = min(rowsPerChunk, rows - row)
                        for r in 0..<count {
                            let base = r * stride, groups = columns / perLayerWidth
                            for g in 0..<groups {
                                let half = FloatConversion.half(from: 0.01 + abs(random()) * 0.1)
                                chunk[base + 2 * g] = UInt8(truncatingIfNeeded: half)
                                chunk[base + 2 * g + 1] = UInt8(truncatingIfNeeded: half >> 8)
                            }
                            for i in (base + 2 * groups)..<(base + record) {
                                state ^= state << 13; state ^= state >> 7; state ^= state << 17
                                chunk[i] = UInt8(truncatingIfNeeded: state >> 32)
                            }
                        }
                        try chunk.withUnsafeBytes { try writer.append(UnsafeRawBufferPointer(rebasing: $0[0..<(count * stride)])) }
                        row += count
                    }
                    try writer.endTensor()
                } else if let tensorClass = TensorClass(tensor) {
                    let scheme = Recipe.presets["int4"]!.decisionScheme(for: tensorClass, rowLength: columns)
                    let quantizer = RowQuantizer(scheme: scheme)
                    let record = scheme.recordBytes(rowLength: columns)
                    try writer.beginTensor(.init(name: tensor.name, role: tensor.role, encoding: .rows(scheme), shape: shape, rowStride: record,
                                                 sourceDType: .bf16))
                    var values = [Float](repeating: 0, count: columns), bytes = [UInt8](repeating: 0, count: record)
                    for _ in 0..<rows {
                        for i in 0..<columns { values[i] = random() }
                        try values.withUnsafeBufferPointer { v in try bytes.withUnsafeMutableBytes { try quantizer.quantize(v, into: $0) } }
                        try writer.append(bytes)
                    }
                    try writer.endTensor()
                } else {
                    let template = try source.floats(tensor.name)
                    let values = (0..<shape.elementCount).map { template[$0 % max(1, template.count)] }
                    try writer.beginTensor(.init(name: tensor.name, role: tensor.role, encoding: .plain(.f32), shape: shape, sourceDType: .f32))
                    try writer.append(values.withUnsafeBytes { Array($0) })
                    try writer.endTensor()
                }
            }
            let metadata = PackMetadata(source: .init(format: "generated by lpk-bench scaled-table from \(source.formatName)", files: []),
                                        configuration: configuration, recipe: Recipe.presets["int4"]!)
            try writer.finish(metadata: try metadata.encoded())
        }

        /// The tensor's shape with the per-layer width raised: the dimensions that are the per-layer width (or layers ×
        /// it), chosen by what the weight is (hidden and per-layer widths may be equal).
        static func scaled(_ tensor: TensorDescriptor, oldWidth: Int, newWidth: Int, layers: Int) -> TensorShape {
            var dimensions = tensor.shape.dimensions
            switch GemmaWeight(tensorName: tensor.name) {
            case .perLayerTable?: dimensions[1] = layers * newWidth
            case .perLayerModelProjection?: dimensions[0] = layers * newWidth
            case .perLayerProjectionNorm?: dimensions[0] = newWidth
            case .layer(_, .perLayerGate)?: dimensions[0] = newWidth
            case .layer(_, .perLayerProjection)?: dimensions[1] = newWidth
            default: break
            }
            return TensorShape(dimensions)!
        }
    }
}

extension Recipe {
    /// The row scheme this recipe gives a tensor of `tensorClass` with rows of `rowLength` (for generated tensors).
    func decisionScheme(for tensorClass: TensorClass, rowLength: Int) -> RowScheme {
        let (precision, group): (Precision, Int?) = switch tensorClass {
        case .core: (core, self.group)
        case .embed: (embed, embedGroup)
        case .ple: (ple, nil)
        }
        return Recipe.fitting(RowScheme(bits: precision.rowBits ?? .int8, groupSize: group), rowLength: rowLength)
            ?? RowScheme(bits: .int8)
    }
}
