import ByteIO
import Foundation
import StrictJSON
import Testing
import TestSupport

/// `lpk-pack --mlx` against MLX-LM itself (Fixtures/mlx-export, made by make_mlx_export_fixtures.py: MLX-LM loaded
/// the very bytes this test exports and saved its logits).
@Suite(.serialized) struct MLXExportTests {
    @Test("MLX-LM runs the export to LayerPack's logits of the pack; LayerPack reads the export back bit for bit",
          arguments: ["tiny-gemma3-int4-mixed", "tiny-gemma4-int4", "tiny-gemma3-int2-embed"])
    func mlxRunsTheExport(name: String) throws {
        let fixture = try #require(try Fixtures.json("mlx-export/\(name)/reference.json").objectValue)
        let source = Fixtures.repositoryRoot + "/" + (try #require(fixture["source"]?.stringValue))
        let command = try #require(fixture["commands"]?.arrayValue?.first?.stringValue)
        let recipe = Array(command.split(separator: " ").dropFirst(5).map(String.init))  // after "lpk-quantize SRC -o pack.lpk --quiet"
        let tokens = (fixture["tokens"]?.arrayValue?.compactMap(\.intValue) ?? []).map(String.init).joined(separator: ",")
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let pack = directory.path + "/pack.lpk"
        try FileManager.default.createDirectory(atPath: directory.path + "/export", withIntermediateDirectories: true)
        #expect(try ToolRun.run("lpk-quantize", [source, "-o", pack, "--quiet"] + recipe).status == 0)
        let export = try ToolRun.run("lpk-pack", [pack, "-o", directory.path + "/export/model.safetensors", "--mlx", "--quiet"])
        #expect(export.status == 0, "\(export.standardError)")
        // The same bytes MLX-LM ran: otherwise the committed logits are not this export's (regenerate the fixture).
        let files = try #require(fixture["export_files"]?.objectValue).members.map(\.key)
        #expect(files.contains("model.safetensors") && files.contains("config.json"))
        for file in files {
            #expect(try MappedFile(path: directory.path + "/export/" + file).bytes.array
                    == MappedFile(path: Fixtures.path("mlx-export/\(name)/export/" + file)).bytes.array, "\(file) differs from the export MLX-LM ran")
        }
        let logits = Fixtures.path("mlx-export/\(name)/logits.npy")
        let ours = try ToolRun.run("lpk-verify", [pack, "--reference-logits", logits, "--tokens", tokens, "--max-abs-diff", "1e-4"])
        #expect(ours.status == 0, "\(ours.standardOutput)\(ours.standardError)")
        let back = try ToolRun.run("lpk-verify", [pack, directory.path + "/export", "--tokens", tokens, "--max-abs-diff", "0"])
        #expect(back.status == 0, "\(back.standardOutput)\(back.standardError)")
    }

    @Test("a pack without config.json (made from a GGUF) is refused with the reason")
    func ggufPackRefused() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let pack = directory.path + "/g.lpk"
        #expect(try ToolRun.run("lpk-quantize", [Fixtures.path("conformance/gemma3-hd8-mha-window3-tied/model.gguf"), "-o", pack, "--quiet"]).status == 0)
        let run = try ToolRun.run("lpk-pack", [pack, "-o", directory.path + "/model.safetensors", "--mlx"])
        #expect(run.status == 1 && run.standardError.contains("config.json"))
        #expect(try directory.contents() == ["g.lpk"])
    }
}
