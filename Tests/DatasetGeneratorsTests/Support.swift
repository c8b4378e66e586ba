import Foundation
import Tokenization
@testable import DatasetGenerators

/// The repository root, found from this file's path (Tests/DatasetGeneratorsTests/Support.swift).
let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

func committedPath(_ name: String, _ split: Split) -> String { "\(repoRoot)/Datasets/\(name)/\(split.rawValue).jsonl" }

/// The committed file's lines (without the final newline).
func committedLines(_ name: String, _ split: Split) throws -> [String] {
    let text = try String(contentsOfFile: committedPath(name, split), encoding: .utf8)
    var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    if lines.last == "" { lines.removeLast() }
    return lines
}

/// Words of a text: maximal runs of letters, digits, apostrophes and hyphens.
func words(_ s: String) -> [String] {
    s.split(whereSeparator: { !($0.isLetter || $0.isNumber || $0 == "'" || $0 == "-") }).map(String.init)
}

func parse(_ line: String) throws -> JSONValue { try JSONParser.parse(line) }
