import ArgumentParser

@main
struct Whittle: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "whittle",
        abstract: "Fine-tune small language models on ordinary CPUs.",
        version: WhittleVersion.string,
        subcommands: [Generate.self, Chat.self, Eval.self, DataCommand.self, Tokenize.self, Template.self, Import.self, Merge.self, Bench.self]
    )
}
