import TensorModel

/// The gated MLP of a Gemma layer: down(gelu_tanh(gate·x) ⊙ up·x), with Gemma 3n's gaussian top-k on the gate
/// activations of its first layers.
struct GemmaMLP {
    let gate, up, down: LinearWeight
    let width: Int
    /// Standard deviations above the mean below which gate activations are zeroed (nil: dense).
    let sparsityCutoff: Float?

    init(_ weights: WeightLoader, _ c: ModelConfiguration, layer i: Int) throws {
        let d = c.hiddenSize
        width = c.intermediateSizes[i]
        gate = try weights.matrix(layer: i, .gate, rows: width, columns: d)
        up = try weights.matrix(layer: i, .up, rows: width, columns: d)
        down = try weights.matrix(layer: i, .down, rows: d, columns: width)
        let sparsity = i < c.activationSparsity.count ? c.activationSparsity[i] : 0
        sparsityCutoff = sparsity > 0 ? Float(Kernels.standardNormalQuantile(Double(Float(sparsity)))) : nil
    }

    /// The block's matrices.
    var matrices: [LinearWeight] { [gate, up, down] }

    /// Writes the MLP of `count` normed inputs into `result`, using `gates` and `ups` as work space.
    func callAsFunction(_ normed: [Float], count: Int, numerics: Numerics, scratch: Scratch, gates: inout [Float],
                        ups: inout [Float], into result: inout [Float]) {
        LinearWeight.multiply(normed, count: count, scratch: scratch, gate, into: &gates, up, into: &ups)
        if let sparsityCutoff { Kernels.gaussianTopK(&gates, rows: count, width: width, cutoff: sparsityCutoff) }
        Kernels.geglu(&gates, by: ups, count: count * width, numerics: numerics)
        down.multiply(gates, count: count, into: &result, scratch: scratch)
    }
}
