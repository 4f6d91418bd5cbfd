import Quantization
import TensorModel
import TensorTypes

/// Per-tensor weight error between two sources that name their tensors alike, summed by role.
public struct WeightComparison: Codable, Sendable {
    /// One tensor's error.
    public struct Tensor: Codable, Sendable {
        public let name: String
        public let role: TensorRole
        public let reference: String
        public let candidate: String
        public let relativeRMSE: Double
        public let cosine: Double
    }

    /// Errors summed over the tensors of one role.
    public struct RoleTotal: Codable, Sendable {
        public let role: TensorRole
        public let tensors: Int
        public let relativeRMSE: Double
        public let cosine: Double
    }

    public let tensors: [Tensor]
    public let roles: [RoleTotal]
    /// Tensors of the reference the candidate lacks (or cannot be compared).
    public let unmatched: [String]

    public init(reference: any TensorSource, candidate: any TensorSource) throws {
        let candidates = Dictionary(candidate.tensors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var tensors: [Tensor] = []
        var unmatched: [String] = []
        var byRole: [TensorRole: (Int, ErrorMetrics)] = [:]
        for tensor in reference.tensors where tensor.isReadable {
            guard let other = candidates[tensor.name], other.isReadable, other.shape == tensor.shape else {
                unmatched.append(tensor.name)
                continue
            }
            var metrics = ErrorMetrics()
            let rowsPerChunk = max(1, (1 << 20) / max(1, tensor.shape.rowLength))
            var row = 0
            let rows = max(1, tensor.shape.rowCount)
            while row < rows {
                let end = min(rows, row + rowsPerChunk)
                let a = try reference.floats(tensor.name, rows: row..<end), b = try candidate.floats(tensor.name, rows: row..<end)
                a.withUnsafeBufferPointer { x in b.withUnsafeBufferPointer { metrics.add(reference: x, candidate: $0) } }
                row = end
            }
            tensors.append(Tensor(name: tensor.name, role: tensor.role, reference: tensor.storage, candidate: other.storage,
                                  relativeRMSE: metrics.relativeRMSE, cosine: metrics.cosine))
            var entry = byRole[tensor.role] ?? (0, ErrorMetrics())
            entry.0 += 1
            entry.1.merge(metrics)
            byRole[tensor.role] = entry
        }
        self.tensors = tensors
        self.unmatched = unmatched
        roles = byRole.keys.sorted().map { RoleTotal(role: $0, tensors: byRole[$0]!.0, relativeRMSE: byRole[$0]!.1.relativeRMSE, cosine: byRole[$0]!.1.cosine) }
    }
}
