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
        let chosen = channels.filter { ch in (ch.when == .always || failed) && reports.contains { ch.accepts(source: $0.source) } }
        guard !chosen.isEmpty else { return [] }
        return await send(ReportRenderer.render(reports, host: host), to: chosen)
    }

    /// Tells every channel that wants `source` that its backup starts (healthchecks' `/start` ping).
    /// Never throws: a channel that cannot be reached is logged and returned, and the backup goes on.
    public func sourceStarted(_ source: String, host: String) async -> [(channel: String, error: String?)] {
        let chosen = channels.filter { $0.accepts(source: source) }
        return await withTaskGroup(of: (channel: String, error: String?).self) { group in
            for channel in chosen {
                group.addTask {
                    do { try await channel.sourceStarted(source, host: host); return (channel.name, nil) } catch {
                        let text = (error as? KuraError)?.description ?? "\(error)"
                        Logger(label: "kura.notify").warning("start signal not sent", metadata: ["channel": "\(channel.name)", "source": "\(source)", "error": "\(text)"])
                        return (channel.name, text)
                    }
                }
            }
            var out: [(channel: String, error: String?)] = []
            for await r in group { out.append(r) }
            return out
        }
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
