import ArgumentParser

@main
struct Whittle: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "whittle",
        abstract: "Fine-tune small language models on ordinary CPUs.",
        version: WhittleVersion.string,
        subcommands: [Train.self, Generate.self, Chat.self, Eval.self, ReportCommand.self, DataCommand.self, DatasetsCommand.self, Tokenize.self,
                      TokenizerCommand.self, Template.self, Import.self, Merge.self, Export.self, Inspect.self, Bench.self]
    )
}
