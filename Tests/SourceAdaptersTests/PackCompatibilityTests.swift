import ByteIO
import GGUFFormat
import PackFormat
import SourceAdapters
import TensorModel
import TensorTypes
import TestSupport
import Testing

/// Packs written by earlier LayerPack versions (Fixtures/packs, never regenerated) open, verify and hold their
/// sources' values in every later version.
@Suite struct PackCompatibilityTests {
    @Test("format 1.0: a quantized Gemma 4 pack with its PLE table in a companion file")
    func quantizedSplitPack() throws {
        let pack = try PackSource(path: Fixtures.path("packs/tiny-gemma4-int4-v1.0.lpk"))
        let source = try ModelSources.open(Fixtures.path("models/tiny-gemma4-bf16"))
        #expect(pack.deepCheck().isEmpty)
        #expect(pack.format == .pack(major: 1, minor: 0, companion: Fixtures.path("packs/tiny-gemma4-int4-v1.0.lpk.ple")))
        #expect(pack.configuration == source.configuration)
        #expect(pack.provenance?.recipe == Recipe(core: .int4, ple: .int4, embed: .int8, group: 64))  // 1.0's int4 preset
        #expect(pack.provenance?.sourceFiles.map(\.name) == ["model.safetensors"])
        #expect(Set(pack.tensors.map(\.name)) == Set(source.tensors.map(\.name)))
        for tensor in pack.tensors {
            let ours = try pack.floats(tensor.name), original = try source.floats(tensor.name)
            guard case .rows(let scheme) = tensor.encoding else {
                #expect(ours == original, "\(tensor.name)")
                continue
            }
            // Each value within half a step of its group's scale (max|w| / maxLevel, stored as f16).
            let rowLength = tensor.shape.rowLength, group = scheme.columnsPerGroup(rowLength: rowLength)
            for start in stride(from: 0, to: original.count, by: group) {
                let values = original[start..<(start + group)]
                let step = values.map(abs).max()! / Float(scheme.bits.maxLevel)
                #expect(zip(values, ours[start..<(start + group)]).allSatisfy { abs($0 - $1) <= step * 0.502 + 1e-7 }, "\(tensor.name)")
            }
        }
    }

    @Test("format 1.0: a lossless import of a GGUF, blocks verbatim and the GGUF's metadata carried")
    func losslessGGUFPack() throws {
        let pack = try PackSource(path: Fixtures.path("packs/gemma3-270m-blocks-v1.0.lpk"))
        let source = try ModelSources.open(Fixtures.path("gguf/gemma3-270m.blocks.gguf"))
        #expect(pack.deepCheck().isEmpty)
        #expect(pack.provenance?.recipe == nil)
        for tensor in source.tensors {
            #expect(try pack.storedBytes(tensor.name).array == source.storedBytes(tensor.name).array, "\(tensor.name)")
            #expect(try pack.descriptor(tensor.name).encoding == tensor.encoding)
        }
        let carried = try #require(try pack.ggufMetadata()), original = try #require(try source.ggufMetadata())
        #expect(carried.metadata.map(\.key) == original.metadata.map(\.key))
        #expect(carried.encodedMetadata.array == original.encodedMetadata.array)
    }
}
