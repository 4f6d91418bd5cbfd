import ArgumentParser
import ToolCommands

ToolSetup.prepareProcess()
QuantizeCommand.main()
