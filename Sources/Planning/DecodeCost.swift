/// What one decoded token costs on a device under a ``ResidencyPlan``: the weights and KV cache it streams from
/// memory, the table records it reads from storage when they are not cached, and how far the table could grow before
/// those reads take a given share of the token's time.
public struct DecodeCost: Codable, Sendable, Equatable {
    /// Seconds to stream the resident weights and the KV cache once (their bytes at memory bandwidth).
    public let memorySeconds: Double
    /// Seconds to read one token's table records from storage, cold (one request of its 4 KiB pages).
    public let storageSeconds: Double
    /// storageSeconds / (memorySeconds + storageSeconds).
    public let storageShare: Double
    /// The share of decode time the projection allows storage reads.
    public let allowedShare: Double
    /// The most bytes one token may read from storage within that share.
    public let maxLookupBytesPerToken: Double
    /// The table that many bytes per token allow: `rows × maxLookupBytesPerToken` (0 when the model has no table).
    public let maxTableBytes: Double
    /// maxTableBytes / the plan's table bytes.
    public let growth: Double

    public init(plan: ResidencyPlan, device: DeviceProfile, allowedShare: Double) {
        memorySeconds = Double(plan.streamedWeightBytesPerToken + plan.kvBytesPerToken) / device.memoryBytesPerSecond
        let pages = plan.lookupPages.first { $0.pageBytes == 4096 }?.bytesPerToken ?? Double(plan.lookupBytesPerToken)
        storageSeconds = device.storageSeconds(bytes: pages)
        storageShare = storageSeconds / max(memorySeconds + storageSeconds, 1e-12)
        self.allowedShare = allowedShare
        // latency + b / bandwidth ≤ share / (1 − share) · memorySeconds.
        let budget = allowedShare / (1 - allowedShare) * memorySeconds
        maxLookupBytesPerToken = max(0, (budget - device.storageLatencySeconds) * device.storageBytesPerSecond)
        maxTableBytes = Double(plan.lookupRows) * maxLookupBytesPerToken
        growth = plan.tableBytes > 0 ? maxTableBytes / Double(plan.tableBytes) : 0
    }
}
