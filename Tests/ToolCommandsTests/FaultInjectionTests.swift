import ByteIO
import Foundation
import Testing
import TestSupport

/// Faults while writing: killed runs, a full disk (a real 64 KiB tmpfs, and a file-size limit), a read-only output
/// directory, and the promise that nothing partial or temporary is left and the input is never touched.
///
/// The tmpfs and the read-only directory are mounts in a private user and mount namespace (`unshare -rm`), which
/// needs no privileges and also binds root, who ignores permission bits.
@Suite(.serialized) struct FaultInjectionTests {
    func inputHash(_ path: String) throws -> UInt64 {
        try MappedFile(path: path).bytes.withUnsafeBytes { XXHash64.hash($0) }
    }

    @Test("a run killed at any moment leaves no output and no temporary file, and the input unchanged", Fixtures.needsRealGemma3)
    func killedRuns() throws {
        let model = try Fixtures.requireRealGemma3()
        let before = try inputHash(model)
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        func start() throws -> Process {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Fixtures.productsDirectory + "/lpk-quantize")
            // --requantize: the default recipe alone carries the GGUF's blocks over in a fraction of a second.
            process.arguments = [model, "-o", directory.path + "/out.lpk", "--requantize", "--quiet"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            return process
        }
        // One whole run sets the time scale, so the kills land inside a run however fast it has become.
        let started = Date()
        let whole = try start()
        whole.waitUntilExit()
        let duration = Date().timeIntervalSince(started)
        #expect(try whole.terminationStatus == 0 && directory.contents() == ["out.lpk"])
        try FileManager.default.removeItem(atPath: directory.path + "/out.lpk")
        // Five spread moments, then three drawn by a seeded xorshift (reproducible "random points" of the run).
        var state: UInt64 = 20_261_122
        let drawn = (0..<3).map { _ -> Double in
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return 0.01 + Double(state % 980) / 1000
        }
        var killedRunning = 0
        for fraction in [0.02, 0.15, 0.4, 0.7, 0.9] + drawn {
            let process = try start()
            Thread.sleep(forTimeInterval: fraction * duration)
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            if process.terminationReason == .uncaughtSignal {
                killedRunning += 1
                #expect(try directory.contents() == [], "after a kill at \(fraction) of the run")
            } else {
                try? FileManager.default.removeItem(atPath: directory.path + "/out.lpk")  // it finished first: complete
            }
        }
        #expect(killedRunning >= 6, "most kills land while the run is going")
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

    static let privateMountsAvailable = (try? ToolRun.shell("exec unshare -rm true", []).status) == 0

    /// Runs `lpk-quantize SOURCE -o DIR/out.lpk` inside a private namespace after `mount` prepared DIR; prints
    /// what DIR holds afterwards (seen from inside, where the mount exists) after a `--- left:` line.
    func quantizeInPrivateMount(_ mount: String, source: String) throws -> (run: ToolRun, left: [String]) {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let script = "exec unshare -rm sh -c '" + mount + "; \"$1\" \"$2\" -o \"$0/out.lpk\" --quiet; s=$?; echo \"--- left:\"; ls -A \"$0\"; exit $s' \"$0\" \"$1\" \"$2\""
        let run = try ToolRun.shell(script, [directory.path, Fixtures.productsDirectory + "/lpk-quantize", source])
        let left = run.standardOutput.components(separatedBy: "--- left:\n").last?.split(separator: "\n").map(String.init) ?? ["?"]
        return (run, left)
    }

    @Test("a full disk (a 64 KiB tmpfs): clear error, exit 1, nothing left, input untouched",
          .enabled(if: privateMountsAvailable, "needs unshare -rm (user and mount namespaces)"))
    func fullDisk() throws {
        let source = Fixtures.path("models/tiny-gemma3-f32")
        let before = try inputHash(source + "/model.safetensors")
        let (run, left) = try quantizeInPrivateMount("mount -t tmpfs -o size=64k tmpfs \"$0\" || exit 99", source: source)
        #expect(run.status == 1, "\(run.standardError)")
        #expect(run.standardError.contains("out.lpk") && run.standardError.contains("No space left on device"), "\(run.standardError)")
        #expect(left == [], "left behind: \(left)")
        #expect(try inputHash(source + "/model.safetensors") == before)
    }

    @Test("a read-only output directory: clear error, exit 1, nothing written",
          .enabled(if: privateMountsAvailable, "needs unshare -rm (user and mount namespaces)"))
    func readOnlyDirectory() throws {
        let source = Fixtures.path("models/tiny-gemma3-f32")
        let (run, left) = try quantizeInPrivateMount(
            "mount --bind \"$0\" \"$0\" && mount -o remount,bind,ro \"$0\" || exit 99", source: source)
        #expect(run.status == 1, "\(run.standardError)")
        #expect(run.standardError.contains("Read-only file system"), "\(run.standardError)")
        #expect(left == [], "left behind: \(left)")
    }

    @Test("a destination in a missing directory fails before any work, naming the directory")
    func missingDirectory() throws {
        let run = try ToolRun.run("lpk-quantize", [Fixtures.path("gguf/llama-quantized.gguf"), "-o", "/nonexistent-lpk-dir/out.lpk"])
        #expect(run.status == 1)
        #expect(run.standardError.contains("/nonexistent-lpk-dir"))
    }
}
