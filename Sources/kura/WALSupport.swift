import ArgumentParser
import Foundation
import KuraOperations
import KuraPostgres
import KuraRepository

/// Options shared by the WAL commands: where the repository and the spool come from (the
/// configuration file with --config, else --repo and the password options).
struct WALOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Take the repository, password and WAL spool from this configuration file (kura.toml).", valueName: "file"))
    var config: String?
    @Option(name: .long, help: ArgumentHelp("Local spool folder for WAL while the repository is unreachable (overrides wal-spool).", valueName: "dir"))
    var spool: String?
    @Option(name: .long, help: ArgumentHelp("Spool limit, e.g. 2GB (overrides wal-spool-max; default 2GB).", valueName: "size"))
    var spoolMax: String?

    func load() throws -> Configuration? {
        guard let config else { return nil }
        return try ConfigOptions(config: config).load()
    }

    /// The archive: repository opened lazily (so an unreachable one can be absorbed by the spool).
    func archive(_ global: GlobalOptions, warn: @escaping @Sendable (String) -> Void) throws -> WALArchive {
        let config = try load()
        var spoolFolder = config?.walSpool
        var spoolMax = config?.walSpoolMaxBytes ?? (2 << 30)
        if let spool { spoolFolder = spool }
        if let n = parsedSpoolMax() { spoolMax = n }
        let spool = spoolFolder.map { WALSpool(folder: $0, maxBytes: spoolMax) }
        let options = ConfigOptions(config: self.config)
        return WALArchive(spool: spool, warn: warn) {
            if let config { return try await Resources.openRepository(config, options.environment(config, global)) }
            return try await global.openRepository()
        }
    }

    private func parsedSpoolMax() -> UInt64? {
        guard let text = self.spoolMax else { return nil }
        return ConfigurationParser.parseBytes(text)
    }
}

extension ConfigOptions {
    init(config: String?) {
        self.init()
        self.config = config
    }
}
