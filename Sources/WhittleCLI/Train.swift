import ArgumentParser
import FineTuning
import Foundation

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fine-tune a model from a YAML recipe (LoRA or full), writing a run folder.",
        discussion: """
        Values resolve as --set > recipe > defaults (Recipes/README.md lists every key). The run folder \
        (output.dir/output.name) gets the resolved recipe, the command, metrics.jsonl, resumable checkpoints in \
        state/, and the trained adapter (adapter/, best/, last/) or model. Ctrl-C saves a checkpoint and stops; \
        `whittle train --resume RUN_DIR` continues exactly where it stopped. \
        --dry-run prints the pre-flight prediction (parameters, peak memory, time per update and for the run) from \
        the model folder's config.json alone — before downloading the weights — and writes nothing.
        """
    )

    @Argument(help: "The recipe (YAML). Not needed with --resume.")
    var recipe: String?

    @Option(name: .customLong("set"), help: ArgumentHelp("Override a recipe value, e.g. --set training.max_steps=50 (repeatable).",
                                                         valueName: "key.path=value"))
    var overrides: [String] = []

    @Option(help: "Resume the run in this folder from its newest checkpoint.")
    var resume: String?

    @Option(help: "Token cache folder.")
    var cacheDir = "Checkpoints/cache"

    @Flag(help: "Print the predicted memory and time and exit: reads the recipe, config.json and (if present) the tokenizer and data; no weights are read and nothing is written.")
    var dryRun = false

    func validate() throws {
        if recipe == nil && resume == nil { throw ValidationError("name a recipe (whittle train Recipes/x.yaml) or --resume RUN_DIR") }
        if recipe != nil && resume != nil { throw ValidationError("give a recipe or --resume, not both (a resumed run uses its own recipe.resolved.yaml)") }
        if dryRun && recipe == nil { throw ValidationError("--dry-run takes a recipe (whittle train Recipes/x.yaml --dry-run)") }
    }

    func run() throws {
        let options = FineTuneRun.Options(recipePath: recipe ?? "", overrides: overrides, resume: resume,
                                          commandLine: CommandLine.arguments.joined(separator: " "), version: WhittleVersion.string,
                                          live: isatty(STDOUT_FILENO) != 0, cacheDirectory: cacheDir)
        if dryRun {
            for line in try TrainingPlan.make(options).lines { print(line) }
            return
        }
        let summary = try FineTuneRun.run(options) { text in
            FileHandle.standardOutput.write(Data(text.utf8))
        }
        if summary.ending == .interrupted { throw ExitCode(130) }
    }
}
