/// Why a conversion or export stopped: the file and what is wrong.
public struct ConversionError: Error, Sendable, CustomStringConvertible {
    /// What is wrong.
    public enum Kind: Sendable, Equatable {
        /// A row could not be quantized (a non-finite value, a scale beyond f16).
        case unquantizableRow(tensor: String, row: Int, reason: String)
        /// The output path names one of the inputs.
        case outputIsInput
    }

    /// The file concerned (the output for ``Kind/outputIsInput``, the source otherwise).
    public let file: String
    public let kind: Kind

    public init(file: String, kind: Kind) {
        self.file = file
        self.kind = kind
    }

    public var description: String {
        switch kind {
        case .unquantizableRow(let tensor, let row, let reason): "\(file): tensor '\(tensor)' row \(row): \(reason)"
        case .outputIsInput: "\(file) is one of the inputs; choose another output path"
        }
    }
}
