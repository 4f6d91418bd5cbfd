import Foundation
import PackFormat
import TensorModel
import TensorTypes
import Testing
import TestSupport

/// Every id a pack stores is a constant of Formats/lpk.md §9: the code's table is checked against the spec's text, id
/// by id, so neither can change without the other (and adding a role or dtype cannot renumber the others).
@Suite struct FormatIDTests {
    /// The `name id` pairs of the §9 line that starts with `prefix`.
    static func specPairs(_ prefix: String) throws -> [(name: String, id: Int)] {
        let spec = try String(contentsOfFile: Fixtures.repositoryRoot + "/Formats/lpk.md", encoding: .utf8)
        let section = try #require(spec.range(of: "## §9").map { String(spec[$0.upperBound...]) })
        let start = try #require(section.range(of: prefix))
        let body = section[start.upperBound...].prefix { $0 != "." }  // the list ends at the first full stop
        return try body.split(separator: ",").map { entry in
            let words = entry.split(whereSeparator: \.isWhitespace)
            let id = try #require(words.last.flatMap { Int($0) }, "entry '\(entry)'")
            return (words.dropLast().joined(separator: " "), id)
        }
    }

    @Test("dtype ids: each of §9's pairs, both ways; every dtype has one")
    func dtypeIDs() throws {
        let pairs = try Self.specPairs("dtype ids:")
        #expect(pairs.count == DType.allCases.count)
        for (name, id) in pairs {
            let dtype = try #require(DType(rawValue: name), "§9 names dtype \(name)")
            #expect(PackLayout.id(of: dtype) == UInt32(id), "\(name)")
            #expect(PackLayout.dtype(id: UInt32(id)) == dtype, "\(id)")
        }
        #expect(PackLayout.dtype(id: UInt32(pairs.count)) == nil)
    }

    @Test("role ids: each of §9's pairs, both ways; every role has one")
    func roleIDs() throws {
        let pairs = try Self.specPairs("roles:")
        #expect(pairs.count == TensorRole.allCases.count)
        for (name, id) in pairs {
            let role = try #require(TensorRole(rawValue: name), "§9 names role \(name)")
            #expect(PackLayout.id(of: role) == UInt8(id), "\(name)")
            #expect(PackLayout.role(id: UInt8(id)) == role, "\(id)")
        }
        #expect(PackLayout.role(id: UInt8(pairs.count)) == nil && PackLayout.role(id: 255) == nil)
    }

    @Test("spot checks of ids that packs in the wild already carry", arguments: [
        (TensorRole.tokenEmbedding, UInt8(0)), (.perLayerEmbedding, 1), (.attention, 3), (.mlp, 4), (.norm, 7), (.other, 14),
    ])
    func knownRoleIDs(role: TensorRole, id: UInt8) {
        #expect(PackLayout.id(of: role) == id)
    }
}
