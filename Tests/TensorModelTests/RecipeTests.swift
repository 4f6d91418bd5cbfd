import TensorModel
import TensorTypes
import Testing

/// Recipe files (`lpk-quantize --recipe`) and the decisions a recipe makes per tensor.
@Suite struct RecipeTests {
    func decode(_ text: String) throws -> Recipe { try Recipe.decode(json: Array(text.utf8), file: "r.json") }

    @Test("a preset with overrides reads into the recipe it names")
    func presetWithOverrides() throws {
        let recipe = try decode(#"{"preset": "int4", "embed": "int4", "group": 32, "keep": ["norm"], "rounding": "scale-search"}"#)
        #expect(recipe == Recipe(core: .int4, ple: .int4, embed: .int4, group: 32, keep: ["norm"], rounding: .scaleSearch))
    }

    @Test("mistakes are refused with the file and the key named", arguments: [
        (#"{"core": "int3"}"#, "core"),
        (#"{"cores": "int4"}"#, "cores"),
        (#"{"core": "int4", "core": "int8"}"#, "core"),
        (#"{"group": 48}"#, "48"),
        (#"{"keep": [1]}"#, "keep"),
        (#"{"keep": ["("]}"#, "("),
        (#"[1]"#, "JSON object"),
        (#"{"preset": "tiny"}"#, "tiny"),
    ])
    func mistakes(text: String, named: String) throws {
        #expect { try decode(text) } throws: { "\($0)".contains("r.json") && "\($0)".contains(named) }
    }

    @Test("classes: the PLE table by (token, layer) slices, embeddings per row, core by the recipe's group; norms kept")
    func decisions() throws {
        let recipe = Recipe(core: .int4, ple: .int8, embed: .bf16, group: 64)
        func tensor(_ name: String, _ shape: [Int]) -> TensorDescriptor {
            TensorDescriptor(name: name, role: TensorRole(tensorName: name), encoding: .plain(.f32), shape: TensorShape(shape)!,
                             byteCount: 4 * shape.reduce(1, *), file: "m", fileOffset: 0)
        }
        #expect(try recipe.decision(for: tensor("model.embed_tokens_per_layer.weight", [512, 80]), pleGroup: 16)
            == .quantize(RowScheme(bits: .int8, groupSize: 16)))
        #expect(try recipe.decision(for: tensor("model.embed_tokens.weight", [512, 64]), pleGroup: nil) == .convert(.bf16))
        #expect(try recipe.decision(for: tensor("model.layers.0.mlp.up_proj.weight", [128, 64]), pleGroup: nil)
            == .quantize(RowScheme(bits: .int4, groupSize: 64)))
        #expect(try recipe.decision(for: tensor("model.layers.0.input_layernorm.weight", [64]), pleGroup: nil) == .keep)
        #expect(throws: Recipe.Invalid.self) {
            try recipe.decision(for: tensor("model.layers.0.mlp.down_proj.weight", [64, 96]), pleGroup: nil)
        }
    }
}
