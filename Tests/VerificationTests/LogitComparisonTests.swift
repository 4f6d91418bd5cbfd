import Foundation
import StrictJSON
import TestSupport
import Testing
import Verification

/// The metrics `lpk-verify` reports, against their definitions and against numbers NumPy wrote.
@Suite struct LogitComparisonTests {
    @Test("KL divergence, same top token and cosine follow llama.cpp's definitions on a two-token example")
    func definitions() {
        // Position 0: p = softmax(0, ln 2) = (1/3, 2/3) against q = softmax(ln 3, 0) = (3/4, 1/4): the top tokens
        // differ. Position 1: identical logits.
        let reference: [Float] = [0, Float(log(2.0)), 1, 3]
        let candidate: [Float] = [Float(log(3.0)), 0, 1, 3]
        let comparison = LogitComparison(reference: reference, candidate: candidate, vocabulary: 2)
        let kld = 1.0 / 3 * log((1.0 / 3) / 0.75) + 2.0 / 3 * log((2.0 / 3) / 0.25)
        #expect(abs(comparison.meanKLD - kld / 2) < 1e-6)
        #expect(abs(comparison.maxKLD - kld) < 1e-6)
        #expect(comparison.top1Agreement == 0.5)
    }

    @Test("a NumPy float32 file reads back with NumPy's shape and the statistics NumPy computed of it")
    func numpyFile() throws {
        let array = try NumpyArray(path: Fixtures.path("models/tiny-gemma3-f32/logits.npy"))
        let reference = try #require(try Fixtures.json("models/tiny-gemma3-f32/reference.json").objectValue)
        #expect(array.shape == [12, 512])
        let maxAbs = array.values.map { abs(Double($0)) }.max()!
        #expect(abs(maxAbs - (reference["logits_max_abs"]?.doubleValue ?? .nan)) < 1e-6)
        let mean = array.values.reduce(0.0) { $0 + Double($1) } / Double(array.values.count)
        let std = (array.values.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(array.values.count)).squareRoot()
        #expect(abs(std - (reference["logits_std"]?.doubleValue ?? .nan)) < 1e-5)
    }
}
