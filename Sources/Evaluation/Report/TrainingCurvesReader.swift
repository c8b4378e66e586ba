import Foundation
import Tokenization

/// Reads the curves a report charts from a run folder's metrics.jsonl (written by `whittle train`).
///
/// Each non-blank line is one JSON object with an integer `step`. A line with `loss` is a training update and must
/// also carry `lr`; a line with `valid_loss` is a validation. Other keys (`grad_norm`, `tokens`, `elapsed_s`, …) are
/// ignored, and so are lines with neither loss (other events). A `null` loss (the trainer writes non-finite numbers
/// as null) is read as NaN, which the chart shows as a gap. Anything else that does not fit is an error naming
/// `file:line` and the key.
public enum TrainingCurvesReader {
    public static let fileName = "metrics.jsonl"

    public static func read(runFolder: String) throws -> EvaluationReport.TrainingCurves {
        let path = (runFolder as NSString).appendingPathComponent(fileName)
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ReportError(path: path, "cannot read: \(error.localizedDescription)")
        }
        var curves = EvaluationReport.TrainingCurves(runFolder: runFolder, steps: [], loss: [], learningRate: [],
                                                     validSteps: [], validLoss: [])
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            let lineNumber = index + 1
            let at = "\(path):\(lineNumber)"
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
            let value: JSONValue
            do throws(JSONError) {
                value = try JSONParser.parse(String(line), firstLine: lineNumber)
            } catch {
                throw ReportError(path: at, "column \(error.column): \(error.message)")
            }
            guard case .object = value else {
                throw ReportError(path: at, "expected a JSON object, found \(value.typeDescription)")
            }
            let trainingLoss = try number(value, "loss", at)
            let validLoss = try number(value, "valid_loss", at)
            if trainingLoss == nil && validLoss == nil { continue }
            let step = try integer(value, "step", at)
            if let loss = trainingLoss {
                guard let lr = try number(value, "lr", at) else {
                    throw ReportError(path: at, key: "lr", "missing on a training line (one with `loss`)")
                }
                curves.steps.append(step)
                curves.loss.append(loss)
                curves.learningRate.append(lr)
            }
            if let v = validLoss {
                curves.validSteps.append(step)
                curves.validLoss.append(v)
            }
        }
        return curves
    }

    /// The number under `key`: nil when absent, NaN when null, an error for anything but a number.
    static func number(_ object: JSONValue, _ key: String, _ at: String) throws -> Double? {
        switch object[key] {
        case nil: return nil
        case .null: return .nan
        case .integer(let i): return Double(i)
        case .double(let d): return d
        case let other?: throw ReportError(path: at, key: key, "expected a number, found \(other.typeDescription)")
        }
    }

    static func integer(_ object: JSONValue, _ key: String, _ at: String) throws -> Int {
        switch object[key] {
        case .integer(let i) where i >= 0: return i
        case nil: throw ReportError(path: at, key: key, "missing")
        case let other?: throw ReportError(path: at, key: key, "expected a non-negative integer, found \(describe(other))")
        }
    }

    static func describe(_ v: JSONValue) -> String {
        switch v {
        case .integer(let i): "\(i)"
        case .double(let d): "\(d)"
        default: v.typeDescription
        }
    }
}
