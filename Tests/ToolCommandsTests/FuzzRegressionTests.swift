import Foundation
import Testing
import TestSupport

/// Inputs `make fuzz` found crashing (Fixtures/fuzz/TARGET/), replayed through the same parser code by `lpk-fuzz`.
@Suite struct FuzzRegressionTests {
    static var targets: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: Fixtures.path("fuzz"))) ?? []).sorted()
    }

    @Test("every input the fuzzer found is handled without a crash", arguments: targets)
    func replay(target: String) throws {
        let directory = Fixtures.path("fuzz/" + target)
        let inputs = try FileManager.default.contentsOfDirectory(atPath: directory).sorted().map { directory + "/" + $0 }
        #expect(!inputs.isEmpty)
        let run = try ToolRun.run("lpk-fuzz", [target] + inputs)
        #expect(run.status == 0, "\(run.standardError)")
    }

    @Test("a .lpkz segment whose zstd frame disagrees with its stated size is refused before allocating, naming the offset")
    func lpkzLyingSegmentSize() throws {
        let input = try #require(try FileManager.default.contentsOfDirectory(atPath: Fixtures.path("fuzz/lpkz")).first)
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let run = try ToolRun.run("lpk-pack", [Fixtures.path("fuzz/lpkz/" + input), "-o", directory.path + "/out.lpk"])
        #expect(run.status == 1)
        #expect(run.standardError.contains("offset") && run.standardError.contains("zstd"), "\(run.standardError)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
    }
}
