import ArgumentParser
import ToolCommands

ToolSetup.prepareProcess()
InspectCommand.main()
