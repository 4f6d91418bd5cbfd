import ByteIO
import Foundation
import Testing
import TestSupport

/// Faults while writing: killed runs, a full disk (a file-size limit that makes writes fail), and the promise that
/// nothing partial or temporary is left and the input is never touched.
@Suite(.serialized) struct FaultInjectionTests {
    func inputHash(_ path: String) throws -> UInt64 {
        try MappedFile(path: path).bytes.withUnsafeBytes { XXHash64.hash($0) }
    }

    @Test("a run killed at any moment leaves no output and no temporary file, and the input unchanged")
    func killedRuns() throws {
        guard let model = Fixtures.realGemma3 else {
            print(Fixtures.realGemma3Missing)
            return
        }
        let before = try inputHash(model)
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        for delay in [0.05, 0.3, 0.8, 1.5, 2.5] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Fixtures.productsDirectory + "/lpk-quantize")
            process.arguments = [model, "-o", directory.path + "/out.lpk", "--quiet"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            Thread.sleep(forTimeInterval: delay)
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            #expect(try directory.contents() == [], "after a kill at \(delay) s")
        }
        #expect(try inputHash(model) == before)
    }

    @Test("writes that fail (file-size limit standing in for a full disk) give a clear error, exit 1, no files")
    func failedWrites() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let source = Fixtures.path("gguf/llama-quantized.gguf")
        let before = try inputHash(source)
        let tool = Fixtures.productsDirectory + "/lpk-pack"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        // ulimit -f counts 1024-byte blocks: 8 KiB is less than the pack needs.
        process.arguments = ["-c", "ulimit -f 8; exec \"$0\" \"$1\" -o \"$2\"", tool, source, directory.path + "/out.lpk"]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 1)
        #expect(message.contains("out.lpk") && message.contains("write failed") && message.contains("File too large"), "\(message)")
        #expect(try directory.contents() == [])
        #expect(try inputHash(source) == before)
    }

    @Test("a destination in a missing directory fails before any work, naming the directory")
    func missingDirectory() throws {
        let run = try ToolRun.run("lpk-quantize", [Fixtures.path("gguf/llama-quantized.gguf"), "-o", "/nonexistent-lpk-dir/out.lpk"])
        #expect(run.status == 1)
        #expect(run.standardError.contains("/nonexistent-lpk-dir"))
    }
}
