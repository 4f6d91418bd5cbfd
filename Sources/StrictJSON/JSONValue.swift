/// A parsed JSON value that keeps what lenient parsers lose: member order, the exact text of numbers, and the
/// byte offset of every object member (for error messages that point into the file).
public indirect enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// A number, as written (so 64-bit integers stay exact).
    case number(String)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// The string, if this is one.
    public var stringValue: String? { if case .string(let s) = self { s } else { nil } }
    /// The object, if this is one.
    public var objectValue: JSONObject? { if case .object(let o) = self { o } else { nil } }
    /// The elements, if this is an array.
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { a } else { nil } }
    /// The boolean, if this is one.
    public var boolValue: Bool? { if case .bool(let b) = self { b } else { nil } }
    /// The number as a `Double`, if this is a number.
    public var doubleValue: Double? { if case .number(let n) = self { Double(n) } else { nil } }
    /// The number as an exact non-negative integer, if it is written as one (no fraction, no exponent).
    public var uint64Value: UInt64? { if case .number(let n) = self { UInt64(n) } else { nil } }
    /// The number as an exact integer, if it is written as one.
    public var intValue: Int? { if case .number(let n) = self { Int(n) } else { nil } }
}

/// One `"key": value` pair of an object, with the byte offset of its key in the parsed text.
public struct JSONMember: Sendable, Equatable {
    public let key: String
    public let value: JSONValue
    /// Byte offset of the key's opening quote in the parsed text.
    public let offset: Int
}

/// A JSON object whose keys are unique (the parser refuses duplicates), in document order.
///
/// Keys compare as JSON defines them, code point by code point: "é" and "e\u{301}" are different keys (Swift's
/// `String` equality, canonical equivalence, would make them one).
public struct JSONObject: Sendable, Equatable {
    /// A key compared by its Unicode scalars.
    struct Key: Hashable, Sendable {
        let scalars: [Unicode.Scalar]
        init(_ key: String) { scalars = Array(key.unicodeScalars) }
    }

    /// The members in the order they were written.
    public let members: [JSONMember]
    private let index: [Key: Int]

    init(members: [JSONMember], index: [Key: Int]) {
        self.members = members
        self.index = index
    }

    /// The value for `key`, if present.
    public subscript(key: String) -> JSONValue? { index[Key(key)].map { members[$0].value } }

    /// The member for `key`, if present.
    public func member(_ key: String) -> JSONMember? { index[Key(key)].map { members[$0] } }

    /// The keys in document order.
    public var keys: [String] { members.map(\.key) }
}
