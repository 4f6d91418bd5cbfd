import ByteIO
import StrictJSON
import TensorTypes

/// Bit widths per tensor class: what `lpk-quantize` does to each tensor (stored in the pack's metadata).
///
/// See ``TensorClass`` for the classes. Norms, scalars, rope frequencies, vectors and multimodal towers are never
/// quantized.
public struct Recipe: Codable, Sendable, Equatable {
    /// What to store a class as.
    public enum Precision: String, Codable, Sendable, CaseIterable {
        case int8, int4, f32, f16, bf16
        /// Leave the tensor exactly as the source stores it.
        case keep

        /// The row width of an integer precision, nil for the others.
        public var rowBits: RowBits? {
            switch self {
            case .int8: .int8
            case .int4: .int4
            case .f32, .f16, .bf16, .keep: nil
            }
        }
    }

    /// How scales are chosen.
    public enum Rounding: String, Sendable, Codable, CaseIterable {
        /// scale = max|w| / maxLevel, round to nearest (ggml's `quantize_row_q8_0_ref` rule).
        case nearest
        /// Tries candidate scales around the nearest rule per group and keeps the one with the least squared error.
        case scaleSearch = "scale-search"
    }

    public var core: Precision
    public var ple: Precision
    public var embed: Precision
    /// Columns per scale for core matrices (nil: one scale per row).
    public var group: Int?
    /// Tensor-name regular expressions whose tensors are kept unchanged.
    public var keep: [String]
    public var rounding: Rounding

    public init(core: Precision, ple: Precision, embed: Precision, group: Int? = nil, keep: [String] = [],
                rounding: Rounding = .nearest) {
        self.core = core
        self.ple = ple
        self.embed = embed
        self.group = group
        self.keep = keep
        self.rounding = rounding
    }

    /// Named recipes.
    public static let presets: [String: Recipe] = [
        "lossless": Recipe(core: .keep, ple: .keep, embed: .keep),
        "int8": Recipe(core: .int8, ple: .int8, embed: .int8),
        "int4": Recipe(core: .int4, ple: .int4, embed: .int8, group: 64),
        "int4-row": Recipe(core: .int4, ple: .int4, embed: .int8),
        "mobile": Recipe(core: .int4, ple: .int4, embed: .int4, group: 32),
    ]

    /// The default recipe of `lpk-quantize`.
    public static let defaultPresetName = "int8"

    /// Checks group sizes and regular expressions.
    public func validate() throws {
        if let group, !RowScheme.supportedGroupSizes.contains(group) {
            throw RecipeError(.invalidValue, file: nil, key: "group", "group size \(group) is not one of \(RowScheme.supportedGroupSizes)")
        }
        for pattern in keep {
            do { _ = try Regex(pattern) } catch {
                throw RecipeError(.invalidValue, file: nil, key: "keep", "\"\(pattern)\" is not a valid regular expression")
            }
        }
    }

