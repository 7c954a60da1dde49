import ArgumentParser
import Foundation
import KuraOperations
import KuraRepository
import KuraServer
import Logging

/// The `kura-serve` program: the web server behind `kura serve`, a product of its own so that building
/// `kura` never compiles SwiftNIO. `kura serve` parses the options (and documents them) and execs this
/// with the same ones; it can be run directly too.
@main
struct KuraServe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kura-serve",
        abstract: "The read-only kura dashboard and Prometheus metrics over HTTP (what `kura serve` runs).",
        discussion: "See `kura serve --help` and docs/dashboard.md.")

    @Option(name: .long, help: ArgumentHelp("The configuration file (default: $KURA_CONFIG, else /etc/kura/kura.toml).", valueName: "file")) var config: String?
    @Option(name: .long, help: ArgumentHelp("Repository location (default: the configuration's).", valueName: "location")) var repo: String?
    @Option(name: .long, help: ArgumentHelp("Password file (default: the configuration's, else $KURA_PASSWORD_FILE, $KURA_PASSWORD).", valueName: "file")) var passwordFile: String?
    @Option(name: .long, help: ArgumentHelp("Local index cache folder.", valueName: "dir")) var cacheDir: String?
    @Option(name: .customLong("s3-endpoint"), help: ArgumentHelp("S3 endpoint for s3://BUCKET locations (also $KURA_S3_ENDPOINT).", valueName: "url")) var s3Endpoint: String?
    @Option(name: .long, help: ArgumentHelp("Address to listen on: HOST:PORT (default 127.0.0.1:8877).", valueName: "address")) var listen = "127.0.0.1:8877"
    @Option(name: .long, help: ArgumentHelp("File holding the bearer token (mode 0600); required beyond loopback.", valueName: "file")) var tokenFile: String?
    @Option(name: .long, help: ArgumentHelp("Seconds figures are reused before they are read again (default 30).", valueName: "seconds")) var refresh: Double = 30

    func run() async throws {
        do {
            var options = DashboardOptions()
            (options.host, options.port) = try DashboardOptions.parseListen(listen)
            if let tokenFile { options.token = try DashboardOptions.readToken(tokenFile) }
            guard refresh >= 0 else { throw KuraError(.usage, "--refresh must be 0 or more seconds") }
            options.refreshSeconds = refresh
            options = try options.validated()
            let path = ConfigurationParser.defaultPath(explicit: config)
            let configuration: Configuration
            do { configuration = try ConfigurationParser.load(path: path) } catch let e as ConfigurationError {
                throw KuraError(.invalidArgument, e.description, hint: "`kura config check --config \(path)` checks the whole configuration")
            }
            var env = OperationsEnvironment()
            env.repositoryOverride = repo
            env.passwordFileOverride = passwordFile
            env.cacheDirectory = configuration.cacheDirectory ?? cacheDir
            if let s3Endpoint { env.variables["KURA_S3_ENDPOINT"] = s3Endpoint }
            let data = DashboardData(runner: Runner(config: configuration, environment: env), refreshSeconds: options.refreshSeconds)
            var logger = Logger(label: "kura.serve")
            logger.logLevel = .notice
            if let e = await {
                do { _ = try await data.openRepository(); return nil as String? } catch { return "\(error)" }
            }() {
                FileHandle.standardError.write(Data("kura serve: warning: the repository cannot be opened yet (the pages say why; retried every \(Int(refresh)) s): \(e)\n".utf8))
            }
            let server = DashboardServer(data: data, options: options)
            let host = options.host.contains(":") ? "[\(options.host)]" : options.host
            let note = options.token == nil ? "" : " (bearer token required)"
            let app = server.application(logger: logger) { port in
                FileHandle.standardOutput.write(Data("kura serve: listening on http://\(host):\(port)/\(note)\n".utf8))
            }
            try await app.runService()
        } catch {
            let e = KuraError.from(error)
            FileHandle.standardError.write(Data("kura serve: \(e.message)\n\(e.hint.map { "  hint: \($0)\n" } ?? "")".utf8))
            throw ExitCode(e.exitCode)
        }
    }
}
