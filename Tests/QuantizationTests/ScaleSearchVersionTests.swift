import CDotKernels
import Foundation
import Testing

/// The scale search's versions (portable C, AVX2 fitting several candidates at once, AVX-512 fitting two per register)
/// choose the same scale to the bit: a pack does not depend on the CPU that wrote it.
@Suite struct ScaleSearchVersionTests {
    @Test("the same scale from every version this CPU has: int8, int4 and int2, weighted and not, groups of 32, 64 and 40",
          arguments: [8, 4, 2], [32, 64, 40])
    func versions(bits: Int32, length: Int) {
        var generator = SystemRandomNumberGenerator()
        var compared = 0
        for trial in 0..<400 {
            // Gaussian-like values with an outlier now and then, importances spread over two orders of magnitude.
            let values = (0..<length).map { i -> Float in
                let u = Float.random(in: -1...1, using: &generator) + Float.random(in: -1...1, using: &generator)
                return i == trial % length && trial % 5 == 0 ? u * 6 : u
            }
            let weights = (0..<length).map { _ in Float.random(in: 0.01...1, using: &generator) }
            for weighted in [false, true] {
                var scales: [UInt32] = []
                for version: Int32 in 0...2 {
                    var scale: Float = .nan
                    let ran = weighted ? lpk_search_scale_version(version, values, weights, length, bits, &scale)
                                       : lpk_search_scale_version(version, values, nil, length, bits, &scale)
                    if ran == 1 { scales.append(scale.bitPattern) }
                }
                #expect(!scales.isEmpty && Set(scales).count == 1, "int\(bits), \(length) values, trial \(trial): \(scales)")
                compared += scales.count - 1
            }
        }
        #expect(compared > 0 || lpk_dot_uses_avx2() == 0, "no second version to compare on this CPU")
    }
}
