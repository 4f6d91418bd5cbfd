import ByteIO
import Conversion
import GGUFFormat
import PackFormat
import SourceAdapters
import StrictJSON
import TensorModel
import TensorTypes
import TestSupport
import Testing

/// Quantizing a GGUF whose blocks already hold what the recipe asks: Q8_0 becomes int8 g32 rows and Q4_0 int4 g32
/// rows with exactly the values gguf-py dequantizes; blocks holding fewer bits than asked are carried over as they are.
@Suite struct GGMLCarryOverTests {
    static let source = Fixtures.path("gguf/types.gguf")
    /// The plain tensors of the fixture hold NaN and infinities on purpose: they stay as they are here.
    static let plain = ["^t\\.(f|bf|i)"]

    func expected(_ name: String) throws -> [Float] {
        let values = try Fixtures.json("gguf/types.expected.json").objectValue?["tensors"]?.objectValue?[name]?.objectValue?["values"]
        return try #require(ExpectedValues.floats(values)).map(Float.init)
    }

    @Test("Q8_0 → int8 g32 and Q4_0 → int4 g32 keep gguf-py's values exactly; the report says so")
    func exactReencoding() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let source = try ModelSources.open(Self.source)
        for (precision, name) in [(Recipe.Precision.int8, "t.q8_0"), (.int4, "t.q4_0")] {
            let path = directory.path + "/\(name).lpk"
            let report = try PackConverter.convert(source, to: path, options: .init(recipe: Recipe(core: precision, ple: .keep, embed: .keep, group: 32, keep: Self.plain)))
            let pack = try PackSource(path: path)
            #expect(try pack.descriptor(name).encoding == .rows(RowScheme(bits: precision.rowBits!, groupSize: 32)))
            #expect(try pack.floats(name) == expected(name))
            let entry = try #require(report.tensors.first { $0.name == name })
            #expect(entry.note?.contains("re-encoded") == true && entry.error == nil)
        }
    }

    @Test("blocks with no more bits than asked are kept verbatim (Q4_K for int8 rows); --requantize quantizes them")
    func carriedBlocks() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let source = try ModelSources.open(Self.source)
        let recipe = Recipe(core: .int8, ple: .keep, embed: .keep, group: 32, keep: Self.plain)
        let kept = try PackConverter.convert(source, to: directory.path + "/a.lpk", options: .init(recipe: recipe))
        let pack = try PackSource(path: directory.path + "/a.lpk")
        #expect(try pack.descriptor("t.q4_k").encoding == .ggml(.q4_K))
        #expect(try pack.storedBytes("t.q4_k").array == source.storedBytes("t.q4_k").array)
        #expect(kept.tensors.first { $0.name == "t.q4_k" }?.note?.contains("kept as Q4_K") == true)
        // Q5_0 (5.5 bits) holds fewer bits than int8 g32 (8.5): kept too.
        #expect(try pack.descriptor("t.q5_0").encoding == .ggml(.q5_0))
        var options = PackConverter.Options(recipe: recipe)
        options.requantize = true
        _ = try PackConverter.convert(source, to: directory.path + "/b.lpk", options: options)
        #expect(try PackSource(path: directory.path + "/b.lpk").descriptor("t.q4_k").encoding == .rows(RowScheme(bits: .int8, groupSize: 32)))
    }
}
