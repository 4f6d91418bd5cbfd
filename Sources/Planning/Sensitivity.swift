import Conversion
import TensorModel
import Verification

/// How much each part of a model cares about its bits: the KL divergence from the original over a text when one
/// tensor class (core, embedding, PLE table), or one layer's core matrices, alone is stored at a setting, everything
/// else kept; and, for models with a PLE table, when one layer's slice of the table (or the whole table) is zeroed.
///
/// Each figure quantizes only its own tensors (``QuantizedView``, in memory) and runs the model once over the text
/// against the reference logits ``KLDProbe`` keeps.
public struct SensitivityReport: Codable, Sendable {
    /// One measurement.
    public struct Entry: Codable, Sendable, Equatable {
        /// `core`, `embed`, `ple`, `layer 3` (its core matrices), `PLE slice of layer 3 zeroed`, `whole PLE table zeroed`.
        public let scope: String
        /// The setting (`int4:g32`), or `ablation`.
        public let setting: String
        /// Mean KLD over the scored tokens, and its uncertainty.
        public let meanKLD: Double
        public let uncertainty: Double
        /// Fraction of positions whose top token is unchanged.
        public let sameTop: Double
        /// Bytes of the scope's tensors as the setting stores them, and as the source stores them.
        public let bytes: Int
        public let sourceBytes: Int
    }

    public let model: String
    public let text: String
    public let scoredTokens: Int
    public let rounding: String
    public let classes: [Entry]
    public let layers: [Entry]
    public let ablations: [Entry]
}

/// A group of tensors that a budget or a sensitivity measurement gives one setting: a class, or one layer's core.
public struct TensorUnit: Sendable, Hashable {
    /// `core`, `embed`, `ple` or `layer N`.
    public let name: String
    public let tensorClass: TensorClass
    /// The layer, for per-layer units.
    public let layer: Int?

    public init(name: String, tensorClass: TensorClass, layer: Int?) {
        self.name = name
        self.tensorClass = tensorClass
        self.layer = layer
    }

    /// Whether `tensor` belongs to the unit.
    public func contains(_ tensor: TensorDescriptor) -> Bool {
        guard TensorClass(tensor) == tensorClass else { return false }
        guard let layer else { return true }
        if case .layer(let index, _)? = GemmaWeight(tensorName: tensor.name) { return index == layer }
        return false
    }

    /// A regular expression matching the unit's tensor names (for recipe overrides), for per-layer units.
    public var namePattern: String? { layer.map { #"(^|\.)(layers|blk)\.\#($0)\."# } }

    /// The class units and one core unit per layer of `source`.
    public static func units(of source: any TensorSource, perLayer: Bool) -> [TensorUnit] {
        let classes = TensorClass.allCases.filter { tensorClass in source.tensors.contains { TensorClass($0) == tensorClass } }
        var units: [TensorUnit] = []
        for tensorClass in classes {
            if tensorClass == .core && perLayer, let layers = source.configuration?.layerCount {
                units += (0..<layers).map { TensorUnit(name: "layer \($0)", tensorClass: .core, layer: $0) }
            } else {
                units.append(TensorUnit(name: tensorClass.rawValue, tensorClass: tensorClass, layer: nil))
            }
        }
        return units
    }
}

/// Measures sensitivities (``SensitivityReport``).
public struct SensitivityMeasurement {
    public let source: any TensorSource
    public let probe: KLDProbe
    public let rounding: Recipe.Rounding
    public let calibration: Calibration?

    public init(source: any TensorSource, probe: KLDProbe, rounding: Recipe.Rounding, calibration: Calibration? = nil) {
        self.source = source
        self.probe = probe
        self.rounding = rounding
        self.calibration = calibration
    }

    /// The recipe that stores `unit` at `setting` and keeps everything else.
    public func recipe(storing unit: TensorUnit, as setting: Recipe.ClassSetting) -> Recipe {
        var recipe = Recipe(core: .keep, ple: .keep, embed: .keep, rounding: rounding)
        recipe.apply(setting, to: unit.tensorClass)
        return recipe
    }

    /// The KLD, top-token agreement and bytes when `unit` alone is stored at `setting`.
    public func measure(_ unit: TensorUnit, _ setting: Recipe.ClassSetting, label: String) throws -> SensitivityReport.Entry {
        let view = try QuantizedView(source, recipe: recipe(storing: unit, as: setting), calibration: calibration, include: unit.contains)
        let summary = try probe.evaluate(view)
        let members = source.tensors.filter(unit.contains)
        let bytes = try members.map { try PackConverter.plannedStorage(of: $0, recipe: recipe(storing: unit, as: setting),
                                                                       pleGroup: source.configuration?.perLayerInputSize).bytes }.reduce(0, +)
        return .init(scope: unit.name, setting: label, meanKLD: summary.meanKLD.value, uncertainty: summary.meanKLD.uncertainty,
                     sameTop: summary.sameTop.value, bytes: bytes, sourceBytes: members.map(\.byteCount).reduce(0, +))
    }

    /// The KLD when the table slices of `layers` are zeroed (the model otherwise as stored).
    public func ablate(_ layers: Set<Int>, scope: String) throws -> SensitivityReport.Entry {
        let summary = try probe.evaluate(source, ablatedLayers: layers)
        let table = source.tensors.first { $0.role == .perLayerEmbedding }
        return .init(scope: scope, setting: "ablation", meanKLD: summary.meanKLD.value, uncertainty: summary.meanKLD.uncertainty,
                     sameTop: summary.sameTop.value, bytes: 0, sourceBytes: table?.byteCount ?? 0)
    }

    /// Every class at every setting, every layer's core at every setting (when `perLayer`), and the PLE ablations.
    public func report(settings: [(label: String, setting: Recipe.ClassSetting)], perLayer: Bool, textName: String,
                       progress: (Int, Int, String) -> Void) throws -> SensitivityReport {
        let classUnits = TensorUnit.units(of: source, perLayer: false)
        let layerUnits = perLayer ? TensorUnit.units(of: source, perLayer: true).filter { $0.layer != nil } : []
        let tableLayers = source.tensors.contains { $0.role == .perLayerEmbedding } ? (source.configuration?.layerCount ?? 0) : 0
        let total = (classUnits.count + layerUnits.count) * settings.count + (tableLayers > 0 ? tableLayers + 1 : 0)
        var done = 0
        func step(_ what: String) { done += 1; progress(done, total, what) }
        var classes: [SensitivityReport.Entry] = [], layers: [SensitivityReport.Entry] = [], ablations: [SensitivityReport.Entry] = []
        for unit in classUnits {
            for (label, setting) in settings {
                classes.append(try measure(unit, setting, label: label))
                step("\(unit.name) \(label)")
            }
        }
        for unit in layerUnits {
            for (label, setting) in settings {
                layers.append(try measure(unit, setting, label: label))
                step("\(unit.name) \(label)")
            }
        }
        if tableLayers > 0 {
            for layer in 0..<tableLayers {
                ablations.append(try ablate([layer], scope: "PLE slice of layer \(layer) zeroed"))
                step("ablate layer \(layer)")
            }
            ablations.append(try ablate(Set(0..<tableLayers), scope: "whole PLE table zeroed"))
            step("ablate the table")
        }
        return SensitivityReport(model: source.path, text: textName, scoredTokens: probe.scoredTokens, rounding: rounding.rawValue,
                                 classes: classes, layers: layers, ablations: ablations)
    }
}
