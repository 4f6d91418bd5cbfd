import CDotKernels
import Foundation

/// The numeric kernels of the reference inference: each has a plain scalar version beside the fast one, and tests
/// hold the fast one to it.
public enum Kernels {
    /// Σ a[i]·b[i], the scalar reference.
    public static func dotReference(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
        var sum: Float = 0
        for i in 0..<count { sum += a[i] * b[i] }
        return sum
    }

    /// Σ a[i]·b[i]: AVX2/FMA where the CPU has them, else portable C (CDotKernels).
    @inline(__always)
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
        lpk_dot_f32(a, b, count)
    }

    /// y = x / sqrt(mean(x²) + eps) · (offset + w), in place over `count` values (w nil: no weight).
    /// - Precondition: `weight` (when given) holds at least `count` values.
    @inline(__always)
    public static func rmsNorm(_ x: UnsafeMutablePointer<Float>, _ count: Int, weight: [Float]?, offset: Float, epsilon: Float) {
        var sumSquares: Float = 0
        for i in 0..<count { sumSquares += x[i] * x[i] }
        let inverse = 1 / (sumSquares / Float(count) + epsilon).squareRoot()
        if let weight {
            precondition(weight.count >= count, "norm weight of \(weight.count) for \(count) values")
            weight.withUnsafeBufferPointer { w in
                for i in 0..<count { x[i] = x[i] * inverse * (offset + w[i]) }
            }
        } else {
            for i in 0..<count { x[i] *= inverse }
        }
    }

    /// x[i] = gelu(x[i]) · g[i] over the first `count` values (see the pointer version).
    /// - Precondition: both arrays hold at least `count` values.
    public static func geglu(_ x: inout [Float], by g: [Float], count: Int, numerics: Numerics) {
        precondition(count >= 0 && x.count >= count && g.count >= count, "GeGLU of \(count) values over \(x.count) and \(g.count)")
        x.withUnsafeMutableBufferPointer { x in g.withUnsafeBufferPointer { g in geglu(x.baseAddress!, by: g.baseAddress!, count: count, numerics: numerics) } }
    }

    /// x[i] = gelu(x[i]) · g[i] over `count` values, GELU's tanh approximation (`gelu_pytorch_tanh`): in f32
    /// (`lpk_geglu_tanh`), or through ggml's f16 GELU table under llama.cpp numerics. Long runs (a prefill's MLP)
    /// are split over the worker pool.
    public static func geglu(_ x: UnsafeMutablePointer<Float>, by g: UnsafePointer<Float>, count: Int, numerics: Numerics) {
        let job = GeGLU(values: x, gates: g, count: count, numerics: numerics)
        WorkerPool.shared.parallelFor((count + GeGLU.chunk - 1) / GeGLU.chunk, .geglu(job))
    }

    /// One GeGLU as the worker pool's threads see it, in parts of `chunk` values.
    struct GeGLU {
        static let chunk = 8_192
        let values: UnsafeMutablePointer<Float>
        let gates: UnsafePointer<Float>
        let count: Int
        let numerics: Numerics

        func run(part: Int) {
            let start = part * Self.chunk, length = min(Self.chunk, count - start)
            let x = values + start, g = gates + start
            switch numerics {
            case .float32: lpk_geglu_tanh(x, g, x, length)
            case .llamaCpp: lpk_geglu_f16_table(x, g, x, length)
            }
        }
    }

    /// The cosines and sines RoPE turns every head of one position by: angle i = position × frequency i.
    @inline(__always)
    public static func ropeAngles(position: Int, inverseFrequencies: [Float], cosines: UnsafeMutablePointer<Float>,
                                  sines: UnsafeMutablePointer<Float>) {
        for (i, frequency) in inverseFrequencies.enumerated() {
            let angle = Double(position) * Double(frequency)
            cosines[i] = Float(cos(angle))
            sines[i] = Float(sin(angle))
        }
    }

    /// Rotates pairs (i, i + half) of one head by the angles of ``ropeAngles`` (the "rotate_half" convention).
    @inline(__always)
    public static func rope(_ x: UnsafeMutablePointer<Float>, headDimension: Int, cosines: UnsafePointer<Float>,
                            sines: UnsafePointer<Float>) {
        let half = headDimension / 2
        for i in 0..<half {
            let c = cosines[i], s = sines[i]
            let a = x[i], b = x[i + half]
            x[i] = a * c - b * s
            x[i + half] = b * c + a * s
        }
    }
}

extension Kernels {
    /// RMS-normalises each of the first `rows` rows of `width` values in place, times `offset + weight` (no weight:
    /// plain RMS normalisation).
    /// - Precondition: `x` holds `rows × width` values and `weight` (when given) `width`.
    public static func rmsNormRows(_ x: inout [Float], rows: Int, width: Int, weight: [Float]?, offset: Float = 0, epsilon: Float) {
        precondition(x.count >= rows * width && (weight?.count ?? width) >= width, "rmsnorm of \(rows) × \(width) over \(x.count) values")
        x.withUnsafeMutableBufferPointer { buffer in
            for row in 0..<rows { rmsNorm(buffer.baseAddress! + row * width, width, weight: weight, offset: offset, epsilon: epsilon) }
        }
    }

    /// sqrt(mean(x²)) of `count` values starting at `start`.
    public static func rootMeanSquare(_ x: [Float], from start: Int, count: Int) -> Float {
        var sum: Float = 0
        for i in start..<(start + count) { sum += x[i] * x[i] }
        return (sum / Float(count)).squareRoot()
    }

    /// Gaussian top-k: in each row, relu(x − (mean + cutoff · std)), std the population standard deviation.
    /// With cutoff = Φ⁻¹(p), about a fraction p of normally distributed activations become zero.
    public static func gaussianTopK(_ x: inout [Float], rows: Int, width: Int, cutoff: Float) {
        for row in 0..<rows {
            let range = (row * width)..<((row + 1) * width)
            var sum: Float = 0
            for i in range { sum += x[i] }
            let mean = sum / Float(width)
            var squares: Float = 0
            for i in range { squares += (x[i] - mean) * (x[i] - mean) }
            let threshold = mean + (squares / Float(width)).squareRoot() * cutoff
            for i in range { x[i] = max(0, x[i] - threshold) }
        }
    }

    /// Φ⁻¹(p), the standard normal quantile, for 0 < p < 1: √2·erfinv(2p − 1) by Newton's method on erf.
    public static func standardNormalQuantile(_ p: Double) -> Double {
        precondition(p > 0 && p < 1, "a quantile needs 0 < p < 1")
        let y = 2 * p - 1
        // Start from a logarithmic approximation of erfinv, then polish.
        let a = 0.147, l = log(1 - y * y), t = 2 / (Double.pi * a) + l / 2
        var x = (y < 0 ? -1.0 : 1.0) * (((t * t - l / a).squareRoot() - t).squareRoot())
        for _ in 0..<4 { x -= (erf(x) - y) / (2 / Double.pi.squareRoot() * exp(-x * x)) }
        return x * 2.0.squareRoot()
    }
}
