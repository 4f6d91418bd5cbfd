import Foundation
import TensorModel

/// A comma-separated list of integer class settings (`int8:g32,int4:g64,int2:g32`), as `lpk-plan --settings` and
/// `lpk-quantize --budget-settings` take them, each with its text as its label.
enum SettingList {
    /// The settings of `text`, or nil when any entry is not an integer setting.
    static func parse(_ text: String) -> [(label: String, setting: Recipe.ClassSetting)]? {
        let labels = text.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
        let parsed = labels.map { label in Recipe.ClassSetting(label).map { (label, $0) } }
        guard !parsed.isEmpty, parsed.allSatisfy({ $0 != nil && $0!.1.precision.rowBits != nil }) else { return nil }
        return parsed.compactMap { $0 }
    }
}
