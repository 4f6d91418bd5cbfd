import ArgumentParser

/// Flags every command shares: machine output and quiet mode.
package struct OutputOptions: ParsableArguments {
    @Flag(help: "Print a JSON report (sorted keys, schemaVersion 1) instead of text.")
    package var json = false

    @Flag(help: "No progress bar.")
    package var quiet = false

    package init() {}
}
