import ArgumentParser
import Foundation
import KuraRepository
import KuraStore

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: [.customShort("r"), .long], help: ArgumentHelp("Repository folder (default: $KURA_REPOSITORY, else ~/.local/share/kura/repo).", valueName: "path"))
    var repo: String?

    @Option(name: .customLong("s3-endpoint"), help: ArgumentHelp("S3 endpoint for --repo s3://BUCKET[/PREFIX] (virtual-host addressing), e.g. https://s3.eu-central-1.amazonaws.com. Also $KURA_S3_ENDPOINT.", valueName: "url"))
    var s3Endpoint: String?

    @Option(name: .long, help: ArgumentHelp("Read the password from this file (first line). Also $KURA_PASSWORD_FILE, $KURA_PASSWORD.", valueName: "file"))
    var passwordFile: String?

    @Flag(name: .long, help: "Print machine-readable JSON on stdout.")
    var json = false

    @Flag(name: [.customShort("q"), .long], help: "Print nothing but errors (and the requested data).")
    var quiet = false

    @Flag(name: .long, help: "Take no repository lock (read-only commands on a read-only copy: check, forget --dry-run, gc --dry-run, verify-restore). Without a lock a gc running at the same time may make check report false damage; commands that write refuse.")
    var noLock = false

    @Flag(name: .long, help: "Do not use or write the local index cache ($KURA_CACHE_DIR, else $XDG_CACHE_HOME/kura, else ~/.cache/kura).")
    var noCache = false

    /// The local cache folder, unless --no-cache.
    var cacheDirectory: String? {
        if noCache { return nil }
        let env = ProcessInfo.processInfo.environment
        if let dir = env["KURA_CACHE_DIR"], !dir.isEmpty { return dir }
        if let xdg = env["XDG_CACHE_HOME"], !xdg.isEmpty { return xdg + "/kura" }
        return (env["HOME"] ?? NSHomeDirectory()) + "/.cache/kura"
    }

    /// S3 settings from the command line and the environment (credentials are read by the store itself).
    var s3Options: S3Options {
        let env = ProcessInfo.processInfo.environment["KURA_S3_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 }
        return S3Options(endpoint: s3Endpoint ?? env)
    }

    /// The repository location: --repo, else $KURA_REPOSITORY, else the per-user default.
    var repositoryLocation: String {
        if let repo { return repo }
        if let env = ProcessInfo.processInfo.environment["KURA_REPOSITORY"], !env.isEmpty { return env }
        let home = ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()
        return home + "/.local/share/kura/repo"
    }

    /// The store at the repository location (``StoreFactory``: the one way from a location to a store,
    /// with retries, each reported on stderr, and the store's request limit).
    func store(create: Bool = false) throws -> any ObjectStore {
        let options = StoreOptions(onRetry: { retry in Terminal.printError("kura: warning: \(retry)") }, s3: s3Options)
        do { return try StoreFactory.open(repositoryLocation, create: create, options: options) } catch { throw KuraError.from(error) }
    }

    /// Where the password comes from (``PasswordSource``: --password-file, $KURA_PASSWORD_FILE,
    /// $KURA_PASSWORD, then a prompt if standard input is a terminal). Never from the command line itself.
    func passwordSource(confirm: Bool = false) -> PasswordSource {
        var prompt: (@Sendable () throws -> [UInt8])?
        if isatty(0) == 1 {
            prompt = { @Sendable () throws -> [UInt8] in
                let pw = Terminal.readSecret(prompt: "enter password for repository: ")
                if confirm {
                    let again = Terminal.readSecret(prompt: "enter the password again: ")
                    guard pw == again else { throw KuraError(.invalidArgument, "the passwords do not match") }
                }
                return pw
            }
        }
        return PasswordSource(passwordFile: passwordFile, environment: ProcessInfo.processInfo.environment, prompt: prompt)
    }

    /// The password, by the rule of ``PasswordSource``.
    func password(confirm: Bool = false) throws -> [UInt8] {
        try passwordSource(confirm: confirm).password()
    }

    /// Opens the repository with the password.
    func openRepository() async throws -> Repository {
        try await openRepository(password: nil)
    }

    /// Opens the repository with `password`, or the one ``password(confirm:)`` finds when nil (for
    /// `key passwd`, which needs the old password again to find every key it opens).
    func openRepository(password given: [UInt8]?) async throws -> Repository {
        let store = try store()
        _ = try await Repository.readConfig(store: store)  // "no repository" and "newer format" before asking for a password
        let source = passwordSource()
        let repo = try await Repository.open(store: store, password: try given ?? source.password(), cacheDirectory: cacheDirectory,
                                             keyCache: source.allowsKeyCache)
        repo.setWarningHandler { Terminal.printError("kura: warning: \($0)") }
        if noLock { repo.disableLocking() }
        return repo
    }
}
