import Foundation
import Logging

/// Log lines on stderr for one run of kryoform: what `--log-level` asks for, and on a terminal
/// also the lines marked as progress (`progress: true`, such as a request being retried), so a
/// long wait is never silent.
struct CommandLogHandler: LogHandler {
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]
    /// The level `--log-level` chose; progress lines below it still show on a terminal.
    let chosen: Logger.Level
    let showsProgress: Bool

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String,
             file: String, function: String, line: UInt) {
        let isProgress = metadata?["progress"] == "true"
        guard level >= chosen || (isProgress && showsProgress) else { return }
        let prefix = level >= .warning ? "kryoform: \(level): " : "kryoform: "
        FileHandle.standardError.write(Data((prefix + message.description + "\n").utf8))
    }

    /// Routes every logger of the process here, once, at `level`.
    static func bootstrap(level: Logger.Level) {
        let progress = isatty(STDERR_FILENO) == 1
        let lowest = progress ? min(level, .info) : level
        LoggingSystem.bootstrap { _ in CommandLogHandler(logLevel: lowest, chosen: level, showsProgress: progress) }
    }
}

extension GlobalOptions.LogLevel {
    /// The same level in swift-log's terms.
    var loggerLevel: Logger.Level {
        switch self {
        case .trace: return .trace
        case .debug: return .debug
        case .info: return .info
        case .warning: return .warning
        case .error: return .error
        }
    }
}
