import ByteIO
import GemmaInference
import SafetensorsFormat
import SourceAdapters
import StrictJSON
import TensorModel
import TestSupport
import Testing
import Verification

/// MLX-LM quantized checkpoints written by mlx-lm itself (Fixtures/mlx, Fixtures/scripts/make_mlx_fixtures.py):
/// LayerPack reads each packed weight as what it is and computes MLX's numbers.
@Suite struct MLXCheckpointTests {
    static let checkpoints = ["tiny-gemma3-affine4-g32", "tiny-gemma3-affine3-g64-mixed", "tiny-gemma3-mixed_3_6-g64",
                              "tiny-gemma3-affine8-g64", "tiny-gemma3-bf16-affine4-g64", "tiny-gemma4-affine4-g32",
                              "tiny-gemma3n-affine4-g32"]

    static func maxDifference(_ a: [Float], _ b: [Float]) -> Float {
        guard a.count == b.count else { return .infinity }
        return zip(a, b).map { abs($0 - $1) }.max() ?? 0
    }

    @Test("every packed weight dequantizes to mx.dequantize's values, bit for bit", arguments: checkpoints)
    func dequantizesAsMLX(checkpoint: String) throws {
        let directory = Fixtures.path("mlx/" + checkpoint)
        let source = try SafetensorsSource(path: directory)
        let expected = try SafetensorsFile(path: directory + "/dequantized.safetensors")
        var packed = 0
        for tensor in expected.tensors {
            // The Gemma 3n checkpoint keeps the released multimodal layout (`model.language_model.…`).
            let name = [tensor.name, "model.language_model." + tensor.name.dropFirst("model.".count)]
                .first { (try? source.descriptor($0)) != nil } ?? tensor.name
            let descriptor = try source.descriptor(name)
            guard case .mlx = descriptor.encoding else { continue }
            packed += 1
            #expect(descriptor.shape == tensor.shape, "\(name)")
            #expect(try source.floats(name) == expected.floats(tensor), "\(name) (\(descriptor.storage))")
        }
        #expect(packed > 0)
        // Scales and biases are part of their weight, not tensors of their own.
        #expect(!source.tensors.contains { $0.name.hasSuffix(".scales") || $0.name.hasSuffix(".biases") })
    }

    @Test("logits: MLX's own quantized run (f32 activations), and its dequantized f32 run", arguments: checkpoints)
    func logitsMatchMLX(checkpoint: String) throws {
        let directory = Fixtures.path("mlx/" + checkpoint)
        let reference = try #require(try Fixtures.json("mlx/\(checkpoint)/reference.json").objectValue)
        let tokens = reference["tokens"]?.arrayValue?.compactMap(\.intValue) ?? []
        let model = try ModelRegistry.model(for: try ModelSources.open(directory), contextLength: tokens.count)
        let ours = try model.forward(tokens, allLogits: true)
        let exact = try NumpyArray(path: directory + "/logits-dequantized-f32.npy").values
        #expect(Self.maxDifference(ours, exact) <= 1e-4, "\(checkpoint): \(Self.maxDifference(ours, exact)) from MLX's f32 run")
        if reference["activation_dtype"]?.stringValue == "float32" {
            let mlx = try NumpyArray(path: directory + "/logits.npy").values
            #expect(Self.maxDifference(ours, mlx) <= 1e-4, "\(checkpoint): \(Self.maxDifference(ours, mlx)) from MLX's quantized run")
        }
    }

    @Test("lpk-inspect names the encoding; lpk-quantize converts the checkpoint")
    func inspectAndConvert() throws {
        let directory = Fixtures.path("mlx/tiny-gemma3-affine4-g32")
        let inspect = try ToolRun.run("lpk-inspect", [directory])
        #expect(inspect.status == 0 && inspect.standardOutput.contains("mlx affine 4-bit g32"), "\(inspect.standardError)")
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        for preset in ["lossless", "int8"] {
            let pack = scratch.path + "/\(preset).lpk"
            let run = try ToolRun.run("lpk-quantize", [directory, "-o", pack, "--preset", preset, "--quiet"])
            #expect(run.status == 0, "\(preset): \(run.standardError)")
            let verify = try ToolRun.run("lpk-verify", [directory, pack, "--tokens", "2,17,300,45", "--max-kld", preset == "lossless" ? "1e-9" : "0.01"])
            #expect(verify.status == 0, "\(preset): \(verify.standardOutput) \(verify.standardError)")
        }
    }
}