    /// Decodes a recipe JSON file, refusing unknown keys, repeated keys and wrong values with their names.
    public static func decode(json bytes: [UInt8], file: String) throws -> Recipe {
        func fail(_ kind: RecipeError.Kind, _ key: String?, _ message: String) -> RecipeError {
            RecipeError(kind, file: file, key: key, message)
        }
        let parsed: JSONValue
        do { parsed = try JSONParser.parse(bytes) } catch { throw fail(.notJSON, nil, "\(error)") }
        guard let object = parsed.objectValue else { throw fail(.notJSON, nil, "a recipe is a JSON object") }
        let known: Set<String> = ["core", "ple", "embed", "group", "keep", "rounding", "preset"]
        if let unknown = object.keys.first(where: { !known.contains($0) }) {
            throw fail(.unknownKey, unknown, "unknown recipe key (known: \(known.sorted().joined(separator: ", ")))")
        }
        var recipe = presets[defaultPresetName]!
        if let preset = object["preset"] {
            guard let name = preset.stringValue, let base = presets[name] else {
                throw fail(.invalidValue, "preset", "unknown preset \(preset) (known: \(presets.keys.sorted().joined(separator: ", ")))")
            }
            recipe = base
        }
        func precision(_ key: String) throws -> Precision? {
            guard let value = object[key] else { return nil }
            guard let text = value.stringValue, let precision = Precision(rawValue: text) else {
                throw fail(.invalidValue, key, "must be one of \(Precision.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return precision
        }
        if let value = try precision("core") { recipe.core = value }
        if let value = try precision("ple") { recipe.ple = value }
        if let value = try precision("embed") { recipe.embed = value }
        if let value = object["group"] {
            guard let group = value.intValue else { throw fail(.invalidValue, "group", "must be an integer") }
            recipe.group = group
        }
        if let value = object["keep"] {
            guard let patterns = value.arrayValue?.compactMap(\.stringValue), patterns.count == value.arrayValue?.count else {
                throw fail(.invalidValue, "keep", "must be a list of strings")
            }
            recipe.keep = patterns
        }
        if let value = object["rounding"] {
            guard let text = value.stringValue, let rounding = Rounding(rawValue: text) else {
                throw fail(.invalidValue, "rounding", "must be one of \(Rounding.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            recipe.rounding = rounding
        }
        do { try recipe.validate() } catch let error as RecipeError { throw RecipeError(error.kind, file: file, key: error.key, error.message) }
        return recipe
    }

    // MARK: - Decisions

    /// What to do with a tensor.
    public enum Decision: Equatable, Sendable {
        case keep
        case convert(DType)
        case quantize(RowScheme)
    }

    /// The decision for `tensor` under this recipe, with `pleGroup` the per-layer slice width for PLE tables.
    /// - Throws: when the class's precision cannot apply (a row length that is not whole groups).
    public func decision(for tensor: TensorDescriptor, pleGroup: Int?) throws -> Decision {
        if try keep.contains(where: { try Regex($0).firstMatch(in: tensor.name) != nil }) { return .keep }
        guard let tensorClass = TensorClass(tensor) else { return .keep }
        let precision: Precision
        let group: Int?
        switch tensorClass {
        case .ple: precision = ple; group = pleGroup
        case .embed: precision = embed; group = nil
        case .core: precision = core; group = self.group
        }
        switch precision {
        case .keep: return .keep
        case .f32: return .convert(.f32)
        case .f16: return .convert(.f16)
        case .bf16: return .convert(.bf16)
        case .int8, .int4:
            let scheme = RowScheme(bits: precision.rowBits!, groupSize: group)
            guard scheme.accepts(rowLength: tensor.shape.rowLength) else {
                throw RecipeError(.doesNotFit, file: tensor.file, tensor: tensor.name,
                                  "\(tensorClass) rows of \(tensor.shape.rowLength) columns cannot be \(scheme)")
            }
            return .quantize(scheme)
        }
    }
}

/// A recipe's mistake: the kind, the recipe file (when it came from one), the key or tensor, and what is wrong.
public struct RecipeError: LayerPackError {
    /// What kind of mistake.
    public enum Kind: Sendable, Equatable {
        /// Not JSON, or not a JSON object (repeated keys included: JSON objects have unique keys).
        case notJSON
        /// A key recipes do not have.
        case unknownKey
        /// A value of the wrong type or out of range.
        case invalidValue
        /// A precision that a tensor's shape does not allow (rows that are not whole groups).
        case doesNotFit
    }

    public let kind: Kind
    public let path: String?
    /// The recipe key, when the mistake is in one.
    public let key: String?
    /// The tensor, when the recipe does not fit one.
    public let tensor: String?
    public let message: String

    public init(_ kind: Kind, file: String?, key: String? = nil, tensor: String? = nil, _ message: String) {
        self.kind = kind
        path = file
        self.key = key
        self.tensor = tensor
        self.message = message
    }

    public var location: ErrorLocation? { key.map(ErrorLocation.key) ?? tensor.map(ErrorLocation.tensor) }
}
