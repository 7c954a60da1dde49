import Foundation
import KuraCore

/// Replacing kura's own process image with another kura program (`kura serve` → `kura-serve`): no
/// child, so no process group, time limit or environment filter applies — the new image is kura itself,
/// with kura's environment (it may need `KURA_PASSWORD_FILE`). What must not carry over is the signal
/// set-up of the kura CLI: it ignores SIGINT/SIGTERM/SIGHUP/SIGPIPE and handles them itself, and an
/// ignored signal stays ignored across exec. So they go back to their defaults and the mask is emptied
/// first, as for every child (swift-subprocess's spawn does the same).
public enum ProcessImage {
    /// The companion program `name` installed next to the running executable, or nil.
    public static func sibling(named name: String) -> String? {
        guard let me = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else { return nil }
        let path = (me as NSString).deletingLastPathComponent + "/" + name
        return access(path, X_OK) == 0 ? path : nil
    }

    /// Replaces this process with `path` run with `arguments` (argv[0] is set to `path`). Returns only
    /// by throwing, when exec failed; nothing was changed then but the signal dispositions.
    public static func replace(with path: String, arguments: [String]) throws -> Never {
        for sig in [SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGQUIT] { signal(sig, SIG_DFL) }
        var empty = sigset_t()
        sigemptyset(&empty)
        sigprocmask(SIG_SETMASK, &empty, nil)
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        execv(path, argv)
        let e = errno
        throw KuraError(.commandFailed, "cannot start \(path): \(String(cString: strerror(e)))",
                        hint: "check that it exists and is executable (build it with `make serve`)")
    }
}
