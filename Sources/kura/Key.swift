import ArgumentParser
import Foundation
import KuraRepository

struct Key: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage the passwords (key files) that open the repository.",
        discussion: "Each password has its own key file wrapping the same master key, so adding or removing a password never re-encrypts data. New passwords are read from --new-password-file, $KURA_NEW_PASSWORD_FILE or a prompt.",
        subcommands: [List.self, Add.self, Remove.self, Passwd.self])

    static func newPassword(_ file: String?) throws -> [UInt8] {
        var g = try GlobalOptions.parse([])
        g.passwordFile = file ?? ProcessInfo.processInfo.environment["KURA_NEW_PASSWORD_FILE"]
        if g.passwordFile == nil, isatty(0) != 1 {
            throw KuraError(.invalidArgument, "no new password given", hint: "use --new-password-file FILE or KURA_NEW_PASSWORD_FILE")
        }
        if g.passwordFile == nil { return try Terminal.readNewPassword() }
        return try g.password()
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List key files.")
        @OptionGroup var global: GlobalOptions
        func run() async throws {
            try await runReportingErrors(json: global.json) {
                let keys = try await global.openRepository().listKeys()
                if global.json { try Terminal.json(keys); return 0 }
                for k in keys { print("\(k.current ? "*" : " ") \(k.id.prefix(8))  \(k.created.prefix(19))  \(k.username)@\(k.host)  \(k.kdf) N=\(k.n) r=\(k.r) p=\(k.p)") }
                return 0
            }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a password.", discussion: "Refuses a password that already opens a key (each key is tried: one scrypt derivation, about 0.1 s, per key).")
        @OptionGroup var global: GlobalOptions
        @Option(name: .long, help: ArgumentHelp("Read the new password from this file.", valueName: "file")) var newPasswordFile: String?
        func run() async throws {
            try await runReportingErrors(json: global.json) {
                let repo = try await global.openRepository()
                let id = try await repo.addKey(password: try Key.newPassword(newPasswordFile))
                if global.json { try Terminal.json(["added": id.hex]) } else if !global.quiet { print("added key \(id.short)") }
                return 0
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a key (not the one in use, not the last).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Key id prefix (see `kura key list`).") var id: String
        func run() async throws {
            try await runReportingErrors(json: global.json) {
                let removed = try await global.openRepository().removeKey(id)
                if global.json { try Terminal.json(["removed": removed]) } else if !global.quiet { print("removed key \(removed.prefix(8))") }
                return 0
            }
        }
    }

    struct Passwd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change the password in use (adds a new key, then removes every key the old password opens).", discussion: "Afterwards the old password opens nothing: besides the key in use, any other key made with the same password is removed too, and the count is printed. Finding them tries the old password against every key (one scrypt derivation, about 0.1 s, per key).")
        @OptionGroup var global: GlobalOptions
        @Option(name: .long, help: ArgumentHelp("Read the new password from this file.", valueName: "file")) var newPasswordFile: String?
        func run() async throws {
            try await runReportingErrors(json: global.json) {
                let store = try global.store()
                _ = try await Repository.readConfig(store: store)  // "no repository" before asking for a password
                let oldPassword = try global.password()
                let repo = try await global.openRepository(password: oldPassword)
                let change = try await repo.changePassword(from: oldPassword, to: try Key.newPassword(newPasswordFile))
                if global.json { try Terminal.json(change); return 0 }
                if !global.quiet {
                    let others = change.removed.count - 1
                    print("password changed (key \(change.key.prefix(8))); removed \(change.removed.count) key\(change.removed.count == 1 ? "" : "s") that opened with the old password"
                          + (others > 0 ? " (the one in use and \(others) more made with the same password)" : ""))
                }
                return 0
            }
        }
    }
}
