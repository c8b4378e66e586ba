import FileSupport
import Foundation
import ModelFormats
import Tensors
import Training

/// Resumable checkpoints in a run folder: `state/step-000100/` holds
///
/// - `progress.json`: the trainer's progress (updates done, data cursor, dropout generator, best validation, token
///   counts), the optimizer's step count and the run's total updates;
/// - `trainable.safetensors`: the trainable parameters (F32, Whittle names);
/// - `optimizer.safetensors`: the optimizer state as named tensors (`exp_avg/<name>`, `exp_avg_sq/<name>` or
///   `momentum_buffer/<name>`).
///
/// A checkpoint is written into a hidden temporary folder, synced, then renamed into place, so a crash never leaves
/// a half checkpoint; only the newest `keep` checkpoints are kept.
public enum RunState {
    struct ProgressFile: Codable {
        var progress: TrainerProgress
        var optimizerStep: Int
        var totalSteps: Int
        var whittleVersion: String
    }

    public static func folderName(step: Int) -> String { String(format: "step-%06d", step) }

    /// Writes the trainer's state to `runFolder/state/step-N/` and deletes older checkpoints beyond `keep`.
    @discardableResult
    public static func save(_ trainer: Trainer, runFolder: String, keep: Int, version: String) throws -> String {
        let stateDir = (runFolder as NSString).appendingPathComponent("state")
        try FileManager.default.createDirectory(atPath: stateDir, withIntermediateDirectories: true)
        let name = folderName(step: trainer.progress.step)
        let final = (stateDir as NSString).appendingPathComponent(name)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let progress = ProgressFile(progress: trainer.progress, optimizerStep: trainer.optimizerStep,
                                    totalSteps: trainer.totalSteps, whittleVersion: version)
        try AtomicFile.writeDirectory(at: final) { temp in
            try Data(try encoder.encode(progress)).write(to: URL(fileURLWithPath: (temp as NSString).appendingPathComponent("progress.json")))
            try SafetensorsWriter.write(trainer.trainable, to: (temp as NSString).appendingPathComponent("trainable.safetensors"))
            try SafetensorsWriter.write(trainer.optimizerTensors, to: (temp as NSString).appendingPathComponent("optimizer.safetensors"))
        }
        for old in try checkpoints(runFolder: runFolder).dropLast(max(1, keep)) {
            try? FileManager.default.removeItem(atPath: old.path)
        }
        return final
    }

    /// Checkpoints in `runFolder/state`, oldest first.
    public static func checkpoints(runFolder: String) throws -> [(step: Int, path: String)] {
        let stateDir = (runFolder as NSString).appendingPathComponent("state")
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: stateDir) else { return [] }
        return names.compactMap { n -> (Int, String)? in
            guard n.hasPrefix("step-"), let s = Int(n.dropFirst(5)) else { return nil }
            return (s, (stateDir as NSString).appendingPathComponent(n))
        }.sorted { $0.0 < $1.0 }
    }

    /// Restores `trainer` from the newest checkpoint of `runFolder`; returns its path. Every mismatch is an error
    /// naming the file.
    public static func restoreLatest(_ trainer: inout Trainer, runFolder: String) throws -> String {
        guard let latest = try checkpoints(runFolder: runFolder).last else {
            throw RunError("\(runFolder) has no checkpoint in state/ to resume from")
        }
        let progressPath = (latest.path as NSString).appendingPathComponent("progress.json")
        guard let data = FileManager.default.contents(atPath: progressPath) else { throw RunError("\(progressPath): cannot read") }
        let file: ProgressFile
        do { file = try JSONDecoder().decode(ProgressFile.self, from: data) } catch {
            throw RunError("\(progressPath): not a Whittle progress file (\(error))")
        }
        guard file.totalSteps == trainer.totalSteps else {
            throw RunError("\(progressPath): the checkpoint was made for \(file.totalSteps) updates, this run has \(trainer.totalSteps) "
                           + "(the data or the recipe changed since)")
        }
        func read(_ name: String) throws -> [String: Tensor] {
            let f = try SafetensorsFile(path: (latest.path as NSString).appendingPathComponent(name))
            var out: [String: Tensor] = [:]
            for n in f.names { out[n] = try f.tensor(n) }
            return out
        }
        do {
            try trainer.restore(progress: file.progress, trainable: try read("trainable.safetensors"),
                                optimizerTensors: try read("optimizer.safetensors"), optimizerStep: file.optimizerStep)
        } catch let e as TrainingError {
            throw RunError("\(latest.path): \(e.message)")
        }
        return latest.path
    }
}

/// A run-level problem (folders, checkpoints, resume) with the path it concerns.
public struct RunError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
