import ArgumentParser
import ToolCommands

QuantizeCommand.main()
