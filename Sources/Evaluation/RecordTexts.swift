import TrainingData

/// `{"text": …}` records of a data file, each with its place, for scoring.
public enum RecordTexts {
    public static func read(_ path: String) throws -> [(text: String, place: String)] {
        try RecordConverter.readExamples(path: path, options: RecordOptions(format: .text)).map { e in
            guard case .text(let t) = e.example else { return ("", "\(e.file):\(e.line)") }
            return (t, "\(e.file):\(e.line)")
        }
    }
}
