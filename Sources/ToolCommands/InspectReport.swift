import ByteIO
import TensorModel
import TensorTypes

/// What `lpk-inspect --json` prints (schema version 1).
package struct InspectReport: Codable {
    /// One tensor's row in the report.
    package struct Tensor: Codable {
        let name: String
        let role: String
        let storage: String
        let shape: [Int]
        let bytes: Int
        let file: String
        let offset: Int
    }

    /// Bytes and share of the file for one role.
    package struct RoleTotal: Codable {
        let role: String
        let tensors: Int
        let bytes: Int
        let share: Double
    }

    /// An attached file (configuration, tokenizer).
    package struct AttachedFile: Codable {
        let name: String
        let bytes: Int
    }

    var schemaVersion = 1
    let sections: [SourceSection]
    let attachments: [AttachedFile]
    let provenance: Provenance?
    let path: String
    let format: String
    let fileBytes: Int
    let configuration: ModelConfiguration?
    let tensors: [Tensor]
    let totals: [RoleTotal]

    /// Builds the report of `source`.
    package init(source: any TensorSource) {
        path = source.path
        format = source.formatName
        fileBytes = source.fileBytes
        configuration = source.configuration
        sections = source.sections
        attachments = source.attachments.map { AttachedFile(name: $0.name, bytes: $0.bytes.count) }
        provenance = source.provenance
        tensors = source.tensors.map {
            Tensor(name: $0.name, role: $0.role.rawValue, storage: $0.storage, shape: $0.shape.dimensions,
                   bytes: $0.byteCount, file: $0.file, offset: $0.fileOffset)
        }
        let grouped = Dictionary(grouping: source.tensors, by: \.role)
        totals = grouped.keys.sorted().map { role in
            let bytes = grouped[role]!.reduce(0) { $0 + $1.byteCount }
            return RoleTotal(role: role.rawValue, tensors: grouped[role]!.count, bytes: bytes,
                             share: source.fileBytes == 0 ? 0 : Double(bytes) / Double(source.fileBytes))
        }
    }
}
