/// The dimensions of a tensor in row-major order (outermost first, as PyTorch and safetensors write them).
///
/// A shape is only ever constructed through ``init(_:)``, which checks that the element count fits in an `Int`,
/// so `elementCount` never overflows.
public struct TensorShape: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The dimensions, outermost first.
    public let dimensions: [Int]
    /// The product of the dimensions (1 for a scalar, 0 when any dimension is 0).
    public let elementCount: Int

    /// Creates a shape, or returns `nil` when a dimension is negative or the element count overflows `Int`.
    public init?(_ dimensions: [Int]) {
        var count = 1
        var sawZero = false
        for dimension in dimensions {
            guard dimension >= 0 else { return nil }
            if dimension == 0 { sawZero = true; continue }
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            guard !overflow else { return nil }
            count = product
        }
        self.dimensions = dimensions
        self.elementCount = sawZero ? 0 : count
    }

    /// The number of dimensions.
    public var rank: Int { dimensions.count }

    /// The length of the innermost dimension (1 for a scalar).
    public var rowLength: Int { dimensions.last ?? 1 }

    /// The number of rows: all elements divided by the row length (1 for scalars and vectors).
    public var rowCount: Int { rowLength == 0 ? 0 : elementCount / rowLength }

    public var description: String { "[" + dimensions.map(String.init).joined(separator: ", ") + "]" }

    public init(from decoder: any Decoder) throws {
        let dimensions = try [Int](from: decoder)
        guard let shape = TensorShape(dimensions) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "invalid shape"))
        }
        self = shape
    }

    public func encode(to encoder: any Encoder) throws { try dimensions.encode(to: encoder) }
}
