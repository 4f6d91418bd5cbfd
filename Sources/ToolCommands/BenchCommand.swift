import ArgumentParser
import ByteIO
import Conversion
import Foundation
import GemmaInference
import PackFormat
import Planning
import Quantization
import SourceAdapters
import TensorModel
import TensorTypes

/// `lpk-bench`: in-process measurements that `make bench` collects (open time, PLE lookups, decode speed and its compute
/// ceiling, memcpy, read bandwidth).
package struct BenchCommand: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "lpk-bench",
        abstract: "Micro-measurements for make bench; prints one JSON object per run.",
        subcommands: [Open.self, PLELookups.self, Decode.self, DecodeCeiling.self, Memcpy.self, ReadBandwidth.self, ScaledTable.self])

    package init() {}

    static func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

    /// Prints one measurement as a one-line JSON object: its label and its figures, as JSON numbers.
    static func emit(_ fields: [String: Double], label: String) throws {
        print(try Formatting.json(Measurement(label: label, figures: fields)).replacingOccurrences(of: "\n", with: ""))
    }

    /// One measurement: `{"label": …, "figure": number, …}`.
    struct Measurement: Encodable {
        let label: String
        let figures: [String: Double]

        struct Key: CodingKey {
            let stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(label, forKey: Key(stringValue: "label"))
            for (name, value) in figures { try container.encode(value, forKey: Key(stringValue: name)) }
        }
    }

    /// Time to open a model and list its tensors (no tensor data touched).
    struct Open: ParsableCommand {
        @Argument var path: String
        @Option var repeats = 20
        func run() throws {
            var times: [Double] = []
            var count = 0
            for _ in 0..<repeats {
                let start = Date()
                let source = try ModelSources.open(path)
                count = source.tensors.count
                times.append(Date().timeIntervalSince(start))
            }
            try BenchCommand.emit(["seconds": BenchCommand.median(times), "tensors": Double(count)], label: "open")
        }
    }

    /// Random PLE lookups from a pack: read one record, dequantize all layers. One token at a time (as decoding reads
    /// the table, the next record fetched meanwhile), or `--batch` tokens at once as a prompt's are read (spread over
    /// the worker pool).
    struct PLELookups: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ple")
        @Argument var path: String
        @Option var lookups = 200_000
        @Option(help: "Tokens looked up together, as prefill reads a prompt's records (1: one at a time, as decoding does).")
        var batch = 1
        @Flag(help: "Map every page of the table first, so lookups measure decoding, not first-touch page faults.")
        var mapped = false
        func run() throws {
            guard batch >= 1, batch <= 4096 else { throw ValidationError("--batch is 1…4096") }
            // The path the models take: the table as a mapped LinearWeight, records decoded as they are looked up.
            let source = try ModelSources.open(path)
            guard let table = source.tensors.first(where: { $0.role == .perLayerEmbedding }), case .rows = table.encoding else {
                throw ValidationError("\(path) has no quantized per-layer embedding table")
            }
            let weight = try LinearWeight(source: source, name: table.name)
            let rows = weight.rows, width = weight.columns, stride = table.byteCount / rows
            if mapped { weight.touchEveryPage() }
            var output = [Float](repeating: 0, count: width * batch)
            var state: UInt64 = 0x9E37_79B9_7F4A_7C15
            var checksum: Float = 0
            func next() -> Int {
                state ^= state << 13; state ^= state >> 7; state ^= state << 17
                return Int(state % UInt64(rows))
            }
            let batches = (lookups + batch - 1) / batch
            var tokens = [Int](repeating: 0, count: batch)
            let start = Date()
            output.withUnsafeMutableBufferPointer { out in
                if batch == 1 {
                    var row = next()
                    for _ in 0..<lookups {
                        let following = next()
                        weight.decodeRow(row, into: out.baseAddress!, fetching: following)
                        checksum += out[0]
                        row = following
                    }
                } else {
                    for _ in 0..<batches {
                        for i in 0..<batch { tokens[i] = next() }
                        weight.decodeRows(tokens, into: out.baseAddress!)
                        checksum += out[0]
                    }
                }
            }
            let seconds = Date().timeIntervalSince(start)
            try BenchCommand.emit(["lookups_per_second": Double(batches * batch) / seconds, "record_bytes": Double(stride),
                                   "layers_times_width": Double(width), "checksum": Double(checksum.isFinite ? 0 : 1)], label: "ple")
        }
    }

    /// Prefill and greedy decode speed of the reference inference.
    struct Decode: ParsableCommand {
        @Argument var path: String
        @Option var promptTokens = 128
        @Option var generate = 32
        @Option(help: "Before decoding, drop the pack's .ple file from the page cache (cold), read it all into the cache (warm), or also map every page of the table into the process (ram).")
        var pleCache: String?
        @Option(help: "f32 (exact activations) or llama.cpp (activations rounded as llama.cpp's CPU backend rounds them).")
        var numerics: Numerics = .float32
        func run() throws {
            let source = try ModelSources.open(path)
            let model = try ModelRegistry.model(for: source, contextLength: promptTokens + generate + 1, numerics: numerics)
            if let pleCache {
                try Self.prepare(pleFile: path + ".ple", cache: pleCache == "ram" ? "warm" : pleCache)
                if pleCache == "ram" { (model as? any PerLayerEmbeddingModel)?.holdTableInMemory() }
            }
            let before = Self.storageCounters()
            let vocabulary = model.configuration.vocabularySize
            let prompt = (0..<promptTokens).map { $0 == 0 ? 2 : (1000 + ($0 * 7919) % 20000) % vocabulary }
            var start = Date()
            let logits = try model.forward(prompt, allLogits: false)
            let prefill = Date().timeIntervalSince(start)
            start = Date()
            var sampler = Sampler.greedy
            _ = try model.generate(continuing: logits, count: generate + 1, sampler: &sampler)  // forwards `generate` tokens
            let decode = Date().timeIntervalSince(start)
            let after = Self.storageCounters()
            let tokens = Double(promptTokens + generate)
            try BenchCommand.emit(["prefill_tokens_per_second": Double(promptTokens) / prefill,
                                   "decode_tokens_per_second": Double(generate) / decode,
                                   "peak_rss_megabytes": Self.peakResidentMegabytes(),
                                   "ple_file_resident_pages": Double(Self.residentPages(ofMappingsEndingWith: ".ple")),
                                   "ple_pages_read": Double((model as? any PerLayerEmbeddingModel)?.perLayerPagesRead.count ?? 0),
                                   "major_faults_per_token": Double(after.majorFaults - before.majorFaults) / tokens,
                                   "storage_bytes_per_token": Double(after.readBytes - before.readBytes) / tokens,
                                   "tokens": tokens], label: "decode")
        }

        /// Drops `pleFile` from the page cache (`posix_fadvise(DONTNEED)`: its pages must then come from storage) or reads it
        /// whole so that every page is cached.
        static func prepare(pleFile: String, cache: String) throws {
            let fd = open(pleFile, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw ValidationError("--ple-cache needs a split pack: cannot open \(pleFile)") }
            defer { close(fd) }
            switch cache {
            case "cold":
                _ = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)
            case "warm":
                var buffer = [UInt8](repeating: 0, count: 1 << 20)
                while buffer.withUnsafeMutableBytes({ read(fd, $0.baseAddress, $0.count) }) > 0 {}
            default:
                throw ValidationError("--ple-cache is cold or warm")
            }
        }

        /// This process's major page faults (`getrusage`) and bytes it caused to be read from storage (`read_bytes` of
        /// /proc/self/io).
        static func storageCounters() -> (majorFaults: Int, readBytes: Int) {
            var usage = rusage()
            getrusage(RUSAGE_SELF.rawValue, &usage)
            var readBytes = 0
            if let handle = FileHandle(forReadingAtPath: "/proc/self/io") {
                let text = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
                for line in text.split(separator: "\n") where line.hasPrefix("read_bytes:") {
                    readBytes = Int(line.split(separator: " ").last ?? "0") ?? 0
                }
            }
            return (Int(usage.ru_majflt), readBytes)
        }

        /// This process's peak resident memory: `VmHWM` of /proc/self/status, which belongs to the address space and
        /// starts afresh at exec (`ru_maxrss` keeps the high-water mark of the process that spawned us).
        static func peakResidentMegabytes() -> Double {
            guard let handle = FileHandle(forReadingAtPath: "/proc/self/status") else { return -1 }
            let text = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
            for line in text.split(separator: "\n") where line.hasPrefix("VmHWM:") {
                if let kilobytes = line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap({ Double($0) }) {
                    return kilobytes / 1024
                }
            }
            return -1
        }

        /// Pages of this process's mappings of files ending with `suffix` that are resident in its page tables: the
        /// pages the run actually touched (-1 where the system does not say).
        static func residentPages(ofMappingsEndingWith suffix: String) -> Int {
            ProcessMappings.residentBytes(ofFilesWhere: { $0.hasSuffix(suffix) }).map { $0 / 4096 } ?? -1
        }
    }

    /// Single-thread memcpy bandwidth over 1 GiB buffers: the machine's limit for streaming conversion.
    struct Memcpy: ParsableCommand {
        @Option var megabytes = 1024
        func run() throws {
            let count = megabytes << 20
            let source = UnsafeMutableRawPointer.allocate(byteCount: count, alignment: 64)
            let destination = UnsafeMutableRawPointer.allocate(byteCount: count, alignment: 64)
            defer { source.deallocate(); destination.deallocate() }
            memset(source, 1, count)
            memset(destination, 0, count)
            var times: [Double] = []
            for _ in 0..<5 {
                let start = Date()
                memcpy(destination, source, count)
                times.append(Date().timeIntervalSince(start))
            }
            try BenchCommand.emit(["gigabytes_per_second": Double(count) / 1e9 / BenchCommand.median(times)], label: "memcpy")
        }
    }

    /// Memory read bandwidth on all cores: every core sums its share of a 1 GiB buffer (the limit of decoding,
    /// which reads every weight once per token): the figure `lpk-plan` measures.
    struct ReadBandwidth: ParsableCommand {
        @Option var megabytes = 1024
        func run() throws {
            try BenchCommand.emit(["gigabytes_per_second": DeviceProfile.measureMemoryBandwidth(megabytes: megabytes) / 1e9,
                                   "threads": Double(max(1, ProcessInfo.processInfo.activeProcessorCount))], label: "read-bandwidth")
        }
    }
}

