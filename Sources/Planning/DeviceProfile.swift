import ByteIO
import Dispatch
import Foundation
import GemmaInference

/// What a device can deliver: memory read bandwidth (what decoding streams the resident weights at) and storage's
/// random-read latency and bandwidth (what a lookup from a table left in storage costs). Measured on this machine by
/// ``measure(directory:)``, or given for another device.
public struct DeviceProfile: Codable, Sendable, Equatable {
    /// Memory read bandwidth on all cores, bytes per second.
    public var memoryBytesPerSecond: Double
    /// Time of one random 4 KiB read from storage with the page cache dropped, seconds (queue depth 1).
    public var storageLatencySeconds: Double
    /// Sequential read bandwidth of storage with the page cache dropped, bytes per second.
    public var storageBytesPerSecond: Double
    /// Where the figures come from (`measured in DIR`, `given`).
    public var origin: String

    public init(memoryBytesPerSecond: Double, storageLatencySeconds: Double, storageBytesPerSecond: Double, origin: String) {
        self.memoryBytesPerSecond = memoryBytesPerSecond
        self.storageLatencySeconds = storageLatencySeconds
        self.storageBytesPerSecond = storageBytesPerSecond
        self.origin = origin
    }

    /// Seconds to read one token's `bytes` of records from storage: one request (a token's records are contiguous)
    /// costing the latency, plus the bytes at the storage bandwidth.
    public func storageSeconds(bytes: Double) -> Double {
        bytes <= 0 ? 0 : storageLatencySeconds + bytes / storageBytesPerSecond
    }

    /// Measures this machine: memory bandwidth over a 256 MiB buffer on every core, and storage with a 64 MiB
    /// scratch file in `directory` (written, synced, dropped from the page cache with `posix_fadvise(DONTNEED)`, read
    /// back at random 4 KiB offsets and then sequentially; removed afterwards).
    public static func measure(directory: String) throws -> DeviceProfile {
        let memory = measureMemoryBandwidth(megabytes: 256)
        let (latency, bandwidth) = try measureStorage(directory: directory, megabytes: 64)
        return DeviceProfile(memoryBytesPerSecond: memory, storageLatencySeconds: latency, storageBytesPerSecond: bandwidth,
                             origin: "measured here (storage: a scratch file in \(directory))")
    }

    /// Memory read bandwidth on all cores, bytes per second: every core sums its share of a buffer of `megabytes`
    /// (one stream of loads), best of four runs.
    public static func measureMemoryBandwidth(megabytes: Int) -> Double {
        let floats = (megabytes << 20) / 4
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: floats)
        defer { buffer.deallocate() }
        buffer.initialize(repeating: 1, count: floats)
        let workers = max(1, ProcessInfo.processInfo.activeProcessorCount)
        let share = floats / workers
        let data = SharedFloats(pointer: buffer)
        var best = Double.infinity
        for _ in 0..<4 {
            let start = DispatchTime.now().uptimeNanoseconds
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                let chunk = data.pointer + worker * share
                data.keep(Kernels.dot(chunk, chunk, share))
            }
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return Double(share * workers * 4) / best
    }

    static func measureStorage(directory: String, megabytes: Int) throws -> (latency: Double, bandwidth: Double) {
        let path = directory + "/.lpk-plan-probe-\(getpid())"
        let size = megabytes << 20
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SystemCallError(call: "open", path: path) }
        defer { close(fd); unlink(path) }
        var block = [UInt8](repeating: 0, count: 1 << 20)
        var state: UInt64 = 0x243F_6A88_85A3_08D3
        for _ in 0..<(size >> 20) {
            for i in block.indices { state = state &* 6364136223846793005 &+ 1442695040888963407; block[i] = UInt8(truncatingIfNeeded: state >> 56) }
            let written = block.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard written == block.count else { throw SystemCallError(call: "write", path: path) }
        }
        fsync(fd)
        func dropCache() { _ = posix_fadvise(fd, 0, off_t(size), POSIX_FADV_DONTNEED) }
        dropCache()
        var page = [UInt8](repeating: 0, count: 4096)
        var times: [Double] = []
        for _ in 0..<256 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let offset = Int(state >> 33) % (size / 4096) * 4096
            let start = DispatchTime.now().uptimeNanoseconds
            _ = page.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 4096, off_t(offset)) }
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        dropCache()
        let start = DispatchTime.now().uptimeNanoseconds
        var offset = 0
        while offset < size {
            let got = block.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(offset)) }
            guard got > 0 else { break }
            offset += got
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        dropCache()
        return (times.sorted()[times.count / 2], Double(size) / max(seconds, 1e-9))
    }
}

/// The buffer the bandwidth workers read. `@unchecked Sendable`: every worker only reads it, and it outlives them.
private struct SharedFloats: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    /// Keeps a sum alive so the loads producing it are not optimised away.
    func keep(_ value: Float) { if value.isNaN { print("") } }
}
