import CDotKernels
import Foundation
import Testing

/// The row quantizer's versions (portable C, AVX2, AVX-512) write the same record to the byte and report the same
/// error up to float summation order: a pack does not depend on the CPU that wrote it.
@Suite struct RowQuantizeVersionTests {
    @Test("the same record from every version this CPU has: int8, int4 and int2, nearest and searched, weighted and not, groups of 32, 64, 256 and 40",
          arguments: [8, 4, 2], [32, 64, 256, 40])
    func versions(bits: Int32, group: Int) {
        var generator = SystemRandomNumberGenerator()
        let n = 1280  // a whole number of groups for every size here
        var compared = 0
        for trial in 0..<10 {
            // Gaussian-like values with an outlier now and then, importances spread over two orders of magnitude.
            let values = (0..<n).map { i -> Float in
                let u = Float.random(in: -1...1, using: &generator) + Float.random(in: -1...1, using: &generator)
                return i % 97 == trial % 97 ? u * 6 : u
            }
            let weights = (0..<n).map { _ in Float.random(in: 0.01...1, using: &generator) }
            let recordBytes = 2 * (n / group) + n * Int(bits) / 8
            for search in [false, true] {
                for weighted in [false, true] where search || !weighted {
                    // Searched scales as the converter finds them (lpk_search_scales), given to every version.
                    var scales = [Float](repeating: 0, count: n / group)
                    if weighted { lpk_search_scales(values, weights, n / group, group, bits, &scales) }
                    else { lpk_search_scales(values, nil, n / group, group, bits, &scales) }
                    var records: [[UInt8]] = [], sums: [lpk_error_sums] = []
                    for version: Int32 in 0...2 {
                        var record = [UInt8](repeating: 0, count: recordBytes)
                        var sum = lpk_error_sums(), result = 0
                        let ran = search
                            ? lpk_quantize_row_version(version, values, scales, n, group, bits, &record, &sum, &result)
                            : lpk_quantize_row_version(version, values, nil, n, group, bits, &record, &sum, &result)
                        guard ran == 1 else { continue }
                        #expect(result == -1, "version \(version): \(result)")
                        records.append(record)
                        sums.append(sum)
                    }
                    #expect(Set(records).count == 1, "int\(bits) g\(group), search \(search), weighted \(weighted), trial \(trial)")
                    for sum in sums.dropFirst() {
                        #expect(abs(sum.squared_error - sums[0].squared_error) <= 1e-5 * sums[0].squared_error)
                        #expect(abs(sum.dot - sums[0].dot) <= 1e-5 * abs(sums[0].dot))
                        #expect(sum.max_error == sums[0].max_error)
                    }
                    compared += records.count - 1
                }
            }
        }
        #expect(compared > 0 || lpk_dot_uses_avx2() == 0, "no second version to compare on this CPU")
    }

    @Test("every version names the first value that is not finite")
    func nonFinite() {
        var values = [Float](repeating: 0.5, count: 64)
        values[37] = .nan
        for version: Int32 in 0...2 {
            var record = [UInt8](repeating: 0, count: 2 * 2 + 64)
            var sum = lpk_error_sums(), result = 0
            guard lpk_quantize_row_version(version, values, nil, 64, 32, 8, &record, &sum, &result) == 1 else { continue }
            #expect(result == 37, "version \(version)")
        }
    }
}
