import Foundation
import KuraCore
import Logging

/// Sends a run's reports to the configured channels, all at once, and tells which ones failed.
public struct Notifier: Sendable {
    /// The configured channels, in configuration order.
    public let channels: [any NotificationChannel]
    /// Made when used, so that it follows ``KuraLogging/bootstrap(level:format:logFile:maxBytes:keep:standardError:)``
    /// even for a notifier created before it.
    private var logger: Logger { Logger(label: "kura.notify") }

    /// A notifier for `channels`.
    public init(channels: [any NotificationChannel]) {
        self.channels = channels
    }

    /// Sends to every channel whose `when` matches (failure → only when some report failed); never throws:
    /// returns per-channel errors so one broken channel does not hide the others.
    ///
    /// The result lists the channels that were tried, in configuration order, with `error` nil for a
    /// delivered report. An empty `reports` sends nothing (a `--due` run with nothing due stays quiet).
    public func deliver(_ reports: [RunReport], host: String) async -> [(channel: String, error: String?)] {
        guard !reports.isEmpty else { return [] }
        let failed = reports.contains { !$0.success }
        let chosen = channels.filter { $0.when == .always || failed }
        guard !chosen.isEmpty else { return [] }
        return await send(ReportRenderer.render(reports, host: host), to: chosen)
    }

    /// For `kura config check`: sends a clearly marked test message to every channel.
    public func test(host: String) async -> [(channel: String, error: String?)] {
        await send(ReportRenderer.renderTest(host: host), to: channels)
    }

    /// Sends `message` to `channels` concurrently and logs each outcome.
    public func send(_ message: ReportMessage, to channels: [any NotificationChannel]) async -> [(channel: String, error: String?)] {
        let outcomes = await withTaskGroup(of: (Int, String?).self) { group in
            for (i, channel) in channels.enumerated() {
                group.addTask {
                    do {
                        try await channel.send(message)
                        return (i, nil)
                    } catch let error as KuraError {
                        return (i, error.description)
                    } catch {
                        return (i, "\(error)")
                    }
                }
            }
            var results = [String?](repeating: nil, count: channels.count)
            for await (i, error) in group { results[i] = error }
            return results
        }
        var results: [(channel: String, error: String?)] = []
        for (channel, error) in zip(channels, outcomes) {
            if let error {
                logger.error("report not sent", metadata: ["channel": "\(channel.name)", "error": "\(error)", "subject": "\(message.subject)"])
            } else {
                logger.info("report sent", metadata: ["channel": "\(channel.name)", "subject": "\(message.subject)"])
            }
            results.append((channel.name, error))
        }
        return results
    }
}
