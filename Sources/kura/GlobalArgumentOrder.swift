import ArgumentParser

/// restic users type the repository before the command (`kura -r /srv/repo snapshots`). The global
/// options live on each command (``GlobalOptions``), so those given before the command are moved
/// behind it — behind the last subcommand name (`kura -r R key add` → `kura key add -r R`).
enum GlobalArgumentOrder {
    /// Global options that take a value, and global flags (see ``GlobalOptions``).
    static let withValue: Set<String> = ["-r", "--repo", "--password-file"]
    static let flags: Set<String> = ["--json", "-q", "--quiet", "--no-cache", "--no-lock"]

    static func reorder(_ arguments: [String], root: any ParsableCommand.Type) -> [String] {
        var leading: [String] = []
        var i = 0
        while i < arguments.count {
            let a = arguments[i]
            if withValue.contains(a), i + 1 < arguments.count { leading += [a, arguments[i + 1]]; i += 2; continue }
            if let eq = a.firstIndex(of: "="), withValue.contains(String(a[..<eq])) { leading.append(a); i += 1; continue }
            if flags.contains(a) { leading.append(a); i += 1; continue }
            break
        }
        guard !leading.isEmpty, i < arguments.count else { return arguments }
        // Walk down the subcommand names that follow.
        var command: any ParsableCommand.Type = root
        var names: [String] = []
        while i < arguments.count,
              let sub = command.configuration.subcommands.first(where: { $0._commandName == arguments[i] || $0.configuration.aliases.contains(arguments[i]) }) {
            names.append(arguments[i])
            command = sub
            i += 1
        }
        guard !names.isEmpty else { return arguments }
        return names + leading + Array(arguments[i...])
    }
}
