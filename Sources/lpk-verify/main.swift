import ArgumentParser
import ToolCommands

VerifyCommand.main()
