import ArgumentParser
import Foundation
import GemmaInference
import SourceAdapters

extension BenchCommand {
    /// The compute ceiling of decoding a model: how fast its products would run if reading the weights cost nothing,
    /// and how fast they run when they do.
    ///
    /// Every matrix a decoded token multiplies (the output head included, lookup tables not) is timed on a slice of its
    /// own first rows small enough to stay in the cores' caches, multiplied by one input over and over through the
    /// worker pool as decode multiplies it. Each (encoding, row length) is timed once; a matrix then costs its stored
    /// bytes at that rate. The sum over the matrices is one token's products at cache speed: the most decode can reach
    /// with the reference inference's f32 activations on this machine, whatever the memory bandwidth.
    /// Then the same products are run whole, one after another as a token runs them, their weights read from memory
    /// (a model's matrices together outgrow the caches): a token's products alone, streamed, without the rest of its
    /// work (attention, norms, sampling). Between the read-bandwidth limit, this and decode lies where a token's time goes.
    struct DecodeCeiling: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "decode-ceiling")
        @Argument var path: String
        @Option(help: "Bytes of each timed slice, split between the threads (well inside their L2 caches).")
        var sliceKilobytes = 512

        func run() throws {
            guard sliceKilobytes >= 1, sliceKilobytes <= 1 << 20 else { throw ValidationError("--slice-kilobytes is 1…1048576") }
            let model = try ModelRegistry.model(for: try ModelSources.open(path), contextLength: 8)
            let matrices = model.matrices.filter { !$0.isLookupTable }
            let scratch = Scratch(workers: WorkerPool.shared.participants, width: matrices.map(\.columns).max() ?? 1)
            var rates: [String: Double] = [:]  // bytes per second, by "encoding × row length"
            var seconds = 0.0, bytes = 0
            for matrix in matrices {
                let stored = matrix.stored
                let kind = "\(stored.encoding) × \(matrix.columns)"
                let rate = rates[kind] ?? cachedRate(of: matrix, scratch: scratch)
                rates[kind] = rate
                seconds += Double(stored.bytes) / rate
                bytes += stored.bytes
            }
            let streamed = streamedSeconds(of: matrices, scratch: scratch)
            var figures: [String: Double] = ["ceiling_tokens_per_second": 1 / seconds, "product_bytes": Double(bytes),
                                             "gigabytes_per_second": Double(bytes) / seconds / 1e9]
            figures["streamed_tokens_per_second"] = 1 / streamed
            figures["streamed_gigabytes_per_second"] = Double(bytes) / streamed / 1e9
            for (kind, rate) in rates { figures["gigabytes_per_second \(kind)"] = rate / 1e9 }
            try BenchCommand.emit(figures, label: "decode-ceiling")
        }

        /// The input every timed product multiplies: `width` values spread over −1…1.
        static func probeInput(width: Int) -> [Float] {
            (0..<width).map { (column: Int) -> Float in Float((column * 37) % 17 - 8) / 8 }
        }

        /// Seconds of one token's products on whole matrices, each multiplied once by one input in turn: the median of
        /// nine passes after one that brings the code and the buffers in.
        func streamedSeconds(of matrices: [LinearWeight], scratch: Scratch) -> Double {
            let input = Self.probeInput(width: matrices.map(\.columns).max() ?? 1)
            var output = [Float](repeating: 0, count: matrices.map(\.rows).max() ?? 1)
            var timings: [Double] = []
            for pass in 0..<10 {
                let start = Date()
                for matrix in matrices { matrix.multiply(input, count: 1, into: &output, scratch: scratch) }
                if pass > 0 { timings.append(Date().timeIntervalSince(start)) }
            }
            return BenchCommand.median(timings)
        }

        /// Bytes per second of `matrix`'s products with one input, on a slice of its first rows that stays cached:
        /// the median of five timings, each of enough products to take about 20 ms.
        func cachedRate(of matrix: LinearWeight, scratch: Scratch) -> Double {
            let rowBytes = max(1, matrix.stored.bytes / max(1, matrix.rows))
            let granule = 64 * WorkerPool.shared.participants  // whole pieces for every thread
            let wanted = max(granule, sliceKilobytes * 1024 / rowBytes / granule * granule)
            let slice = matrix.rows(0..<min(matrix.rows, wanted))
            let input = Self.probeInput(width: matrix.columns)
            var output = [Float](repeating: 0, count: slice.rows)
            let warmup = Date()
            for _ in 0..<8 { slice.multiply(input, count: 1, into: &output, scratch: scratch) }  // brings the slice in
            let repeats = max(1, Int(0.02 / max(1e-9, Date().timeIntervalSince(warmup) / 8)))
            var timings: [Double] = []
            for _ in 0..<5 {
                let start = Date()
                for _ in 0..<repeats { slice.multiply(input, count: 1, into: &output, scratch: scratch) }
                timings.append(Date().timeIntervalSince(start))
            }
            return Double(slice.stored.bytes) * Double(repeats) / BenchCommand.median(timings)
        }
    }
}
