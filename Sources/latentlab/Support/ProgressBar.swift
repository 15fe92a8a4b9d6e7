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
    /// With `resumed`: the first update's count and time, which the rate is measured from.
    private let resumed: Bool
    private var baseline: (done: Int, time: Date)?

    /// - Parameter resumed: the count continues work done before this process (a resumed
    ///   training run reports its total steps or seconds), so the rate and ETA are measured from
    ///   the first update on rather than from zero at this bar's start.
    init(total: Int, label: String, plainInterval: TimeInterval = 10, resumed: Bool = false) {
        self.total = max(total, 1)
        self.label = label
        self.plainInterval = plainInterval
        self.resumed = resumed
    }

    /// Reports that `done` of `total` units are finished; `detail` is appended (e.g. the loss).
    /// Redraws at most every 0.1 s on a terminal, every `plainInterval` otherwise; the final
    /// state (`done >= total`) is always shown, once.
    func update(_ done: Int, detail: String = "") {
        guard !finished else { return }
        let now = Date()
        if resumed && baseline == nil { baseline = (done, now) }
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
        // Units per second of this process's own work.
        let (fromDone, fromTime) = baseline.map { (min($0.done, shown), $0.time) } ?? (0, start)
        let rate = Double(shown - fromDone) / max(now.timeIntervalSince(fromTime), 1e-9)
        let known = shown > fromDone || (isLast && shown > 0)
        let eta = known && rate > 0 ? Double(total - shown) / rate : 0
        let stats = "\(shown)/\(total) \(detail.isEmpty ? "" : detail + " ")elapsed \(Self.clock(elapsed)) ETA \(known ? Self.clock(eta) : "?")"
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
