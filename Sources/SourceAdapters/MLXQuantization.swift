import ByteIO
import SafetensorsFormat
import StrictJSON
import TensorModel
import TensorTypes

/// How an MLX-LM checkpoint is quantized: the `quantization` block of its config.json (`{"group_size": 64, "bits":
/// 4, "mode": "affine", "model.layers.0.mlp.down_proj": {...}}`), and the packed tensors it describes. A quantized
/// module `P` stores `P.weight` (uint32 words), `P.scales` and `P.biases`; together they are one tensor of
/// ``TensorEncoding/mlx(_:)`` under the name `P.weight`.
struct MLXQuantization {
    /// One module's parameters (affine only; a module set to `false` is not quantized).
    struct Parameters {
        let bits: Int
        let groupSize: Int
    }

    /// One packed tensor: its words, scales and biases.
    struct Packed {
        let affine: MLXAffine
        let weight, scales, biases: SafetensorsTensor
        let file: SafetensorsFile
        /// The logical shape: the packed shape with its last dimension in values.
        let shape: TensorShape
    }

    let defaults: Parameters?
    let overrides: [String: Parameters?]

    /// Reads the block from a config.json object (`quantization`, or `quantization_config` as MLX-LM also writes);
    /// nil when neither is there.
    /// - Throws: for modes other than affine, widths or groups MLX does not write, or values of the wrong type.
    init?(config: JSONObject, file: String) throws {
        guard let block = config["quantization"]?.objectValue ?? config["quantization_config"]?.objectValue,
              block["bits"] != nil || block["group_size"] != nil || block.members.contains(where: { $0.value.objectValue != nil })
        else { return nil }
        func parameters(_ object: JSONObject, key: String, fallback: Parameters?) throws -> Parameters {
            func fail(_ reason: String) -> TensorSourceError { .invalidConfiguration(file: file, key: key, reason) }
            let mode = object["mode"]?.stringValue ?? "affine"
            guard mode == "affine" else { throw fail("MLX mode \"\(mode)\" is not supported (affine is)") }
            guard let bits = object["bits"]?.intValue ?? fallback?.bits, MLXAffine.supportedBits.contains(bits) else {
                throw fail("bits must be one of \(MLXAffine.supportedBits.sorted())")
            }
            guard let group = object["group_size"]?.intValue ?? fallback?.groupSize, MLXAffine.supportedGroupSizes.contains(group) else {
                throw fail("group_size must be one of \(MLXAffine.supportedGroupSizes.sorted())")
            }
            return Parameters(bits: bits, groupSize: group)
        }
        defaults = block["bits"] == nil && block["group_size"] == nil ? nil
            : try parameters(block, key: "quantization", fallback: Parameters(bits: 4, groupSize: 64))
        var overrides: [String: Parameters?] = [:]
        for member in block.members {
            if let object = member.value.objectValue {
                overrides[member.key] = try parameters(object, key: "quantization.\(member.key)", fallback: defaults)
            } else if member.value.boolValue == false {
                overrides[member.key] = .some(nil)
            }
        }
        self.overrides = overrides
    }

    /// The parameters of module `path`, nil when it is not quantized.
    func parameters(of path: String) -> Parameters? {
        if let entry = overrides[path] { return entry }
        return defaults
    }

    /// The packed tensors of `checkpoint`: every `P.weight` of uint32 words with `P.scales` beside it, checked
    /// against the parameters of `P` and the shapes of its scales and biases.
    /// - Throws: ``TensorSourceError`` naming the tensor when the words, scales and biases disagree.
    func packedTensors(in checkpoint: SafetensorsCheckpoint) throws -> [String: Packed] {
        var byName: [String: (SafetensorsTensor, SafetensorsFile)] = [:]
        for file in checkpoint.files { for tensor in file.tensors { byName[tensor.name] = (tensor, file) } }
        var packed: [String: Packed] = [:]
        for (name, (scales, file)) in byName where name.hasSuffix(".scales") {
            let module = String(name.dropLast(".scales".count))
            guard let (weight, _) = byName[module + ".weight"], weight.dtype == .u32 else { continue }
            func fail(_ reason: String) -> TensorSourceError {
                .invalidConfiguration(file: file.path, key: module + ".weight", "MLX-quantized tensor: \(reason)")
            }
            guard let parameters = parameters(of: module) else { throw fail("config.json does not say how it is quantized") }
            guard let (biases, _) = byName[module + ".biases"] else { throw fail("no \(module).biases (only affine mode is supported)") }
            let dims = weight.shape.dimensions
            guard let words = dims.last, weight.shape.rank >= 2, scales.shape.dimensions.dropLast() == dims.dropLast(),
                  biases.shape == scales.shape, scales.dtype == biases.dtype, scales.dtype.isFloatingPoint, scales.dtype.bitWidth >= 16
            else { throw fail("words \(weight.shape), scales \(scales.shape) \(scales.dtype), biases \(biases.shape) \(biases.dtype) do not match") }
            let (columns, overflow) = words.multipliedReportingOverflow(by: 32)
            guard !overflow, columns % parameters.bits == 0,
                  columns / parameters.bits == scales.shape.rowLength * parameters.groupSize,
                  let shape = TensorShape(Array(dims.dropLast()) + [columns / parameters.bits])
            else { throw fail("\(words) words per row do not hold \(scales.shape.rowLength) groups of \(parameters.groupSize) \(parameters.bits)-bit values") }
            packed[module + ".weight"] = Packed(affine: MLXAffine(bits: parameters.bits, groupSize: parameters.groupSize, scaleType: scales.dtype),
                                                weight: weight, scales: scales, biases: biases, file: file, shape: shape)
        }
        return packed
    }
}

extension MLXQuantization.Packed {
    /// Rows `rows` as floats: `scale · u + bias` per group, in f32.
    func floats(rows: Range<Int>) throws -> [Float] {
        let columns = shape.rowLength, groups = columns / affine.groupSize, rowBytes = affine.packedBytes(columns: columns)
        let scaleBytes = scales.dtype.bitWidth / 8
        func decode(_ tensor: SafetensorsTensor) throws -> [Float] {
            let slice = tensor.data.slice(offset: rows.lowerBound * groups * scaleBytes, length: rows.count * groups * scaleBytes)!
            return try slice.withUnsafeBytes { try LittleEndianDecoding.decode($0, as: tensor.dtype, count: rows.count * groups) }
        }
        let scaleValues = try decode(scales), biasValues = try decode(biases)
        var values = [Float](repeating: 0, count: rows.count * columns)
        let words = weight.data.slice(offset: rows.lowerBound * rowBytes, length: rows.count * rowBytes)!
        words.withUnsafeBytes { raw in
            scaleValues.withUnsafeBufferPointer { s in
                biasValues.withUnsafeBufferPointer { b in
                    values.withUnsafeMutableBufferPointer { out in
                        for row in 0..<rows.count {
                            affine.dequantize(row: UnsafeRawBufferPointer(rebasing: raw[(row * rowBytes)..<((row + 1) * rowBytes)]),
                                              scales: UnsafeBufferPointer(rebasing: s[(row * groups)..<((row + 1) * groups)]),
                                              biases: UnsafeBufferPointer(rebasing: b[(row * groups)..<((row + 1) * groups)]),
                                              into: UnsafeMutableBufferPointer(rebasing: out[(row * columns)..<((row + 1) * columns)]))
                        }
                    }
                }
            }
        }
        return values
    }

    /// The bytes of the words, scales and biases together.
    var byteCount: Int { weight.data.count + scales.data.count + biases.data.count }
}
