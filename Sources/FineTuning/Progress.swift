import Foundation
import Synchronization
import Training

/// What `whittle train` prints while it runs: a live line on a terminal (redrawn in place), plain periodic lines
/// otherwise (logs, CI, pipes).
public struct ProgressPrinter {
    public let live: Bool
    public let every: Int
    let write: (String) -> Void
    var lastLength = 0

    public init(live: Bool, every: Int, write: @escaping (String) -> Void) {
        self.live = live
        self.every = max(1, every)
        self.write = write
    }

    /// One update's line: step/total, loss, lr, tokens/s, elapsed and ETA.
    public static func line(_ m: StepMetrics, total: Int, tokensPerSecond: Double, elapsed: Double) -> String {
        let remaining = tokensPerSecond > 0 && m.step > 0 ? elapsed / Double(m.step) * Double(total - m.step) : 0
        return "step \(m.step)/\(total)  loss \(String(format: "%.4f", m.loss))  lr \(String(format: "%.2e", m.learningRate))  "
            + "grad \(String(format: "%.3f", m.gradNorm))  \(String(format: "%.0f", tokensPerSecond)) tok/s  "
            + "elapsed \(duration(elapsed))  ETA \(duration(remaining))"
    }

    public mutating func update(_ m: StepMetrics, total: Int, tokensPerSecond: Double, elapsed: Double) {
        let text = Self.line(m, total: total, tokensPerSecond: tokensPerSecond, elapsed: elapsed)
        if live {
            write("\r" + text + "\u{1B}[K")
            lastLength = text.count
        } else if m.step % every == 0 || m.step == total {
            write(text + "\n")
        }
    }

    /// A message on its own line (ends the live line first).
    public mutating func message(_ text: String) {
        if live && lastLength > 0 { write("\n"); lastLength = 0 }
        write(text + "\n")
    }

    public static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        let s = Int(seconds.rounded())
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m\(String(format: "%02d", s % 60))s" }
        return "\(s / 3600)h\(String(format: "%02d", s / 60 % 60))m"
    }
}

/// SIGINT / SIGTERM during training: the first signal asks the loop to save a resumable checkpoint and stop after
/// the current update; a second one ends the process at once (the default action).
public enum Interrupt {
    static let requested = Atomic<Int32>(0)

    /// Installs the handlers (idempotent).
    public static func install() {
        for sig in [SIGINT, SIGTERM] {
            Glibc.signal(sig) { s in
                Interrupt.requested.store(s, ordering: .relaxed)
                Glibc.signal(s, SIG_DFL)
            }
        }
    }

    /// The signal received, if any.
    public static var received: Int32? {
        let s = requested.load(ordering: .relaxed)
        return s == 0 ? nil : s
    }

    /// Restores the default handlers.
    public static func uninstall() {
        Glibc.signal(SIGINT, SIG_DFL)
        Glibc.signal(SIGTERM, SIG_DFL)
        requested.store(0, ordering: .relaxed)
    }
}
