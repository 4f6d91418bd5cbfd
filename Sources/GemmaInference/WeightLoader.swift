import ByteIO
import TensorModel

/// Loads a model's weights by what they are (``GemmaWeight``), under whichever name the source stores them, and
/// checks each one's shape, so one model file serves safetensors, GGUF and packs.
struct WeightLoader {
    let source: any TensorSource
    /// The numerics the matrices it loads multiply with.
    let numerics: Numerics
    private let names: Set<String>

    init(_ source: any TensorSource, numerics: Numerics) {
        self.source = source
        self.numerics = numerics
        names = Set(source.tensors.map(\.name))
    }

    /// The name `weight` has in the source.
    func name(of weight: GemmaWeight) throws -> String {
        guard let name = weight.candidateNames.first(where: names.contains) else {
            throw InferenceError(.missingTensor, path: source.path, "no tensor \(weight.candidateNames.map { "'\($0)'" }.joined(separator: " or "))")
        }
        return name
    }

    /// Whether the source has `weight`.
    func has(_ weight: GemmaWeight) -> Bool { weight.candidateNames.contains(where: names.contains) }

    /// A vector (norm weight, scalar, coefficients) as floats, checking its length.
    func vector(_ weight: GemmaWeight, count: Int) throws -> [Float] {
        let name = try name(of: weight)
        let values = try source.floats(name)
        guard values.count == count else {
            throw InferenceError(.shapeMismatch, path: source.path, location: .tensor(name), "\(values.count) values, expected \(count)")
        }
        return values
    }

    /// A matrix, checking its shape [rows, columns]; a `lookup` table is verified row by row as it is read.
    func matrix(_ weight: GemmaWeight, rows: Int, columns: Int, lookup: Bool = false) throws -> LinearWeight {
        let name = try name(of: weight)
        let matrix = try LinearWeight(source: source, name: name, numerics: numerics, lookup: lookup)
        guard matrix.rows == rows, matrix.columns == columns else {
            throw InferenceError(.shapeMismatch, path: source.path, location: .tensor(name),
                                 "shape [\(matrix.rows), \(matrix.columns)], expected [\(rows), \(columns)]")
        }
        return matrix
    }

    /// A weight of layer `layer`, as a vector.
    func vector(layer: Int, _ weight: GemmaWeight.Layer, count: Int) throws -> [Float] {
        try vector(.layer(layer, weight), count: count)
    }

    /// A weight of layer `layer`, as a matrix.
    func matrix(layer: Int, _ weight: GemmaWeight.Layer, rows: Int, columns: Int) throws -> LinearWeight {
        try matrix(.layer(layer, weight), rows: rows, columns: columns)
    }
}
