import TensorModel

/// The activation buffers of a Gemma forward call, owned by the model and kept between calls: each keeps its storage,
/// so decoding allocates nothing per token but the logits it returns. ``prepare(tokens:)`` sizes every buffer for a
/// call from the configuration; the blocks check each buffer's size where they use it.
final class Workspace {
    /// The residual stream (Gemma 3n: the scaled embeddings).
    var hidden: [Float] = []
    /// A normed copy of the residual, the input of attention and MLP.
    var normed: [Float] = []
    /// A sublayer's output before it joins the residual.
    var sublayer: [Float] = []
    var gates: [Float] = [], ups: [Float] = []
    /// Each token's per-layer inputs (PLE models): `layers × ple` values per token.
    var perLayer: [Float] = []
    /// A layer's gated per-layer input (PLE models): `ple` values per token.
    var gated: [Float] = []
    /// The hidden states the logits are taken of.
    var final: [Float] = []
    var attention = GemmaAttention.Buffers()

    private let hiddenSize, widestMLP, widestHeads, perLayerWidth, perLayerRecord, capacity: Int

    init(_ c: ModelConfiguration, capacity: Int) {
        hiddenSize = c.hiddenSize
        widestMLP = c.intermediateSizes.max() ?? c.hiddenSize
        widestHeads = c.headCount * (0..<c.layerCount).map(c.headDimension(layer:)).reduce(c.headDimension, max)
        perLayerWidth = c.perLayerInputSize ?? 0
        perLayerRecord = c.layerCount * perLayerWidth
        self.capacity = capacity
    }

    /// Every buffer as zeros for a call on `tokens` tokens, in the storage it already has where that is large enough.
    func prepare(tokens: Int) {
        hidden.zero(count: tokens * hiddenSize)
        normed.zero(count: tokens * hiddenSize)
        sublayer.zero(count: tokens * hiddenSize)
        gates.zero(count: tokens * widestMLP)
        ups.zero(count: tokens * widestMLP)
        perLayer.zero(count: tokens * perLayerRecord)
        gated.zero(count: tokens * perLayerWidth)
        attention.prepare(count: tokens, widestHeads: widestHeads, capacity: capacity)
    }

    /// `final` as a copy of the residual's last `rows` tokens of `count`.
    func takeFinal(rows: Int, of count: Int) {
        final.removeAll(keepingCapacity: true)
        final.append(contentsOf: hidden[((count - rows) * hiddenSize)..<(count * hiddenSize)])
    }
}
