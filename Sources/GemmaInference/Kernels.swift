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

    /// Σ a[i]·b[i] with four 8-wide accumulators.
    @inline(__always)
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
        var s0 = SIMD8<Float>(), s1 = SIMD8<Float>(), s2 = SIMD8<Float>(), s3 = SIMD8<Float>()
        let rawA = UnsafeRawPointer(a), rawB = UnsafeRawPointer(b)
        var i = 0
        while i + 32 <= count {
            let offset = i * 4
            s0 += rawA.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self) * rawB.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
            s1 += rawA.loadUnaligned(fromByteOffset: offset + 32, as: SIMD8<Float>.self) * rawB.loadUnaligned(fromByteOffset: offset + 32, as: SIMD8<Float>.self)
            s2 += rawA.loadUnaligned(fromByteOffset: offset + 64, as: SIMD8<Float>.self) * rawB.loadUnaligned(fromByteOffset: offset + 64, as: SIMD8<Float>.self)
            s3 += rawA.loadUnaligned(fromByteOffset: offset + 96, as: SIMD8<Float>.self) * rawB.loadUnaligned(fromByteOffset: offset + 96, as: SIMD8<Float>.self)
            i += 32
        }
        while i + 8 <= count {
            s0 += rawA.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) * rawB.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        var sum = ((s0 + s1) + (s2 + s3)).sum()
        while i < count {
            sum += a[i] * b[i]
            i += 1
        }
        return sum
    }

    /// y = x / sqrt(mean(x²) + eps) · (offset + w), in place over `count` values (w nil: no weight).
    @inline(__always)
    public static func rmsNorm(_ x: UnsafeMutablePointer<Float>, _ count: Int, weight: UnsafePointer<Float>?, offset: Float, epsilon: Float) {
        var sumSquares: Float = 0
        for i in 0..<count { sumSquares += x[i] * x[i] }
        let inverse = 1 / (sumSquares / Float(count) + epsilon).squareRoot()
        if let weight {
            for i in 0..<count { x[i] = x[i] * inverse * (offset + weight[i]) }
        } else {
            for i in 0..<count { x[i] *= inverse }
        }
    }

    /// GELU, tanh approximation (`gelu_pytorch_tanh`).
    @inline(__always)
    public static func gelu(_ x: Float) -> Float {
        0.5 * x * (1 + tanh(0.797_884_560_802_865_4 * (x + 0.044_715 * x * x * x)))
    }

    /// Rotates pairs (i, i + half) of one head by position × frequency (the "rotate_half" RoPE convention).
    @inline(__always)
    public static func rope(_ x: UnsafeMutablePointer<Float>, headDimension: Int, position: Int, inverseFrequencies: [Float]) {
        let half = headDimension / 2
        for i in 0..<half {
            let frequency = inverseFrequencies[i]
            guard frequency != 0 else { continue }
            let angle = Double(position) * Double(frequency)
            let c = Float(cos(angle)), s = Float(sin(angle))
            let a = x[i], b = x[i + half]
            x[i] = a * c - b * s
            x[i + half] = b * c + a * s
        }
    }

    /// Softmax of `count` values in place.
    @inline(__always)
    public static func softmax(_ x: UnsafeMutablePointer<Float>, _ count: Int) {
        var maximum = -Float.infinity
        for i in 0..<count { maximum = max(maximum, x[i]) }
        var sum: Float = 0
        for i in 0..<count {
            x[i] = exp(x[i] - maximum)
            sum += x[i]
        }
        let inverse = 1 / sum
        for i in 0..<count { x[i] *= inverse }
    }
}
