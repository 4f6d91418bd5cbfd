import ArgumentParser
import ToolCommands

ToolSetup.prepareProcess()
PackCommand.main()
