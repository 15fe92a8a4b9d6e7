import Foundation

/// Progress display for long work: a redrawn bar with rate and ETA when stderr is a terminal,
/// plain periodic lines otherwise (logs of batch jobs stay readable).
final class ProgressBar {
    private let total: Int
    private let label: String
    private let start = Date()
    private var lastDraw = Date.distantPast
    private let isTTY = isatty(STDERR_FILENO) != 0
    /// Seconds between plain lines when not on a terminal.
    private let plainInterval: TimeInterval
    private var finished = false

    init(total: Int, label: String, plainInterval: TimeInterval = 10) {
        self.total = max(total, 1)
        self.label = label
        self.plainInterval = plainInterval
    }

    /// Reports that `done` of `total` units are finished; `detail` is appended (e.g. the loss).
    /// Redraws at most every 0.1 s on a terminal, every `plainInterval` otherwise; the final
    /// state (`done >= total`) is always shown, once.
    func update(_ done: Int, detail: String = "") {
        guard !finished else { return }
        let now = Date()
        let elapsed = now.timeIntervalSince(start)
        let isLast = done >= total
        if isTTY {
            guard isLast || now.timeIntervalSince(lastDraw) >= 0.1 else { return }
        } else {
            guard isLast || now.timeIntervalSince(lastDraw) >= plainInterval else { return }
        }
        lastDraw = now
        let shown = min(max(done, 0), total)
        let frac = Double(shown) / Double(total)
        let eta = shown > 0 ? elapsed / Double(shown) * Double(total - shown) : 0
        let stats = "\(shown)/\(total) \(detail.isEmpty ? "" : detail + " ")elapsed \(Self.clock(elapsed)) ETA \(shown > 0 ? Self.clock(eta) : "?")"
        if isLast { finished = true }
        if isTTY {
            let width = 28
            let filled = Int(frac * Double(width))
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            FileHandle.standardError.write("\r\u{1B}[K\(label) \(bar) \(String(format: "%3.0f%%", frac * 100)) \(stats)\(isLast ? "\n" : "")".data(using: .utf8)!)
        } else {
            FileHandle.standardError.write("\(label): \(String(format: "%.0f%%", frac * 100)) \(stats)\n".data(using: .utf8)!)
        }
    }

    /// `m:ss` or `h:mm:ss`; negative or non-finite durations show as 0:00.
    static func clock(_ s: TimeInterval) -> String {
        let t = s.isFinite && s > 0 ? Int(min(s, 1e9).rounded()) : 0
        return t >= 3600 ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60) : String(format: "%d:%02d", t / 60, t % 60)
    }
}

/// Writes one line to standard error.
func printError(_ message: String) {
    FileHandle.standardError.write((message + "\n").data(using: .utf8)!)
}
