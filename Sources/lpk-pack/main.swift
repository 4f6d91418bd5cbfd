import ArgumentParser
import ToolCommands

PackCommand.main()
