import TensorModel
import TensorTypes
import Testing

/// Recipe files (`lpk-quantize --recipe`) and the decisions a recipe makes per tensor.
@Suite struct RecipeTests {
    func decode(_ text: String) throws -> Recipe { try Recipe.decode(json: Array(text.utf8), file: "r.json") }

    @Test("a preset with overrides reads into the recipe it names")
    func presetWithOverrides() throws {
        let recipe = try decode(#"{"preset": "int4", "embed": "int4", "group": 32, "keep": ["norm"], "rounding": "scale-search"}"#)
        #expect(recipe == Recipe(core: .int4, ple: .int4, embed: .int4, group: 32, embedGroup: 64, keep: ["norm"], rounding: .scaleSearch))
    }

    @Test("mistakes are refused by kind, with the file and the key named", arguments: [
        (#"{"core": "int3"}"#, RecipeError.Kind.invalidValue, String?("core")),
        (#"{"cores": "int4"}"#, .unknownKey, "cores"),
        (#"{"core": "int4", "core": "int8"}"#, .notJSON, nil),
        (#"{"group": 48}"#, .invalidValue, "group"),
        (#"{"keep": [1]}"#, .invalidValue, "keep"),
        (#"{"keep": ["("]}"#, .invalidValue, "keep"),
        (#"[1]"#, .notJSON, nil),
        (#"{"preset": "tiny"}"#, .invalidValue, "preset"),
        (#"{"overrides": [{"pattern": "down", "precision": "int3"}]}"#, .invalidValue, "overrides"),
        (#"{"overrides": [{"pattern": "(", "precision": "int8"}]}"#, .invalidValue, "overrides"),
        (#"{"overrides": [{"pattern": "down"}]}"#, .invalidValue, "overrides"),
        (#"{"overrides": "down=int8"}"#, .invalidValue, "overrides"),
        (#"{"keep": ["(a+)+$"]}"#, .invalidValue, "keep"),
        (#"{"overrides": [{"pattern": "(x*)*y", "precision": "int8"}]}"#, .invalidValue, "overrides"),
    ])
    func mistakes(text: String, kind: RecipeError.Kind, key: String?) throws {
        #expect { try decode(text) } throws: { error in
            guard let error = error as? RecipeError else { return false }
            return error.kind == kind && error.path == "r.json" && error.key == key && "\(error)".hasPrefix("r.json")
        }
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
        // Rows that are not whole groups fall back to the largest halved group that fits, then to one scale per row.
        #expect(try recipe.decision(for: tensor("model.layers.0.mlp.down_proj.weight", [64, 96]), pleGroup: nil)
            == .quantize(RowScheme(bits: .int4, groupSize: 32)))
        #expect(try recipe.decision(for: tensor("model.layers.0.mlp.down_proj.weight", [64, 36]), pleGroup: nil)
            == .quantize(RowScheme(bits: .int4, groupSize: nil)))
        // An odd row cannot be int4 at all.
        #expect { try recipe.decision(for: tensor("model.layers.0.mlp.down_proj.weight", [64, 33]), pleGroup: nil) } throws: {
            ($0 as? RecipeError)?.kind == .doesNotFit && ($0 as? RecipeError)?.tensor == "model.layers.0.mlp.down_proj.weight"
        }
    }

    @Test("per-tensor overrides: the first matching pattern sets precision and group; other tensors keep their class's")
    func overrides() throws {
        let recipe = try decode(#"{"preset": "int4", "overrides": [{"pattern": "down_proj|v_proj", "precision": "int8:g32"}, {"pattern": "down", "precision": "bf16"}, {"pattern": "embed_tokens\\.", "precision": "int8:row"}]}"#)
        #expect(recipe.overrides?.count == 3)
        func tensor(_ name: String, _ shape: [Int]) -> TensorDescriptor {
            TensorDescriptor(name: name, role: TensorRole(tensorName: name), encoding: .plain(.f32), shape: TensorShape(shape)!,
                             byteCount: 4 * shape.reduce(1, *), file: "m", fileOffset: 0)
        }
        #expect(try recipe.decision(for: tensor("model.layers.3.mlp.down_proj.weight", [64, 128]), pleGroup: nil)
            == .quantize(RowScheme(bits: .int8, groupSize: 32)))
        #expect(try recipe.decision(for: tensor("model.layers.3.self_attn.v_proj.weight", [64, 128]), pleGroup: nil)
            == .quantize(RowScheme(bits: .int8, groupSize: 32)))
        #expect(try recipe.decision(for: tensor("model.layers.3.mlp.up_proj.weight", [64, 128]), pleGroup: nil)
            == .quantize(RowScheme(bits: .int4, groupSize: 32)))
        #expect(try recipe.decision(for: tensor("model.embed_tokens.weight", [512, 128]), pleGroup: nil)
            == .quantize(RowScheme(bits: .int8, groupSize: nil)))
        // Never a norm: overrides apply to quantizable classes only.
        #expect(try recipe.decision(for: tensor("model.layers.0.post_feedforward_layernorm.weight", [64]), pleGroup: nil) == .keep)
        #expect(Recipe.Override("blk\\.[0-3]\\.ffn_down=int8") == Recipe.Override(pattern: "blk\\.[0-3]\\.ffn_down", precision: "int8"))
        #expect(Recipe.Override("=int8") == nil)
    }
}
