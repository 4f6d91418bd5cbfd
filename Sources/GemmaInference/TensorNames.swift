import TensorModel

/// Finds a weight under the names Hugging Face and llama.cpp give it (with or without the
/// `model.` / `model.language_model.` prefixes), so one model file serves safetensors, GGUF and packs.
struct TensorNames {
    let source: any TensorSource
    /// The numerics the matrices it loads multiply with.
    let numerics: Numerics
    private let names: Set<String>

    init(_ source: any TensorSource, numerics: Numerics) {
        self.source = source
        self.numerics = numerics
        names = Set(source.tensors.map(\.name))
    }

    /// The name present in the source for a Hugging Face name (without prefix) or its GGUF name.
    func resolve(hf: String, gguf: String) throws -> String {
        for candidate in ["model.language_model." + hf, "model." + hf, hf, gguf] where names.contains(candidate) { return candidate }
        throw InferenceError.missingTensor("\(hf) (GGUF: \(gguf))", source: source.path)
    }

    /// Whether either name is present.
    func has(hf: String, gguf: String) -> Bool { (try? resolve(hf: hf, gguf: gguf)) != nil }

    /// A vector (norm weight, scalar) as floats, checking its length.
    func vector(hf: String, gguf: String, count: Int) throws -> [Float] {
        let name = try resolve(hf: hf, gguf: gguf)
        let values = try source.floats(name)
        guard values.count == count else {
            throw InferenceError.shapeMismatch(tensor: name, expected: [count], actual: [values.count])
        }
        return values
    }

    /// A matrix, checking its shape [rows, columns].
    func matrix(hf: String, gguf: String, rows: Int, columns: Int) throws -> LinearWeight {
        let name = try resolve(hf: hf, gguf: gguf)
        let weight = try LinearWeight(source: source, name: name, numerics: numerics)
        guard weight.rows == rows, weight.columns == columns else {
            throw InferenceError.shapeMismatch(tensor: name, expected: [rows, columns], actual: [weight.rows, weight.columns])
        }
        return weight
    }
}
