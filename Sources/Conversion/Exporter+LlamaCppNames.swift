import ByteIO
import Foundation
import GGUFFormat
import GemmaInference
import StrictJSON
import TensorModel

extension Exporter {
    /// How a source without GGUF metadata (a Hugging Face checkpoint, or a pack made from one) is written as
    /// llama.cpp's own converter would write it: llama.cpp's tensor names, its `gemma3.*` keys, Gemma 3's norms as
    /// `1 + w`, and the vocabulary of the source's tokenizer.json (as a `gemma4` BPE vocabulary) or none.
    struct LlamaCppLayout {
        let metadata: [(String, GGUFValue)]
        /// llama.cpp's name of each source tensor.
        let names: [String: String]
        /// What is added to norm weights (llama.cpp applies them as they are stored).
        let normOffset: Float
        /// Tensors llama.cpp needs that the source does not hold (Gemma 4's `rope_freqs.weight`), as f32 values.
        var extraTensors: [(name: String, values: [Float])] = []
        /// Source tensors llama.cpp stacks into one (Gemma 3n's AltUp projections, by stream), under the first
        /// one's name; the others are written inside it.
        var stacked: [String: [String]] = [:]
    }

    /// The layout for `source`, or an error saying why llama.cpp could not load such a file.
    static func llamaCppLayout(of source: any TensorSource) throws -> LlamaCppLayout {
        guard let c = source.configuration else {
            throw ConversionError(.unexportable, file: source.path, "no model configuration: llama.cpp's metadata cannot be written")
        }
        guard c.architecture != .gemma3 || c.queryPreAttentionScalar == nil || c.queryPreAttentionScalar == Double(c.headDimension) else {
            throw ConversionError(.unexportable, file: source.path, "query_pre_attn_scalar \(c.queryPreAttentionScalar!) is not head_dim "
                                  + "\(c.headDimension): llama.cpp's gemma3 scales queries by head_dim^-0.5 and has no key for another scale")
        }
        var names: [String: String] = [:]
        var stacked: [String: [String]] = [:]
        for tensor in source.tensors {
            let weight = GemmaWeight(tensorName: tensor.name)
            switch weight {
            case .altupProjection(let stream?), .altupUnembedProjection(let stream?):
                // llama.cpp keeps one [streams - 1, hidden, hidden] tensor; stream 0 carries the stack.
                let whole: GemmaWeight = if case .altupProjection = weight! { .altupProjection(nil) } else { .altupUnembedProjection(nil) }
                if stream == 0 {
                    names[tensor.name] = whole.ggufName
                    stacked[tensor.name] = (0..<((c.altupInputCount ?? 4) - 1)).map { tensor.name.replacingOccurrences(of: ".0.weight", with: ".\($0).weight") }
                }
                continue
            default:
                break
            }
            guard let name = weight?.ggufName else {
                throw ConversionError(.unexportable, file: source.path, tensor: tensor.name, "llama.cpp has no name for this tensor")
            }
            names[tensor.name] = name
        }
        let arch = c.architecture.rawValue
        func u32(_ value: Int) -> GGUFValue { .uint32(UInt32(clamping: value)) }
        var metadata: [(String, GGUFValue)] = [
            ("general.architecture", .string(arch)), ("general.type", .string("model")), ("general.name", .string("layerpack export")),
            ("general.quantization_version", .uint32(2)),
            ("\(arch).block_count", u32(c.layerCount)), ("\(arch).context_length", u32(contextLength(of: source))),
            ("\(arch).embedding_length", u32(c.hiddenSize)),
            ("\(arch).feed_forward_length", Set(c.intermediateSizes).count == 1 && c.architecture != .gemma3n ? u32(c.intermediateSizes[0])
                : .array(GGUFArray(of: .int32, c.intermediateSizes.map { .int32(Int32(clamping: $0)) }))),
            ("\(arch).attention.head_count", u32(c.headCount)),
            ("\(arch).attention.head_count_kv", c.globalKeyValueHeadCount == nil ? u32(c.keyValueHeadCount)
                : .array(GGUFArray(of: .int32, (0..<c.layerCount).map { .int32(Int32(clamping: c.keyValueHeadCount(layer: $0))) }))),
            ("\(arch).attention.key_length", u32(c.globalHeadDimension ?? c.headDimension)),
            ("\(arch).attention.value_length", u32(c.globalHeadDimension ?? c.headDimension)),
            ("\(arch).rope.freq_base", .float32(Float(c.ropeTheta))), ("\(arch).rope.freq_base_swa", .float32(Float(c.ropeLocalTheta))),
            ("\(arch).attention.layer_norm_rms_epsilon", .float32(Float(c.rmsNormEpsilon))),
            ("\(arch).attention.sliding_window", u32(c.slidingWindow)),
            // llama.cpp reads the per-layer pattern when it is there (load_swa_pattern), else assumes every 6th layer full.
            ("\(arch).attention.sliding_window_pattern", .array(GGUFArray(of: .bool, c.layerTypes.map { .bool($0 == .sliding) }))),
        ]
        var extra: [(name: String, values: [Float])] = []
        if c.architecture == .gemma4 {
            extra = try gemma4Keys(c, arch: arch, file: source.path, into: &metadata)
        } else if c.architecture == .gemma3n {
            gemma3nKeys(c, arch: arch, into: &metadata)
        }
        if c.fullAttentionRopeScale != 1 {
            metadata += [("\(arch).rope.scaling.type", .string("linear")), ("\(arch).rope.scaling.factor", .float32(Float(c.fullAttentionRopeScale)))]
        }
        if let softcap = c.finalLogitSoftcap { metadata.append(("\(arch).final_logit_softcapping", .float32(Float(softcap)))) }
        metadata += try vocabulary(of: source, arch: arch, size: c.vocabularySize)
        var layout = LlamaCppLayout(metadata: metadata, names: names, normOffset: c.normWeightOffset)
        layout.extraTensors = extra
        layout.stacked = stacked
        return layout
    }

