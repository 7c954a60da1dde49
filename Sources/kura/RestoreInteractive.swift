import Foundation
import KuraOperations
import KuraRepository

/// `kura restore` with no arguments on a terminal: opens what the wizard needs, runs its questions
/// (``RestoreWizard`` in KuraOperations) and prints what ``RestoreExecutor`` did.
struct RestoreInteractive {
    let global: GlobalOptions
    let options: ConfigOptions

    func run() async throws -> Int32 {
        // The configuration when there is one (an explicit --config must exist); else the snapshots.
        var config: Configuration?
        if options.config != nil || ProcessInfo.processInfo.environment["KURA_CONFIG"].map({ !$0.isEmpty }) == true
            || FileManager.default.fileExists(atPath: options.path) {
            config = try options.load()
        }
        let repo: Repository
        if let config, global.repo == nil {
            repo = try await Resources.openRepository(config, options.environment(config, global))
        } else {
            repo = try await global.openRepository()
        }
        let state = (try? StateStore(directory: StateStore.directory(for: config ?? Configuration())).load()) ?? RunState()
        let io = StandardTerminal()
        var wizard = RestoreWizard(repository: repo, configuration: config, state: state, io: io,
                                   host: config.map(Resources.host) ?? Host.name)
        wizard.repositoryArgument = global.repo
        let plans = try await wizard.ask()
        let executor = RestoreExecutor(repository: repo, configuration: config, host: wizard.host)
        var failed = false
        for plan in plans {
            io.write("\n")
            let outcome = try await executor.run(plan) { io.progress($0) }
            io.progress("")
            for w in outcome.warnings { io.write("warning: \(w)\n") }
            for e in outcome.errors { io.write("error: \(e)\n"); failed = true }
            if let id = outcome.safetySnapshot { io.write("safety snapshot \(id) saved first (tag \(RestorePlan.safetyTag))\n") }
            io.write("\(outcome.summary)\n")
            io.write("took \(String(format: "%.1f", outcome.seconds)) s\n")
            io.write("check it: \(outcome.checkHint)\n")
            if let undo = outcome.undoHint { io.write("\(undo)\n") }
        }
        return failed ? 1 : 0
    }
}

/// The wizard's terminal: standard input and output, one line at a time; progress on one line
/// overwritten with a carriage return (plain text otherwise, no colour, no cursor addressing).
final class StandardTerminal: WizardTerminal, @unchecked Sendable {
    private let lock = NSLock()
    private var progressShown = false
    private var lastProgress = Date.distantPast

    func write(_ text: String) {
        lock.withLock {
            if progressShown { FileHandle.standardOutput.write(Data("\r\u{1B}[K".utf8)); progressShown = false }
            FileHandle.standardOutput.write(Data(Terminal.escapingControls(text).utf8))
        }
    }

    func readLine(prompt: String) -> String? {
        write(prompt)
        return Swift.readLine(strippingNewline: true)
    }

    func progress(_ text: String) {
        lock.withLock {
            guard isatty(1) == 1 else { return }
            if text.isEmpty {
                if progressShown { FileHandle.standardOutput.write(Data("\r\u{1B}[K".utf8)) }
                progressShown = false
                return
            }
            let now = Date()
            guard now.timeIntervalSince(lastProgress) > 0.2 else { return }
            lastProgress = now
            FileHandle.standardOutput.write(Data(("\r\u{1B}[K" + String(Terminal.escapingControls(text, keepingLayout: false).prefix(79))).utf8))
            progressShown = true
        }
    }
}
