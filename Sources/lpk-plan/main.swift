import ArgumentParser
import ToolCommands

ToolSetup.prepareProcess()
PlanCommand.main()
