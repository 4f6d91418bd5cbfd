import Conversion
import GemmaInference
import TensorModel
import TensorTypes

/// Where a model's bytes must live while it decodes, under a recipe: what stays resident (core matrices, the output
/// head, norms, the KV cache and the working buffers) and what can stay in storage (lookup tables: the PLE table, and
/// a token embedding that is not also the output head), with what one decoded token reads from each.
///
/// Computed from the tensor descriptors and the configuration alone (`PackConverter.plannedStorage`), so a plan for a
/// 10 GB model takes no longer than one for 10 MB. The bench holds these figures to measured peak RSS and pages read.
public struct ResidencyPlan: Codable, Sendable {
    /// One group of bytes and where it lives.
    public struct Part: Codable, Sendable, Equatable {
        public let name: String
        public let bytes: Int
        /// `resident` or `storage`.
        public let placement: String
    }

    /// Pages one token's lookups touch, at a page size.
    public struct Pages: Codable, Sendable, Equatable {
        public let pageBytes: Int
        /// Mean pages one token's table records span (over every token of the vocabulary).
        public let pagesPerToken: Double
        /// Bytes those pages hold: what storage delivers per token.
        public var bytesPerToken: Double { pagesPerToken * Double(pageBytes) }
    }

    /// The label of the recipe (a preset name, `recipe`, or `as stored`).
    public let recipe: String
    /// The tokens the KV cache and the buffers are sized for.
    public let contextTokens: Int
    public let parts: [Part]
    /// Bytes that must stay in memory (every resident part).
    public let residentBytes: Int
    /// Bytes that can stay in storage, read one record per token.
    public let storageBytes: Int
    /// The file size under the recipe (every tensor, as the pack would store it; without the pack's index).
    public let tensorBytes: Int
    /// Weight bytes one decoded token streams from memory (every matrix it multiplies, once).
    public let streamedWeightBytesPerToken: Int
    /// KV-cache bytes one decoded token reads at the end of the context (sliding layers read their window).
    public let kvBytesPerToken: Int
    /// Table bytes one token looks up (its records, padding included).
    public let lookupBytesPerToken: Int
    /// Pages those lookups touch, at 4 KiB and at 16 KiB (Apple silicon).
    public let lookupPages: [Pages]
    /// Vocabulary entries of the storage tables (rows one token picks from).
    public let lookupRows: Int
    /// Bytes of the per-layer embedding table(s).
    public let tableBytes: Int

