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
    func update(_ done: Int, detail: String = "") {
        let now = Date()
        let elapsed = now.timeIntervalSince(start)
        let isLast = done >= total
        if isTTY {
            guard isLast || now.timeIntervalSince(lastDraw) >= 0.1 else { return }
        } else {
            guard isLast || now.timeIntervalSince(lastDraw) >= plainInterval else { return }
        }
        lastDraw = now
        let frac = Double(min(done, total)) / Double(total)
        let eta = done > 0 ? elapsed / Double(done) * Double(total - done) : 0
        let stats = "\(done)/\(total) \(detail.isEmpty ? "" : detail + " ")elapsed \(Self.clock(elapsed)) ETA \(Self.clock(eta))"
        if isTTY {
            let width = 28
            let filled = Int(frac * Double(width))
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            FileHandle.standardError.write("\r\u{1B}[K\(label) \(bar) \(String(format: "%3.0f%%", frac * 100)) \(stats)".data(using: .utf8)!)
            if isLast && !finished { finished = true; FileHandle.standardError.write("\n".data(using: .utf8)!) }
        } else {
            FileHandle.standardError.write("\(label): \(String(format: "%.0f%%", frac * 100)) \(stats)\n".data(using: .utf8)!)
        }
    }

    static func clock(_ s: TimeInterval) -> String {
        let t = Int(s.rounded())
        return t >= 3600 ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60) : String(format: "%d:%02d", t / 60, t % 60)
    }
}

/// Writes one line to standard error.
func printError(_ message: String) {
    FileHandle.standardError.write((message + "\n").data(using: .utf8)!)
}
