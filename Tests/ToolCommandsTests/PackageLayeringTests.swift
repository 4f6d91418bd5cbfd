import Foundation
import Testing
import TestSupport

/// Package.swift lists the library targets in dependency order; every source file imports only targets its own
/// target declares, and only targets listed above it, so data flows one way (README, Layout).
@Suite struct PackageLayeringTests {
    /// The library targets of Package.swift in order, each with the targets it declares.
    static func targets() throws -> [(name: String, dependencies: Set<String>)] {
        let manifest = try String(contentsOfFile: Fixtures.repositoryRoot + "/Package.swift", encoding: .utf8)
        let targetsPart = try #require(manifest.range(of: "targets: [").map { String(manifest[$0.upperBound...]) })
        var result: [(String, Set<String>)] = []
        for chunk in targetsPart.components(separatedBy: ".target(").dropFirst() {
            let name = try #require(chunk.firstMatch(of: /name: "([A-Za-z]+)"/)?.1)
            var dependencies = Set<String>()
            if let list = chunk.firstMatch(of: /dependencies: \[([^\]]*)\]/)?.1 {
                for match in list.matches(of: /"([A-Za-z]+)"/) { dependencies.insert(String(match.1)) }
            }
            result.append((String(name), dependencies))
        }
        return result
    }

    @Test("each library imports only targets it declares and that Package.swift lists above it")
    func importsFlowOneWay() throws {
        let targets = try Self.targets()
        let names = targets.map(\.name)
        let position = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
        #expect(names.contains("TensorModel") && names.contains("GemmaInference"))
        for (name, dependencies) in targets where FileManager.default.fileExists(atPath: Fixtures.repositoryRoot + "/Sources/" + name) {
            let directory = Fixtures.repositoryRoot + "/Sources/" + name
            let files = try #require(FileManager.default.enumerator(atPath: directory)).compactMap { $0 as? String }.filter { $0.hasSuffix(".swift") }
            for file in files {
                let text = try String(contentsOfFile: directory + "/" + file, encoding: .utf8)
                for match in text.matches(of: /(?m)^import ([A-Za-z]+)$/) {
                    let imported = String(match.1)
                    guard let importedPosition = position[imported] else { continue }  // a system or package module
                    #expect(dependencies.contains(imported), "\(name)/\(file) imports \(imported) without declaring it")
                    #expect(importedPosition < position[name]!, "\(name)/\(file) imports \(imported), which is listed below it")
                }
            }
        }
    }
}
