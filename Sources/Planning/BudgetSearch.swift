import Conversion
import TensorModel
import Verification

/// Picks a setting per unit (the embedding, the PLE table, each layer's core matrices) to make the smallest model
/// under a KLD budget, or the most faithful one under a size budget, from measured sensitivities.
///
/// Each unit's KLD at each setting is measured alone (``SensitivityMeasurement``); divergences of small independent
/// errors add up, so the search treats a recipe's KLD as the sum of its units' and walks down from the largest setting
/// of every unit, taking at each step the change that saves the most bytes per unit of KLD added (a greedy
/// multiple-choice knapsack). The chosen recipe is then built in memory and measured whole; when the sum
/// underestimated it, the KLD budget is tightened by the shortfall and the search runs again.
public struct BudgetSearch {
    /// What to stay within.
    public enum Budget: Sendable, Equatable {
        case maxKLD(Double)
        case maxBytes(Int)
    }

    /// One unit's measured options, largest first.
    public struct UnitOptions: Sendable {
        public let unit: TensorUnit
        public let options: [SensitivityReport.Entry]
    }

    /// The outcome: the recipe, each unit's setting, and the KLD the whole recipe measured.
    public struct Result: Codable, Sendable {
        public let recipe: Recipe
        public let choices: [String: String]
        public let predictedKLD: Double
        public let measuredKLD: Double
        public let measuredUncertainty: Double
        public let tensorBytes: Int
        public let attempts: Int
    }

    public let measurement: SensitivityMeasurement
    /// The settings to choose among; int2 ones only for lookup tables (embedding, PLE).
    public let settings: [(label: String, setting: Recipe.ClassSetting)]

    public init(measurement: SensitivityMeasurement, settings: [(label: String, setting: Recipe.ClassSetting)]) {
        self.measurement = measurement
        self.settings = settings
    }

    /// The settings `unit` may take: int2 only where the unit is a lookup table, not a matrix that is multiplied.
    func settings(for unit: TensorUnit) -> [(label: String, setting: Recipe.ClassSetting)] {
        settings.filter { unit.tensorClass != .core || $0.setting.precision != .int2 }
    }

    /// Measures every unit at every setting it may take.
    public func measureUnits(progress: (Int, Int, String) -> Void) throws -> [UnitOptions] {
        let units = TensorUnit.units(of: measurement.source, perLayer: true)
        var result: [UnitOptions] = []
        let total = units.map { settings(for: $0).count }.reduce(0, +)
        var done = 0
        for unit in units {
            var options: [SensitivityReport.Entry] = []
            for (label, setting) in settings(for: unit) {
                options.append(try measurement.measure(unit, setting, label: label))
                done += 1
                progress(done, total, "\(unit.name) \(label)")
            }
            result.append(UnitOptions(unit: unit, options: options.sorted { $0.bytes > $1.bytes }))
        }
        return result
    }

    /// The setting index per unit that the greedy walk reaches under `budget` (KLD as the sum of the units').
    static func choose(_ units: [UnitOptions], budget: Budget, fixedBytes: Int) -> [Int] {
        var choice = units.map { _ in 0 }
        func kld(_ u: Int, _ o: Int) -> Double { max(0, units[u].options[o].meanKLD) }
        var totalKLD = units.indices.map { kld($0, 0) }.reduce(0, +)
        var totalBytes = fixedBytes + units.indices.map { units[$0].options[0].bytes }.reduce(0, +)
        while true {
            if case .maxBytes(let limit) = budget, totalBytes <= limit { break }
            // The move (unit, smaller option) with the most bytes saved per KLD added.
            var best: (unit: Int, option: Int, ratio: Double)?
            for u in units.indices {
                for o in (choice[u] + 1)..<units[u].options.count {
                    let saved = Double(units[u].options[choice[u]].bytes - units[u].options[o].bytes)
                    guard saved > 0 else { continue }
                    let added = kld(u, o) - kld(u, choice[u])
                    if case .maxKLD(let limit) = budget, totalKLD + added > limit { continue }
                    let ratio = saved / max(added, 1e-12)
                    if best == nil || ratio > best!.ratio { best = (u, o, ratio) }
                }
            }
            guard let move = best else { break }
            totalKLD += kld(move.unit, move.option) - kld(move.unit, choice[move.unit])
            totalBytes -= units[move.unit].options[choice[move.unit]].bytes - units[move.unit].options[move.option].bytes
            choice[move.unit] = move.option
        }
        return choice
    }

    /// The recipe giving each unit its chosen setting, on top of `base` (its rounding and keep patterns).
    func recipe(_ units: [UnitOptions], _ choice: [Int], base: Recipe) -> Recipe {
        var recipe = base
        var overrides: [Recipe.Override] = []
        for (u, unit) in units.enumerated() {
            let label = unit.options[choice[u]].setting
            guard let setting = settings.first(where: { $0.label == label })?.setting else { continue }
            if let pattern = unit.unit.namePattern {
                overrides.append(Recipe.Override(pattern: pattern, precision: label))
            } else {
                recipe.apply(setting, to: unit.unit.tensorClass)
            }
        }
        recipe.overrides = overrides.isEmpty ? nil : overrides
        return recipe
    }

    /// Searches, measures the chosen recipe whole, and tightens the KLD budget while the whole misses it (at most
    /// `attempts` times).
    public func search(_ units: [UnitOptions], budget: Budget, base: Recipe, attempts: Int = 4) throws -> Result {
        let source = measurement.source
        let pleGroup = source.configuration?.perLayerInputSize
        let fixed = try source.tensors.filter { tensor in !units.contains { $0.unit.contains(tensor) } && tensor.encoding != .file }
            .map { try PackConverter.plannedStorage(of: $0, recipe: base, pleGroup: pleGroup).bytes }.reduce(0, +)
        var current = budget
        var last: Result?
        for attempt in 1...attempts {
            let choice = Self.choose(units, budget: current, fixedBytes: fixed)
            let recipe = recipe(units, choice, base: base)
            let view = try QuantizedView(source, recipe: recipe, calibration: measurement.calibration)
            let summary = try measurement.probe.evaluate(view)
            let bytes = try source.tensors.filter { $0.encoding != .file }
                .map { try PackConverter.plannedStorage(of: $0, recipe: recipe, pleGroup: pleGroup).bytes }.reduce(0, +)
            let predicted = units.indices.map { max(0, units[$0].options[choice[$0]].meanKLD) }.reduce(0, +)
            let choices = Dictionary(uniqueKeysWithValues: units.indices.map { (units[$0].unit.name, units[$0].options[choice[$0]].setting) })
            last = Result(recipe: recipe, choices: choices, predictedKLD: predicted, measuredKLD: summary.meanKLD.value,
                          measuredUncertainty: summary.meanKLD.uncertainty, tensorBytes: bytes, attempts: attempt)
            guard case .maxKLD(let limit) = budget, summary.meanKLD.value > limit, predicted > 0 else { break }
            // The sum underestimated the whole: ask the sum for less, in proportion.
            if case .maxKLD(let asked) = current { current = .maxKLD(asked * limit / summary.meanKLD.value * 0.95) }
        }
        return last!
    }
}