    /// Gemma 3n's own keys: AltUp, PLE width, KV sharing, and each layer's activation sparsity as the standard normal
    /// quantile llama.cpp multiplies the deviation by (−∞ for dense layers), as the converter writes it.
    private static func gemma3nKeys(_ c: ModelConfiguration, arch: String, into metadata: inout [(String, GGUFValue)]) {
        metadata += [
            ("\(arch).altup.active_idx", .uint32(UInt32(c.altupActiveIndex ?? 0))), ("\(arch).altup.num_inputs", .uint32(UInt32(c.altupInputCount ?? 4))),
            ("\(arch).embedding_length_per_layer_input", .uint32(UInt32(c.perLayerInputSize ?? 0))),
            ("\(arch).attention.shared_kv_layers", .uint32(UInt32(c.kvSharedLayerCount))),
            ("\(arch).activation_sparsity_scale", .array(GGUFArray(of: .float32, c.activationSparsity.map {
                .float32($0 > 0 ? Float(standardNormalQuantile($0)) : -.infinity)
            }))),
        ]
    }

    /// Φ⁻¹(p): Newton's method on Φ(x) = ½·erfc(−x/√2), from 0; exact to double precision for 0 < p < 1.
    static func standardNormalQuantile(_ p: Double) -> Double {
        var x = 0.0
        for _ in 0..<50 {
            let error = 0.5 * erfc(-x / 2.0.squareRoot()) - p
            let density = exp(-x * x / 2) / (2 * Double.pi).squareRoot()
            guard density > 0 else { break }
            let step = error / density
            x -= step
            if abs(step) < 1e-15 { break }
        }
        return x
    }

    /// Gemma 4's own keys (head sizes of both layer kinds, KV sharing, PLE width) and its RoPE frequency divisors:
    /// llama.cpp rotates every pair of a full layer's head and is told to leave the pairs proportional RoPE does not
    /// rotate alone with a divisor of 1e30, as the converter writes them.
    private static func gemma4Keys(_ c: ModelConfiguration, arch: String, file: String,
                                   into metadata: inout [(String, GGUFValue)]) throws -> [(name: String, values: [Float])] {
        guard c.fullAttentionRotaryFraction < 1 else {
            throw ConversionError(.unexportable, file: file, "full-attention layers with default RoPE: llama.cpp's gemma4 expects "
                                  + "proportional RoPE there (its converter refuses such checkpoints too)")
        }
        let fullHead = c.globalHeadDimension ?? c.headDimension
        metadata += [
            ("\(arch).attention.key_length_swa", .uint32(UInt32(c.headDimension))), ("\(arch).attention.value_length_swa", .uint32(UInt32(c.headDimension))),
            ("\(arch).rope.dimension_count", .uint32(UInt32(fullHead))), ("\(arch).rope.dimension_count_swa", .uint32(UInt32(c.headDimension))),
            ("\(arch).attention.shared_kv_layers", .uint32(UInt32(c.kvSharedLayerCount))),
            ("\(arch).embedding_length_per_layer_input", .uint32(UInt32(c.perLayerInputSize ?? 0))),
        ]
        let rotated = Int(c.fullAttentionRotaryFraction * Double(fullHead) / 2)
        return [("rope_freqs.weight", (0..<(fullHead / 2)).map { $0 < rotated ? 1 : 1e30 })]
    }

    /// config.json's max_position_embeddings (what the converter writes as context_length), else Gemma 3's 131,072.
    private static func contextLength(of source: any TensorSource) -> Int {
        guard let file = source.attachment(named: "config.json"),
              let object = try? file.bytes.withUnsafeBytes({ try JSONParser.parse($0) }).objectValue else { return 131_072 }
        return (object["text_config"]?.objectValue ?? object)["max_position_embeddings"]?.intValue ?? 131_072
    }

    /// The tokenizer.json vocabulary as llama.cpp's `gemma4` BPE keys, or `none` with the vocabulary size (llama.cpp
    /// then runs on token ids) when the source has no tokenizer.json.
    private static func vocabulary(of source: any TensorSource, arch: String, size: Int) throws -> [(String, GGUFValue)] {
        guard let file = source.attachment(named: "tokenizer.json") else {
            return [("tokenizer.ggml.model", .string("none")), ("\(arch).vocab_size", .uint32(UInt32(clamping: size)))]
        }
        let tokenizer = try SentencePieceTokenizer.from(tokenizerJSON: file.bytes, name: file.location)
        guard let merges = tokenizer.merges else {
            throw ConversionError(.unexportable, file: file.location, "tokenizer.json has no merge list for a BPE vocabulary")
        }
        return [
            ("tokenizer.ggml.model", .string("gemma4")),
            ("tokenizer.ggml.tokens", .array(GGUFArray(of: .string, tokenizer.tokens.map { .string($0) }))),
            ("tokenizer.ggml.token_type", .array(GGUFArray(of: .int32, tokenizer.types.map { .int32($0.rawValue) }))),
            ("tokenizer.ggml.merges", .array(GGUFArray(of: .string, merges.map { .string($0.0 + " " + $0.1) }))),
            ("tokenizer.ggml.bos_token_id", .uint32(UInt32(tokenizer.bosID))), ("tokenizer.ggml.eos_token_id", .uint32(UInt32(tokenizer.eosID))),
            ("tokenizer.ggml.add_bos_token", .bool(true)),
        ]
    }
}