    /// Plans `source` under `recipe` (nil: as stored) for a context of `contextTokens`, with buffers for prompts of
    /// `batchTokens`.
    /// `runtimeBytes`: the program's own resident memory before it loads a model (what `lpk-plan` measures of itself at
    /// start), counted as a resident part when not 0.
    public init(source: any TensorSource, recipe: Recipe?, label: String, contextTokens: Int, batchTokens: Int = 128,
                runtimeBytes: Int = 0) throws {
        guard let c = source.configuration else {
            throw TensorSourceError.invalidConfiguration(file: source.path, "has no model configuration to plan for")
        }
        self.recipe = label
        self.contextTokens = contextTokens
        let hasHead = source.tensors.contains { $0.role == .outputHead }
        var sums: [String: (bytes: Int, placement: String)] = [:]
        var order: [String] = []
        func add(_ name: String, _ bytes: Int, _ placement: String) {
            if sums[name] == nil { order.append(name); sums[name] = (0, placement) }
            sums[name]!.bytes += bytes
        }
        var streamed = 0, lookupBytes = 0, tableRows = 0, total = 0
        var strides: [(stride: Int, rows: Int)] = []
        for tensor in source.tensors where tensor.encoding != .file {
            let (encoding, bytes) = try PackConverter.plannedStorage(of: tensor, recipe: recipe, pleGroup: c.perLayerInputSize)
            total += bytes
            let isMatrix = tensor.shape.rank >= 2
            switch tensor.role {
            case .visionTower, .audioTower, .multimodalEmbedder:
                add("multimodal towers (not loaded by the text model)", bytes, "storage")
            case .perLayerEmbedding:
                add("per-layer embedding table", bytes, "storage")
                let stride = bytes / max(1, tensor.shape.rowCount)
                lookupBytes += stride
                tableRows = max(tableRows, tensor.shape.rowCount)
                strides.append((stride, tensor.shape.rowCount))
            case .tokenEmbedding where hasHead:
                add("token embedding (lookup only: the head is separate)", bytes, "storage")
                lookupBytes += bytes / max(1, tensor.shape.rowCount)
            case .tokenEmbedding, .outputHead:
                add("token embedding / output head", bytes, "resident")
                streamed += bytes
            default:
                // Float matrices are read into memory as f32; other encodings stay mapped and are read as stored.
                let inMemory = Self.isLoadedAsFloat(encoding) || !isMatrix ? tensor.shape.elementCount * 4 : bytes
                add(isMatrix ? "core matrices" : "norms, scalars and vectors", inMemory, "resident")
                if isMatrix { streamed += inMemory }
            }
        }
        let kvWidths = (0..<c.layerCount).map { $0 < c.firstKVSharedLayer ? c.keyValueHeadCount(layer: $0) * c.headDimension(layer: $0) : 0 }
        let kvCache = kvWidths.reduce(0, +) * contextTokens * 2 * 4
        add("KV cache (f32, \(contextTokens) tokens)", kvCache, "resident")
        if runtimeBytes > 0 { add("program and runtime (measured at start)", runtimeBytes, "resident") }
        // A container's own index (a pack's records and metadata, a safetensors header) is read when it opens.
        let index = source.sections.filter { $0.name.contains("index") || $0.name.contains("header") }.map(\.bytes).reduce(0, +)
        if index > 0 { add("container header and index", index, "resident") }
        // The table pages lookups map while decoding the context: each token's first read verifies (and so maps) whole
        // 16 KiB blocks (Formats/lpk.md §10), at most the whole table.
        let blocksPerToken = strides.map { Self.meanPages(stride: $0.stride, rows: $0.rows, page: 16384) }.reduce(0, +)
        tableBytes = strides.map { $0.stride * $0.rows }.reduce(0, +)
        if tableBytes > 0 {
            add("table pages mapped by \(contextTokens) tokens' lookups", min(tableBytes, Int(Double(contextTokens) * blocksPerToken * 16384)), "resident")
        }
        add("working buffers (\(batchTokens)-token batches)", Self.workingBuffers(c, batch: min(batchTokens, contextTokens)), "resident")
        kvBytesPerToken = zip(kvWidths, c.layerTypes).map { width, kind in
            width * (kind == .sliding ? min(c.slidingWindow, contextTokens) : contextTokens) * 2 * 4
        }.reduce(0, +)
        parts = order.map { Part(name: $0, bytes: sums[$0]!.bytes, placement: sums[$0]!.placement) }
        residentBytes = parts.filter { $0.placement == "resident" }.map(\.bytes).reduce(0, +)
        storageBytes = parts.filter { $0.placement == "storage" }.map(\.bytes).reduce(0, +)
        tensorBytes = total
        streamedWeightBytesPerToken = streamed
        lookupBytesPerToken = lookupBytes
        lookupRows = tableRows
        lookupPages = [4096, 16384].map { page in
            Pages(pageBytes: page, pagesPerToken: strides.map { Self.meanPages(stride: $0.stride, rows: $0.rows, page: page) }.reduce(0, +))
        }
    }

    /// Whether the inference reads a matrix of this encoding into memory as f32 (F32 and other plain types it
    /// converts, MLX groups) rather than mapping it.
    static func isLoadedAsFloat(_ encoding: TensorEncoding) -> Bool {
        switch encoding {
        case .rows, .ggml, .plain(.bf16), .plain(.f16), .file: false
        case .plain, .mlx: true
        }
    }

    /// Mean number of `page`-byte pages a record of `stride` bytes spans, over `rows` records laid end to end from a
    /// page-aligned start (the table starts at a multiple of 16 KiB: Formats/lpk.md §3).
    static func meanPages(stride: Int, rows: Int, page: Int) -> Double {
        guard stride > 0, rows > 0 else { return 0 }
        // The pattern of offsets modulo the page repeats every lcm(stride, page) / stride rows.
        func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }
        let period = min(rows, page / gcd(stride, page))
        var pages = 0
        for row in 0..<period {
            let start = row * stride, end = start + stride - 1
            pages += end / page - start / page + 1
        }
        return Double(pages) / Double(period)
    }

    /// The f32 buffers a forward call over `batch` tokens holds, as the inference allocates them: the workspace (residual,
    /// normed copy, sublayer output, streams, MLP gates and ups, per-layer inputs and their projection, four attention
    /// buffers), one row of logits, and each pool participant's scratch (decoded rows and their panel) as wide as the widest
    /// matrix row.
    static func workingBuffers(_ c: ModelConfiguration, batch: Int) -> Int {
        let d = c.hiddenSize, mlp = c.intermediateSizes.max() ?? d
        let heads = c.headCount * (0..<c.layerCount).map(c.headDimension(layer:)).reduce(c.headDimension, max)
        let perLayer = c.layerCount * (c.perLayerInputSize ?? 0)
        let streams = c.altupInputCount ?? 1
        let perToken = d * (3 + 2 * streams) + 2 * mlp + 4 * heads + 2 * perLayer + (c.perLayerInputSize ?? 0)
        let scratch = WorkerPool.shared.participants * Scratch.valuesPerWorker(width: max(d, mlp, heads, perLayer))
        return (batch * perToken + c.vocabularySize + scratch) * 4
    }
}
