import ByteIO
import Foundation
import GemmaInference
import SourceAdapters
import TensorModel
import TensorTypes
import TestSupport
import Testing

/// What a model says about its matrices (what `lpk-bench decode-ceiling` sums over): which one is a lookup table read a
/// row at a time, and how each is held, against the source's own tensor list.
@Suite struct MatrixInventoryTests {
    @Test("The PLE table, and it alone, is a lookup table; mapped matrices keep their tensor's encoding and bytes, f32 ones 4 bytes a value",
          arguments: ["packs/tiny-gemma4-int4-v1.0.lpk", "models/tiny-gemma3n-f32", "models/tiny-gemma3-bf16"])
    func matricesMatchTheirTensors(path: String) throws {
        let source = try ModelSources.open(Fixtures.path(path))
        let model = try ModelRegistry.model(for: source, contextLength: 4)
        let tables = source.tensors.filter { $0.role == .perLayerEmbedding }.map(\.name)
        #expect(model.matrices.filter(\.isLookupTable).map(\.name) == tables, "\(path)")
        for matrix in model.matrices {
            let descriptor = try source.descriptor(matrix.name)
            let stored = matrix.stored
            #expect(stored.bytes == (stored.encoding == .plain(.f32) ? matrix.rows * matrix.columns * 4 : descriptor.byteCount),
                    "\(path): \(matrix.name) holds \(stored.bytes) bytes")
            #expect(stored.encoding == descriptor.encoding || stored.encoding == .plain(.f32), "\(path): \(matrix.name) as \(stored.encoding)")
        }
        #expect(path.hasSuffix("gemma3-bf16") ? tables.isEmpty : tables.count == 1)
    }

    #if os(Linux)
    @Test("Building a model from a GGUF maps in every page of its matrices at once (the 270M: all but its metadata)", Fixtures.needsRealGemma3)
    func matricesMappedIn() throws {
        // A link of its own, so that no other test's mapping of the model counts.
        let temporary = try TemporaryDirectory()
        defer { temporary.remove() }
        let path = temporary.path + "/m.gguf"
        do { try FileManager.default.linkItem(atPath: try Fixtures.requireRealGemma3(), toPath: path) } catch {
            try FileManager.default.copyItem(atPath: try Fixtures.requireRealGemma3(), toPath: path)
        }
        let source = try ModelSources.open(path)
        #expect(try #require(ProcessMappings.residentBytes(ofFilesWhere: { $0 == path })) < 16 << 20)
        let model = try ModelRegistry.model(for: source, contextLength: 4)
        let matrices = model.matrices.filter { $0.stored.encoding != .plain(.f32) }.map(\.stored.bytes).reduce(0, +)
        let resident = try #require(ProcessMappings.residentBytes(ofFilesWhere: { $0 == path }))
        #expect(matrices > 200_000_000 && resident >= matrices, "\(resident) bytes resident, matrices \(matrices)")
        withExtendedLifetime(model) {}
    }
    #endif
}
