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
        case int8, int4, int2, f32, f16, bf16
        /// Leave the tensor exactly as the source stores it.
        case keep

        /// The row width of an integer precision, nil for the others.
        public var rowBits: RowBits? {
            switch self {
            case .int8: .int8
            case .int4: .int4
            case .int2: .int2
            case .f32, .f16, .bf16, .keep: nil
            }
        }
    }

    /// How scales are chosen.
    public enum Rounding: String, Sendable, Codable, CaseIterable {
        /// scale = max|w| / maxLevel, round to nearest (ggml's `quantize_row_q8_0_ref` rule).
        case nearest
        /// Tries candidate scales around the nearest rule per group and keeps the one with the least squared error
        /// (weighted by the calibration's input importance when there is one: llama.cpp's `make_qx_quants`).
        case scaleSearch = "scale-search"
        /// GPTQ over a calibration's input statistics: each column's rounding error is fed back into the columns not
        /// yet quantized; group scales are searched as `scaleSearch` does.
        case gptq
    }

    /// A setting for the tensors whose names match a regular expression, in place of their class's: as llama.cpp's
    /// Q4_K_M gives some layers' `attn_v` and `ffn_down` more bits (`--override 'ffn_down=int8:g32'`).
    public struct Override: Codable, Sendable, Equatable {
        /// A regular expression searched in the tensor's name.
        public var pattern: String
        /// A class setting: `int8`, `int4:g32`, `int8:row`, `bf16`, `keep`…
        public var precision: String

        public init(pattern: String, precision: String) {
            self.pattern = pattern
            self.precision = precision
        }

        /// Parses `REGEX=SETTING` (the last `=` separates them).
        public init?(_ text: String) {
            guard let separator = text.lastIndex(of: "="), separator != text.startIndex else { return nil }
            self.init(pattern: String(text[..<separator]), precision: String(text[text.index(after: separator)...]))
        }
    }

    /// What a calibration was run on: recorded in the pack so that a result can be traced to its text.
    public struct Calibration: Codable, Sendable, Equatable {
        /// `importance` (mean squares of the inputs), `gptq` (their Gram matrices too) or `imatrix` (read from
        /// llama.cpp's file; `text` and `textXXH64` then name that file).
        public var method: String
        /// The text's file name.
        public var text: String
        /// XXH64 of the text's bytes, hex.
        public var textXXH64: String
        /// Tokens run (0 when an importance matrix does not say: legacy `.dat` files count chunks).
        public var tokens: Int
        /// Tokens per chunk.
        public var context: Int

        public init(method: String, text: String, textXXH64: String, tokens: Int, context: Int) {
            self.method = method
            self.text = text
            self.textXXH64 = textXXH64
            self.tokens = tokens
            self.context = context
        }
    }

    public var core: Precision
    public var ple: Precision
    public var embed: Precision
    /// Columns per scale for core matrices (nil: one scale per row).
    public var group: Int?
    /// Columns per scale for the token embedding and output head (nil: one scale per row).
    public var embedGroup: Int?
    /// Tensor-name regular expressions whose tensors are kept unchanged.
    public var keep: [String]
    /// Per-tensor settings that replace their class's, first match wins (nil: none; absent from packs without them).
    public var overrides: [Override]?
    public var rounding: Rounding
    /// The calibration the quantization used, if any.
    public var calibration: Calibration?

    public init(core: Precision, ple: Precision, embed: Precision, group: Int? = nil, embedGroup: Int? = nil, keep: [String] = [],
                rounding: Rounding = .nearest) {
        self.core = core
        self.ple = ple
        self.embed = embed
        self.group = group
        self.embedGroup = embedGroup
        self.keep = keep
        self.rounding = rounding
    }

    /// Checks group sizes and regular expressions.
    public func validate() throws {
        for (key, value) in [("group", group), ("embed_group", embedGroup)] {
            if let value, !RowScheme.supportedGroupSizes.contains(value) {
                throw RecipeError(.invalidValue, file: nil, key: key, "group size \(value) is not one of \(RowScheme.supportedGroupSizes)")
            }
        }
        for pattern in keep {
            if let problem = Self.patternProblem(pattern) { throw RecipeError(.invalidValue, file: nil, key: "keep", "\"\(pattern)\" \(problem)") }
        }
        for override in overrides ?? [] {
            if let problem = Self.patternProblem(override.pattern) {
                throw RecipeError(.invalidValue, file: nil, key: "overrides", "\"\(override.pattern)\" \(problem)")
            }
            guard ClassSetting(override.precision) != nil else {
                throw RecipeError(.invalidValue, file: nil, key: "overrides",
                                  "\"\(override.precision)\" is not a precision (\(Precision.allCases.map(\.rawValue).joined(separator: ", ")), "
                                  + "an integer one optionally with :row or :gN)")
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
        let known: Set<String> = ["core", "ple", "embed", "group", "embed_group", "keep", "overrides", "rounding", "preset"]
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
        func setting(_ key: String) throws -> ClassSetting? {
            guard let value = object[key] else { return nil }
            guard let text = value.stringValue, let setting = ClassSetting(text), key != "ple" || setting.group == nil else {
                throw fail(.invalidValue, key, "must be one of \(Precision.allCases.map(\.rawValue).joined(separator: ", "))"
                           + (key == "ple" ? "" : ", an integer one optionally with :row or :gN (int4:g32)"))
            }
            return setting
        }
        if let value = try setting("core") { recipe.apply(value, to: .core) }
        if let value = try setting("ple") { recipe.apply(value, to: .ple) }
        if let value = try setting("embed") { recipe.apply(value, to: .embed) }
        for (key, path) in [("group", \Recipe.group), ("embed_group", \Recipe.embedGroup)] {
            guard let value = object[key] else { continue }
            guard let group = value.intValue else { throw fail(.invalidValue, key, "must be an integer") }
            recipe[keyPath: path] = group
        }
        if let value = object["keep"] {
            guard let patterns = value.arrayValue?.compactMap(\.stringValue), patterns.count == value.arrayValue?.count else {
                throw fail(.invalidValue, "keep", "must be a list of strings")
            }
            recipe.keep = patterns
        }
        if let value = object["overrides"] {
            let entries = value.arrayValue?.compactMap { entry -> Override? in
                guard let object = entry.objectValue, object.members.count == 2, let pattern = object["pattern"]?.stringValue,
                      let precision = object["precision"]?.stringValue else { return nil }
                return Override(pattern: pattern, precision: precision)
            }
            guard let entries, entries.count == value.arrayValue?.count else {
                throw fail(.invalidValue, "overrides", "must be a list of {\"pattern\": REGEX, \"precision\": SETTING}")
            }
            recipe.overrides = entries.isEmpty ? nil : entries
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
        var precision: Precision
        var group: Int?
        switch tensorClass {
        case .ple: precision = ple; group = pleGroup
        case .embed: precision = embed; group = embedGroup
        case .core: precision = core; group = self.group
        }
        if let override = try overrides?.first(where: { try Regex($0.pattern).firstMatch(in: tensor.name) != nil }),
           let setting = ClassSetting(override.precision) {
            precision = setting.precision
            switch setting.group {
            case .row? where tensorClass != .ple: group = nil
            case .columns(let size)? where tensorClass != .ple: group = size
            default: break
            }
        }
        switch precision {
        case .keep: return .keep
        case .f32: return .convert(.f32)
        case .f16: return .convert(.f16)
        case .bf16: return .convert(.bf16)
        case .int8, .int4, .int2:
            let asked = RowScheme(bits: precision.rowBits!, groupSize: group)
            guard let scheme = Self.fitting(asked, rowLength: tensor.shape.rowLength) else {
                throw RecipeError(.doesNotFit, file: tensor.file, tensor: tensor.name,
                                  "\(tensorClass) rows of \(tensor.shape.rowLength) columns cannot be \(asked)")
            }
            return .quantize(scheme)
        }
    }
}

extension Recipe {
    /// `scheme`, or, when its group does not divide `rowLength`, the same bits with the group halved until it does
    /// (down to the smallest supported group, 32 columns), else one scale per row: as llama.cpp falls back to another block type for rows that are
    /// not whole blocks. nil when even one scale per row cannot hold the row (an odd length at 4 bits).
    public static func fitting(_ scheme: RowScheme, rowLength: Int) -> RowScheme? {
        if scheme.accepts(rowLength: rowLength) { return scheme }
        var group = scheme.groupSize ?? 0
        while group > RowScheme.supportedGroupSizes.min()! {
            group /= 2
            let smaller = RowScheme(bits: scheme.bits, groupSize: group)
            if smaller.accepts(rowLength: rowLength) { return smaller }
        }
        let perRow = RowScheme(bits: scheme.bits, groupSize: nil)
        return perRow.accepts(rowLength: rowLength) ? perRow : nil
    }
}

extension Recipe {
    /// A class's precision and, optionally, its scale grouping, as `--core`, `--embed` and recipe files write them:
    /// `int4`, `int4:g32`, `int8:row`, `bf16`, `keep`.
    public struct ClassSetting: Sendable, Equatable {
        /// How a class's rows are grouped.
        public enum Grouping: Sendable, Equatable {
            /// One scale per row.
            case row
            /// One scale per this many columns.
            case columns(Int)
        }

        public let precision: Precision
        /// nil: leave the recipe's grouping as it is.
        public let group: Grouping?

        public init(precision: Precision, group: Grouping? = nil) {
            self.precision = precision
            self.group = group
        }

        /// Parses `PRECISION[:row|:gN]`; a grouping only goes with an integer precision.
        public init?(_ text: String) {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            guard (1...2).contains(parts.count), let precision = Precision(rawValue: String(parts[0])) else { return nil }
            var group: Grouping?
            if parts.count == 2 {
                guard precision.rowBits != nil else { return nil }
                if parts[1] == "row" {
                    group = .row
                } else if parts[1].hasPrefix("g"), let size = Int(parts[1].dropFirst()), RowScheme.supportedGroupSizes.contains(size) {
                    group = .columns(size)
                } else {
                    return nil
                }
            }
            self.init(precision: precision, group: group)
        }
    }

    /// Sets a class's precision and, when the setting has one, its grouping (the PLE table is always grouped by its
    /// per-layer slices).
    public mutating func apply(_ setting: ClassSetting, to tensorClass: TensorClass) {
        let group: Int?? = setting.group.map { grouping in
            switch grouping {
            case .row: nil
            case .columns(let size): size
            }
        }
        switch tensorClass {
        case .core:
            core = setting.precision
            if let group { self.group = group }
        case .embed:
            embed = setting.precision
            if let group { embedGroup = group }
        case .ple:
            ple = setting.precision
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
