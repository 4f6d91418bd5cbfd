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

    /// A recipe's mistake, named.
    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    /// Checks group sizes and regular expressions.
    public func validate() throws {
        if let group, !RowScheme.supportedGroupSizes.contains(group) {
            throw Invalid(description: "group size \(group) is not one of \(RowScheme.supportedGroupSizes)")
        }
        for pattern in keep {
            do { _ = try Regex(pattern) } catch { throw Invalid(description: "--keep pattern \"\(pattern)\" is not a valid regular expression") }
        }
    }

    /// Decodes a recipe JSON file, refusing unknown keys, repeated keys and wrong values with their names.
    public static func decode(json bytes: [UInt8], file: String) throws -> Recipe {
        let object: JSONObject
        do {
            guard let parsed = try JSONParser.parse(bytes).objectValue else { throw Invalid(description: "\(file): a recipe is a JSON object") }
            object = parsed
        } catch let error as JSONError {
            throw Invalid(description: "\(file): \(error)")
        }
        let known: Set<String> = ["core", "ple", "embed", "group", "keep", "rounding", "preset"]
        if let unknown = object.keys.first(where: { !known.contains($0) }) {
            throw Invalid(description: "\(file): unknown recipe key \"\(unknown)\" (known: \(known.sorted().joined(separator: ", ")))")
        }
        var recipe = presets[defaultPresetName]!
        if let preset = object["preset"] {
            guard let name = preset.stringValue, let base = presets[name] else {
                throw Invalid(description: "\(file): unknown preset \(preset) (known: \(presets.keys.sorted().joined(separator: ", ")))")
            }
            recipe = base
        }
        func precision(_ key: String) throws -> Precision? {
            guard let value = object[key] else { return nil }
            guard let text = value.stringValue, let precision = Precision(rawValue: text) else {
                throw Invalid(description: "\(file): \(key) must be one of \(Precision.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return precision
        }
        if let value = try precision("core") { recipe.core = value }
        if let value = try precision("ple") { recipe.ple = value }
        if let value = try precision("embed") { recipe.embed = value }
        if let value = object["group"] {
            guard let group = value.intValue else { throw Invalid(description: "\(file): group must be an integer") }
            recipe.group = group
        }
        if let value = object["keep"] {
            guard let patterns = value.arrayValue?.compactMap(\.stringValue), patterns.count == value.arrayValue?.count else {
                throw Invalid(description: "\(file): keep must be a list of strings")
            }
            recipe.keep = patterns
        }
        if let value = object["rounding"] {
            guard let text = value.stringValue, let rounding = Rounding(rawValue: text) else {
                throw Invalid(description: "\(file): rounding must be nearest or scale-search")
            }
            recipe.rounding = rounding
        }
        do { try recipe.validate() } catch { throw Invalid(description: "\(file): \(error)") }
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
                throw Invalid(description: "tensor '\(tensor.name)' (\(tensorClass)): rows of \(tensor.shape.rowLength) columns cannot be \(scheme)")
            }
            return .quantize(scheme)
        }
    }
}
