import ArgumentParser
import Foundation
import KuraProcess
import KuraRepository

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve a read-only dashboard and Prometheus metrics over HTTP.",
        discussion: """
        Pages: every source of the configuration (last run and its age, next run, late or failed highlighted, snapshots, stored bytes, bytes added per day, dedup ratio, last check, last verified restore; the repository's free disk space and days until full), one source's snapshot calendar, and a snapshot browser that downloads files (streamed from the repository, no mount) and folders (.tar.gz). JSON for all of it under /api/, Prometheus metrics at /metrics (docs/metrics.md). Nothing can be changed through it: any method but GET gets 405.

        It listens on 127.0.0.1:8877 unless --listen says otherwise. Any address beyond loopback needs --token-file (a file of mode 0600 holding a token of at least 16 characters; requests carry `Authorization: Bearer TOKEN`, or a browser logs in with any user name and the token as password), and TLS from a reverse proxy in front (nginx or Caddy: docs/dashboard.md). Without a token it refuses to start on such an address (exit 64).

        The repository password comes as for every command (--password-file, the configuration, $KURA_PASSWORD_FILE, $KURA_PASSWORD; no prompt). The web server is the separate program kura-serve, installed next to kura (`make serve`, `make install`), so that building kura alone stays quick; this command runs it.
          kura serve
          kura serve --listen 0.0.0.0:8877 --token-file /etc/kura/serve.token
          curl -s localhost:8877/metrics
          curl -s localhost:8877/api/overview | jq '.sources[] | {name: .status.name, late}'

        Exit codes: 64 refused to start (address without a token, bad --listen), 1 the server failed.
        """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var options: ConfigOptions
    @Option(name: .long, help: ArgumentHelp("Address to listen on: HOST:PORT, :PORT or [IPv6]:PORT (default 127.0.0.1:8877).", valueName: "address"))
    var listen = "127.0.0.1:8877"
    @Option(name: .long, help: ArgumentHelp("File holding the bearer token (mode 0600); required on any address but loopback.", valueName: "file"))
    var tokenFile: String?
    @Option(name: .long, help: ArgumentHelp("Seconds the figures are reused before the state and the repository are read again (default 30).", valueName: "seconds"))
    var refresh: Double = 30

    func run() async throws {
        try await runReportingErrors(json: global.json) {
            guard let program = ProcessImage.sibling(named: "kura-serve") else {
                throw KuraError(.notFound, "kura-serve, the web server of `kura serve`, is not installed next to this kura",
                                hint: "build it with `make serve` (or `swift build -c release --product kura-serve`), or install both with `make install`")
            }
            var args = ["--config", options.path, "--listen", listen, "--refresh", String(refresh)]
            if let r = global.repo { args += ["--repo", r] }
            if let p = global.passwordFile { args += ["--password-file", p] }
            if let e = global.s3Endpoint { args += ["--s3-endpoint", e] }
            if let t = tokenFile { args += ["--token-file", t] }
            if !global.noCache, let c = global.cacheDirectory { args += ["--cache-dir", c] }
            try ProcessImage.replace(with: program, arguments: args)
        }
    }
}
