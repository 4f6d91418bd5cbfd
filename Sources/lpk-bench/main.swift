import ArgumentParser
import ToolCommands

BenchCommand.main()
