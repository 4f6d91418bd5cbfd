import ArgumentParser
import ToolCommands

InspectCommand.main()
