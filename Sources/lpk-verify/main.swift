import ArgumentParser
import ToolCommands

ToolSetup.prepareProcess()
VerifyCommand.main()
