import Foundation
import TensorModel

/// Gemma 3n's AltUp for one layer: the hidden state travels as `n` streams; the layer predicts every stream from a
/// learned mix of all of them, runs on the active one, then corrects every stream by the innovation. The mixing
/// weights come from a router over the (normed, scaled) active stream.
struct AltUp {
    let router: LinearWeight
    let routerNorm: [Float]
    /// Prediction coefficients `[n·n, n]` and correction coefficients `[n, n]`, mixed by the router's modalities.
    let prediction, correction: [Float]
    /// Scales the corrected active stream before it gates the per-layer input (ones when the model does not).
    let correctOutputScale: [Float]
    let streams, active: Int

    init(_ weights: WeightLoader, _ c: ModelConfiguration, layer i: Int, streams n: Int) throws {
        let d = c.hiddenSize
        router = try weights.matrix(layer: i, .altupRouter, rows: n, columns: d)
        routerNorm = try weights.vector(layer: i, .altupRouterNorm, count: d)
        prediction = try weights.vector(layer: i, .altupPrediction, count: n * n * n)
        correction = try weights.vector(layer: i, .altupCorrection, count: n * n)
        correctOutputScale = c.altupCorrectScale
            ? try weights.vector(layer: i, .altupCorrectScale, count: d) : [Float](repeating: 1, count: d)
        streams = n
        active = c.altupActiveIndex ?? 0
    }

    /// The router.
    var matrices: [LinearWeight] { [router] }

    /// tanh(router · rmsnorm(x) / D): the per-token mixing weights (`count × streams`).
    func modalities(_ x: [Float], count: Int, norm: RowNorm, scratch: Scratch, normed: inout [Float], into modalities: inout [Float]) {
        let d = norm.width
        norm(x, into: &normed, weight: routerNorm, rows: count)
        let inputScale = Float(1 / Double(d))
        normed.withUnsafeMutableBufferPointer { normed in for i in 0..<(count * d) { normed[i] *= inputScale } }
        router.multiply(normed, count: count, into: &modalities, scratch: scratch)
        for i in 0..<(count * streams) { modalities[i] = tanh(modalities[i]) }
    }

    /// prediction_j = stream_j + Σ_i P[j·n + i] · stream_i, with P the prediction coefficients times the modalities.
    /// Each element sums its terms in that order (from 0, i ascending, then stream_j), a stream at a time over the row.
    func predict(_ streams: [[Float]], modalities: [Float], count: Int, width d: Int, mix: inout [Float], into predictions: inout [[Float]]) {
        let n = self.streams
        for t in 0..<count {
            for k in 0..<(n * n) {
                var sum: Float = 0
                for m in 0..<n { sum += prediction[k * n + m] * modalities[t * n + m] }
                mix[k] = sum
            }
            let row = (t * d)..<((t + 1) * d)
            for j in 0..<n {
                predictions[j].withUnsafeMutableBufferPointer { out in
                    let out = UnsafeMutableBufferPointer(rebasing: out[row])
                    out.update(repeating: 0)
                    for i in 0..<n {
                        let coefficient = mix[j * n + i]
                        streams[i].withUnsafeBufferPointer { stream in
                            for (e, value) in stream[row].enumerated() { out[e] += value * coefficient }
                        }
                    }
                    streams[j].withUnsafeBufferPointer { own in
                        for (e, value) in own[row].enumerated() { out[e] = out[e] + value }
                    }
                }
            }
        }
    }

    /// stream_j = prediction_j + (activated − prediction_active) · (1 + C_j · modalities).
    func correct(_ predictions: [[Float]], activated: [Float], modalities: [Float], count: Int, width d: Int, into streams: inout [[Float]]) {
        let n = self.streams
        for t in 0..<count {
            let row = (t * d)..<((t + 1) * d)
            for j in 0..<n {
                var coefficient: Float = 0
                for m in 0..<n { coefficient += correction[j * n + m] * modalities[t * n + m] }
                coefficient += 1
                streams[j].withUnsafeMutableBufferPointer { out in
                    activated.withUnsafeBufferPointer { activated in
                        predictions[active].withUnsafeBufferPointer { predicted in
                            predictions[j].withUnsafeBufferPointer { own in
                                for e in row { out[e] = (activated[e] - predicted[e]) * coefficient + own[e] }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Rescales every stream but `active` so each token's RMS equals `reference`'s (floored at √1e-5).
    static func matchMagnitudes(of streams: inout [[Float]], to reference: [Float], active: Int, count: Int, width d: Int) {
        for t in 0..<count {
            let target = Kernels.rootMeanSquare(reference, from: t * d, count: d)
            for s in streams.indices where s != active {
                var meanSquare: Float = 0
                for i in (t * d)..<((t + 1) * d) { meanSquare += streams[s][i] * streams[s][i] }
                let magnitude = max(meanSquare / Float(d), 1e-5).squareRoot()
                for i in (t * d)..<((t + 1) * d) { streams[s][i] = streams[s][i] * target / magnitude }
            }
        }
    }
}

/// The AltUp projections of the streams other than the active one: one `[D, D]` matrix each in safetensors,
/// one stacked `[n−1, D, D]` tensor in GGUF (split here into its matrices).
struct StreamProjections {
    let weights: [LinearWeight]

    /// Loads the projections (`unembed` false) or the unembedding projections (true).
    init(_ loader: WeightLoader, unembed: Bool, streams: Int, width d: Int) throws {
        let part: (Int?) -> GemmaWeight = unembed ? { .altupUnembedProjection($0) } : { .altupProjection($0) }
        if loader.has(part(0)) {
            weights = try (0..<(streams - 1)).map { try loader.matrix(part($0), rows: d, columns: d) }
        } else {
            let stacked = try loader.matrix(part(nil), rows: (streams - 1) * d, columns: d)
            weights = (0..<(streams - 1)).map { stacked.rows(($0 * d)..<(($0 + 1) * d)) }
        }
    }

    /// outputs[k] = W_k · input for k = 1 ..< n (stream 0, the active one, is left alone).
    func apply(_ input: [Float], count: Int, scratch: Scratch, into outputs: inout [[Float]]) {
        for (k, weight) in weights.enumerated() { weight.multiply(input, count: count, into: &outputs[k + 1], scratch: scratch) }
    }

    /// outputs[k] = W_k · inputs[k] for k = 1 ..< n.
    func apply(_ inputs: [[Float]], count: Int, scratch: Scratch, into outputs: inout [[Float]]) {
        for (k, weight) in weights.enumerated() { weight.multiply(inputs[k + 1], count: count, into: &outputs[k + 1], scratch: scratch) }
    }
}
