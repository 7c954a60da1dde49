import Logging

/// The swift-log handler behind every `Logger` once ``KuraLogging/bootstrap(level:format:logFile:maxBytes:keep:standardError:)``
/// ran: it hands events to a ``LogSink``.
///
/// The level follows the sink (so a later bootstrap changes every logger) unless set on the handler.
/// Metadata is merged as swift-log defines it: handler metadata, then the metadata provider's, then
/// the call's, later winning.
struct KuraLogHandler: LogHandler {
    let label: String
    let sink: LogSink
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?
    private var ownLevel: Logger.Level?

    init(label: String, sink: LogSink, metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.sink = sink
        self.metadataProvider = metadataProvider
    }

    var logLevel: Logger.Level {
        get { ownLevel ?? sink.currentLevel }
        set { ownLevel = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        emit(level: event.level, message: event.message, explicit: event.metadata)
    }

    /// The pre-1.11 entry point, for callers that still use it (it would otherwise be routed through
    /// swift-log's deprecated defaults).
    func log(level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?,
             source: String, file: String, function: String, line: UInt) {
        emit(level: level, message: message, explicit: explicit)
    }

    private func emit(level: Logger.Level, message: Logger.Message, explicit: Logger.Metadata?) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let explicit { merged.merge(explicit) { _, new in new } }
        sink.emit(level: level, label: label, message: message.description, metadata: merged)
    }
}
