import Foundation

/// Runs one of the built executables and captures what it printed and how it exited.
public struct ToolRun {
    public let status: Int32
    public let standardOutput: String
    public let standardError: String
    /// Whether the run was killed for outliving its time limit.
    public let timedOut: Bool

    /// Runs `tool` (an executable beside the test bundle) with `arguments`, killing it after `timeLimit` seconds.
    public static func run(_ tool: String, _ arguments: [String], timeLimit: Double = 300) throws -> ToolRun {
        try launch(Fixtures.productsDirectory + "/" + tool, arguments, timeLimit: timeLimit)
    }

    /// Runs `/bin/sh -c script` with `$0`, `$1`, … set to `arguments` (for limits, namespaces and mounts).
    public static func shell(_ script: String, _ arguments: [String]) throws -> ToolRun {
        try launch("/bin/sh", ["-c", script] + arguments)
    }

    private static func launch(_ executable: String, _ arguments: [String], timeLimit: Double = 300) throws -> ToolRun {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        nonisolated(unsafe) var killed = false
        let watchdog = Thread {
            let deadline = Date().addingTimeInterval(timeLimit)
            while process.isRunning, Date() < deadline { usleep(10_000) }
            if process.isRunning {
                killed = true
                kill(process.processIdentifier, SIGKILL)
            }
        }
        watchdog.start()
        // Read both pipes while the process runs so a full pipe cannot block it.
        nonisolated(unsafe) var errorData = Data()
        let reader = Thread { errorData = err.fileHandleForReading.readDataToEndOfFile() }
        reader.start()
        let outputData = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        while !reader.isFinished || !watchdog.isFinished { usleep(1000) }
        return ToolRun(status: process.terminationStatus, standardOutput: String(decoding: outputData, as: UTF8.self),
                       standardError: String(decoding: errorData, as: UTF8.self), timedOut: killed)
    }
}
