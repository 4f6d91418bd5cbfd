import Quantization
import TensorModel
import TensorTypes

/// Per-tensor weight error between two sources, summed by role. Tensors are matched by name, else by what they are
/// (``GemmaWeight``, the table the inference loads by), so a GGUF compares with the safetensors it came from; norm
/// weights are compared as the inference applies them, `offset + w`, since llama.cpp's converter folds Gemma 3's
/// `1 + w` into the stored values.
public struct WeightComparison: Codable, Sendable {
    /// One tensor's error.
    public struct Tensor: Codable, Sendable {
        public let name: String
        /// The candidate's name for the same weight, where it differs.
        public let candidateName: String?
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
        let candidatesByWeight = Dictionary(candidate.tensors.compactMap { tensor in GemmaWeight(tensorName: tensor.name).map { ($0, tensor) } },
                                            uniquingKeysWith: { a, _ in a })
        let referenceOffset = reference.configuration?.normWeightOffset ?? 0
        let candidateOffset = candidate.configuration?.normWeightOffset ?? 0
        var tensors: [Tensor] = []
        var unmatched: [String] = []
        var byRole: [TensorRole: (Int, ErrorMetrics)] = [:]
        for tensor in reference.tensors where tensor.isReadable {
            let match = candidates[tensor.name] ?? GemmaWeight(tensorName: tensor.name).flatMap { candidatesByWeight[$0] }
            guard let other = match, other.isReadable, other.shape == tensor.shape else {
                unmatched.append(tensor.name)
                continue
            }
            let offsets = tensor.role == .norm ? (referenceOffset, candidateOffset) : (0, 0)
            var metrics = ErrorMetrics()
            let rowsPerChunk = max(1, (1 << 20) / max(1, tensor.shape.rowLength))
            var row = 0
            let rows = max(1, tensor.shape.rowCount)
            while row < rows {
                let end = min(rows, row + rowsPerChunk)
                var a = try reference.floats(tensor.name, rows: row..<end), b = try candidate.floats(other.name, rows: row..<end)
                if offsets != (0, 0) {
                    for i in a.indices { a[i] += offsets.0 }
                    for i in b.indices { b[i] += offsets.1 }
                }
                a.withUnsafeBufferPointer { x in b.withUnsafeBufferPointer { metrics.add(reference: x, candidate: $0) } }
                row = end
            }
            tensors.append(Tensor(name: tensor.name, candidateName: other.name == tensor.name ? nil : other.name, role: tensor.role, reference: tensor.storage, candidate: other.storage,
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
