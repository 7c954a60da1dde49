import ArgumentParser
import Foundation
import KuraRepository
import KuraStore

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: [.customShort("r"), .long], help: ArgumentHelp("Repository folder (default: $KURA_REPOSITORY, else ~/.local/share/kura/repo).", valueName: "path"))
    var repo: String?

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

    /// The repository location: --repo, else $KURA_REPOSITORY, else the per-user default.
    var repositoryLocation: String {
        if let repo { return repo }
        if let env = ProcessInfo.processInfo.environment["KURA_REPOSITORY"], !env.isEmpty { return env }
        let home = ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()
        return home + "/.local/share/kura/repo"
    }

    func store(create: Bool = false) throws -> any ObjectStore {
        let location = repositoryLocation
        if location.hasPrefix("s3:") || location.contains("://") {
            throw KuraError(.invalidArgument, "remote repositories (\(location)) are not supported by this version", hint: "use a local folder")
        }
        do { return try LocalStore(path: location, create: create) } catch let e as ObjectStoreError where e.code == .notFound {
            throw KuraError(.noRepository, "there is no kura repository at \(location)",
                            hint: "create one with `kura init`, or point --repo / KURA_REPOSITORY at an existing one")
        } catch {
            throw KuraError(.io, "cannot open \(location): \(error)")
        }
    }

    /// The password, from (in order) --password-file, $KURA_PASSWORD_FILE, $KURA_PASSWORD, or a prompt
    /// on the terminal. Never from the command line itself.
    func password(confirm: Bool = false) throws -> [UInt8] {
        let env = ProcessInfo.processInfo.environment
        if let file = passwordFile ?? env["KURA_PASSWORD_FILE"].flatMap({ $0.isEmpty ? nil : $0 }) {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw KuraError(.invalidArgument, "cannot read the password file \(file)", hint: "check the path and its permissions (it should be mode 0600)")
            }
            let line = Array(data).split(separator: 10, maxSplits: 1, omittingEmptySubsequences: false).first.map(Array.init) ?? []
            let pw = line.last == 13 ? Array(line.dropLast()) : line
            guard !pw.isEmpty else { throw KuraError(.invalidArgument, "the password file \(file) is empty") }
            return pw
        }
        if let pw = env["KURA_PASSWORD"], !pw.isEmpty { return Array(pw.utf8) }
        guard isatty(0) == 1 else {
            throw KuraError(.invalidArgument, "no password given",
                            hint: "use --password-file FILE, or set KURA_PASSWORD_FILE or KURA_PASSWORD (the password is never taken from the command line)")
        }
        let pw = Terminal.readSecret(prompt: "enter password for repository: ")
        if confirm {
            let again = Terminal.readSecret(prompt: "enter the password again: ")
            guard pw == again else { throw KuraError(.invalidArgument, "the passwords do not match") }
        }
        guard !pw.isEmpty else { throw KuraError(.invalidArgument, "the password is empty") }
        return pw
    }

    /// Opens the repository with the password.
    func openRepository() async throws -> Repository {
        let store = try store()
        _ = try await Repository.readConfig(store: store)  // "no repository" and "newer format" before asking for a password
        let repo = try await Repository.open(store: store, password: try password(), cacheDirectory: cacheDirectory)
        repo.setWarningHandler { Terminal.printError("kura: warning: \($0)") }
        if noLock { repo.disableLocking() }
        return repo
    }
}
