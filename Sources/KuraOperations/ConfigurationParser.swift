import Foundation
import KuraCore
import KuraMaintenance
import KuraNotify
import KuraRepository
import KuraStore
import TOMLKit

/// What is wrong with a configuration file: every problem found, each with the line and column of the
/// key it is about (or of the syntax error).
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public struct Issue: Sendable, Codable, Equatable {
        /// Key path, e.g. `source[0].keep.daily` (nil for syntax errors).
        public var key: String?
        public var line: Int?
        public var column: Int?
        public var message: String
        public var hint: String?
    }
    public var file: String
    public var issues: [Issue]

    public var description: String {
        issues.map { i in
            var text = file.isEmpty ? "" : file + ":"
            if let l = i.line { text += "\(l):\(i.column ?? 1): " } else if !file.isEmpty { text += " " }
            text += i.message
            if let h = i.hint { text += "\n  hint: \(h)" }
            return text
        }.joined(separator: "\n")
    }
}

/// Reads `kura.toml` into a ``Configuration``, checking every value.
public enum ConfigurationParser {
    /// The configuration file: `explicit` (--config), else $KURA_CONFIG, else /etc/kura/kura.toml.
    public static func defaultPath(explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let explicit, !explicit.isEmpty { return explicit }
        if let env = environment["KURA_CONFIG"], !env.isEmpty { return env }
        return "/etc/kura/kura.toml"
    }

    /// Reads and parses a file.
    public static func load(path: String) throws -> Configuration {
        guard let data = FileManager.default.contents(atPath: path) else {
            var isDir: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDir)
            throw ConfigurationError(file: path, issues: [.init(message: exists ? "cannot read the configuration file (\(isDir.boolValue ? "it is a folder" : "permission denied"))" : "there is no configuration file at \(path)",
                                                                hint: exists ? "run kura as a user that can read it" : "write one (see docs/configuration.md and docs/examples/kura.toml), or name it with --config or $KURA_CONFIG")])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationError(file: path, issues: [.init(message: "the configuration file is not UTF-8 text")])
        }
        var config = try parse(text, file: path)
        config.path = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        return config
    }

    /// Parses TOML text. `file` is only used in messages.
    public static func parse(_ text: String, file: String = "") throws -> Configuration {
        let table: TOMLTable
        do { table = try TOMLTable(string: text) } catch let e as TOMLParseError {
            throw ConfigurationError(file: file, issues: [.init(key: nil, line: e.source.begin.line, column: e.source.begin.column,
                                                                message: "TOML syntax error: \(e.description)")])
        }
        var p = Parser(locations: TOMLLocations(scanning: text))
        let config = p.configuration(table)
        if !p.issues.isEmpty { throw ConfigurationError(file: file, issues: p.issues) }
        return config
    }

    /// Whether a URL or libpq connection string carries a password.
    static func urlHasPassword(_ text: String) -> Bool {
        if let r = text.range(of: "://"), let at = text[r.upperBound...].firstIndex(of: "@") {
            return text[r.upperBound..<at].contains(":")
        }
        return text.range(of: #"(^|\s)password\s*="#, options: .regularExpression) != nil
    }

    /// "30s", "5m", "2h", "1h30m", "1d" or a number of seconds.
    public static func seconds(_ text: String) -> Double? { parseSeconds(text) }

    /// An Object Lock retention for a kura repository's objects (lock objects exempt), as
    /// `kura copy --retention D --retention-mode M` and an `[[offsite]]` target's `retention` and
    /// `retention-mode` give it: a duration (`30d`, at most 100 years) and `compliance` or `governance`
    /// (the default). `option` and `modeOption` name the two in messages. Throws `.usage`.
    public static func objectLock(retention: String, mode: String?, option: String = "retention",
                                  modeOption: String = "retention-mode") throws(KuraError) -> S3ObjectLock {
        guard let seconds = parseSeconds(retention) else {
            throw KuraError(.usage, "\(option) \"\(retention)\" is not a duration", hint: "e.g. 30d or 12h; nothing was copied")
        }
        var lock = S3ObjectLock(retentionSeconds: try S3ObjectLock.validate(seconds: seconds, what: option),
                                exemptPrefixes: Repository.removableKeyPrefixes)
        if let mode {
            guard let parsed = S3ObjectLock.Mode(parsing: mode) else {
                throw KuraError(.usage, "\(modeOption) \"\(mode)\" is neither compliance nor governance", hint: "nothing was copied")
            }
            lock.mode = parsed
        }
        return lock
    }

    /// Parses a size: "2GB", "500 MB", "1.5GiB", "4096" (bytes). K/M/G/T are powers of 1024.
    public static func parseBytes(_ text: String) -> UInt64? {
        let t = text.trimmingCharacters(in: .whitespaces).uppercased().replacingOccurrences(of: " ", with: "")
        let k = 1024.0
        let units: [(String, Double)] = [("TIB", k * k * k * k), ("GIB", k * k * k), ("MIB", k * k), ("KIB", k),
                                         ("TB", k * k * k * k), ("GB", k * k * k), ("MB", k * k), ("KB", k),
                                         ("T", k * k * k * k), ("G", k * k * k), ("M", k * k), ("K", k), ("B", 1)]
        for (u, f) in units where t.hasSuffix(u) {
            guard let n = Double(t.dropLast(u.count)), n >= 0 else { return nil }
            return UInt64(n * f)
        }
        return UInt64(t)
    }

    static func parseSeconds(_ text: String) -> Double? {
        if let n = Double(text), n >= 0 { return n }
        var total = 0.0, number = ""
        var sawUnit = false
        for c in text.trimmingCharacters(in: .whitespaces) {
            if c.isNumber || c == "." { number.append(c); continue }
            guard let n = Double(number) else { return nil }
            switch c {
            case "s": total += n
            case "m": total += n * 60
            case "h": total += n * 3600
            case "d": total += n * 86400
            default: return nil
            }
            number = ""; sawUnit = true
        }
        return sawUnit && number.isEmpty ? total : nil
    }

    static let weekdays = ["sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6]

    /// "sun", "sunday", "sat,sun", "daily"/"always" (every run is a full), "never".
    static func parseWeekdays(_ text: String) -> Set<Int>? {
        let t = text.lowercased().trimmingCharacters(in: .whitespaces)
        if t == "never" || t.isEmpty { return [] }
        if t == "daily" || t == "always" { return Set(0...6) }
        var out = Set<Int>()
        for part in t.split(separator: ",") {
            let w = part.trimmingCharacters(in: .whitespaces)
            guard w.count >= 3, let d = weekdays[String(w.prefix(3))],
                  w.count == 3 || Calendar(identifier: .gregorian).weekdaySymbols.map({ $0.lowercased() }).contains(w) else { return nil }
            out.insert(d)
        }
        return out
    }

    private struct Parser {
        let locations: TOMLLocations
        var issues: [ConfigurationError.Issue] = []

        init(locations: TOMLLocations) { self.locations = locations }

        mutating func fail(_ key: String, _ message: String, hint: String? = nil, atKey: Bool = false) {
            let pos = locations.position(of: key, preferValue: !atKey)
            issues.append(.init(key: key, line: pos?.line, column: pos?.column, message: message, hint: hint))
        }

        func join(_ base: String, _ key: String) -> String { base.isEmpty ? key : base + "." + key }

        static func typeName(_ v: TOMLValueConvertible) -> String {
            switch v.type {
            case .table: return "a table"
            case .array: return "an array"
            case .string: return "a string"
            case .int: return "an integer"
            case .double: return "a number"
            case .bool: return "true/false"
            case .date, .time, .dateTime: return "a date"
            }
        }

        /// Reports keys of `table` not in `known` (with a suggestion for typos).
        mutating func checkKeys(_ table: TOMLTable, _ base: String, _ known: [String], what: String) {
            for key in table.keys where !known.contains(key) {
                let near = known.min { Parser.distance($0, key) < Parser.distance($1, key) }
                let hint = near.flatMap { Parser.distance($0, key) <= 2 ? "did you mean '\($0)'?" : nil } ?? "known keys: \(known.joined(separator: ", "))"
                fail(join(base, key), "unknown key '\(key)' in \(what)", hint: hint, atKey: true)
            }
        }

        static func distance(_ a: String, _ b: String) -> Int {
            let a = Array(a), b = Array(b)
            var row = Array(0...b.count)
            for i in 1...max(1, a.count) where !a.isEmpty {
                var prev = row[0]; row[0] = i
                for j in 1...max(1, b.count) where !b.isEmpty {
                    let old = row[j]
                    row[j] = min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] == b[j - 1] ? 0 : 1))
                    prev = old
                }
            }
            return row[b.count]
        }

        mutating func string(_ t: TOMLTable, _ base: String, _ key: String) -> String? {
            guard let v = t[key] else { return nil }
            guard let s = v.string else { fail(join(base, key), "\(key) must be a string, not \(Parser.typeName(v))"); return nil }
            return s
        }

        mutating func nonEmptyString(_ t: TOMLTable, _ base: String, _ key: String) -> String? {
            guard let s = string(t, base, key) else { return nil }
            if s.isEmpty { fail(join(base, key), "\(key) must not be empty"); return nil }
            return s
        }

        mutating func bool(_ t: TOMLTable, _ base: String, _ key: String) -> Bool? {
            guard let v = t[key] else { return nil }
            guard let b = v.bool else { fail(join(base, key), "\(key) must be true or false, not \(Parser.typeName(v))"); return nil }
            return b
        }

        mutating func int(_ t: TOMLTable, _ base: String, _ key: String, min: Int = 0) -> Int? {
            guard let v = t[key] else { return nil }
            guard let n = v.int else { fail(join(base, key), "\(key) must be a whole number, not \(Parser.typeName(v))"); return nil }
            if n < min { fail(join(base, key), "\(key) must be at least \(min), not \(n)"); return nil }
            return n
        }

        /// A string or an array of strings.
        mutating func strings(_ t: TOMLTable, _ base: String, _ key: String) -> [String]? {
            guard let v = t[key] else { return nil }
            if let s = v.string { return [s] }
            guard let a = v.array else { fail(join(base, key), "\(key) must be a string or an array of strings, not \(Parser.typeName(v))"); return nil }
            var out: [String] = []
            for (i, e) in a.enumerated() {
                guard let s = e.string else { fail(join(base, key) + "[\(i)]", "\(key) must hold strings only, not \(Parser.typeName(e))"); return nil }
                out.append(s)
            }
            return out
        }

        mutating func seconds(_ t: TOMLTable, _ base: String, _ key: String) -> Double? {
            guard let v = t[key] else { return nil }
            if let n = v.int, n >= 0 { return Double(n) }
            if let s = v.string, let d = ConfigurationParser.parseSeconds(s) { return d }
            fail(join(base, key), "\(key) must be a duration like \"30s\", \"10m\", \"2h\" or a number of seconds")
            return nil
        }

        mutating func period(_ t: TOMLTable, _ base: String, _ key: String) -> Period? {
            guard let s = string(t, base, key) else { return nil }
            guard let p = Period(rawValue: s.lowercased()) else {
                fail(join(base, key), "\(key) = \"\(s)\" is not a period", hint: "use never, always, daily, weekly or monthly"); return nil
            }
            return p
        }

        mutating func table(_ t: TOMLTable, _ base: String, _ key: String) -> TOMLTable? {
            guard let v = t[key] else { return nil }
            guard let tt = v.table else { fail(join(base, key), "\(key) must be a table (e.g. \(key) = { ... } or [\(key)]), not \(Parser.typeName(v))"); return nil }
            return tt
        }

        /// An array of tables (`[[key]]`); a single table is accepted as one element.
        mutating func tables(_ t: TOMLTable, _ key: String) -> [TOMLTable] {
            guard let v = t[key] else { return [] }
            if let tt = v.table { return [tt] }
            guard let a = v.array else { fail(key, "\(key) must be written as [[\(key)]] tables"); return [] }
            var out: [TOMLTable] = []
            for (i, e) in a.enumerated() {
                guard let tt = e.table else { fail("\(key)[\(i)]", "every \(key) must be a table ([[\(key)]])"); continue }
                out.append(tt)
            }
            return out
        }

        // MARK: - Document

        static let topKeys = ["repository", "password-file", "password", "host", "timezone", "state-dir", "cache-dir", "log-file",
                              "log-format", "log-level", "log-max-bytes", "log-keep", "gc", "docker", "source", "notify", "offsite",
                              "s3-endpoint", "s3-region", "s3-profile", "s3-credentials-file",
                              "wal-spool", "wal-spool-max", "keep-wal", "metrics-textfile"]

        mutating func configuration(_ t: TOMLTable) -> Configuration {
            var c = Configuration()
            checkKeys(t, "", Parser.topKeys, what: "the configuration")
            if let r = nonEmptyString(t, "", "repository") {
                // The same parser every command uses (StoreFactory opens what it returns).
                let location: StoreLocation?
                do { location = try StoreLocation(parsing: r) } catch { location = nil; fail("repository", error.message, hint: error.hint) }
                if case .local? = location, !r.hasPrefix("/") { fail("repository", "repository must be an absolute path, not \"\(r)\"", hint: "cron and systemd run kura from /") }
                c.repository = r
            } else if t["repository"] == nil {
                issues.append(.init(key: "repository", line: 1, column: 1, message: "the configuration names no repository", hint: "add repository = \"/backup/kura\" at the top"))
            }
            c.passwordFile = nonEmptyString(t, "", "password-file")
            c.password = nonEmptyString(t, "", "password")
            if c.password != nil, c.passwordFile != nil { fail("password", "give either password or password-file, not both", atKey: true) }
            c.host = nonEmptyString(t, "", "host")
            if let tz = nonEmptyString(t, "", "timezone") {
                if let zone = TimeZone(identifier: tz) { c.timeZone = zone } else { fail("timezone", "unknown time zone \"\(tz)\"", hint: "use a name from /usr/share/zoneinfo, e.g. Europe/Berlin or UTC") }
            }
            c.s3.endpoint = nonEmptyString(t, "", "s3-endpoint")
            if let e = c.s3.endpoint {
                let rest = e.hasPrefix("https://") ? e.dropFirst(8) : e.hasPrefix("http://") ? e.dropFirst(7) : ""
                var host = rest
                while host.hasSuffix("/") { host = host.dropLast() }
                if host.isEmpty || host.contains("/") { fail("s3-endpoint", "s3-endpoint is https://HOST[:PORT], not \"\(e)\"", hint: "e.g. s3-endpoint = \"https://s3.eu-central-1.amazonaws.com\"") }
            }
            c.s3.region = nonEmptyString(t, "", "s3-region")
            c.s3.profile = nonEmptyString(t, "", "s3-profile")
            c.s3.credentialsFile = nonEmptyString(t, "", "s3-credentials-file")
            if let f = c.s3.credentialsFile, !f.hasPrefix("/") {
                fail("s3-credentials-file", "s3-credentials-file must be an absolute path, not \"\(f)\"", hint: "cron and systemd run kura from /")
            }
            c.stateDirectory = nonEmptyString(t, "", "state-dir")
            c.cacheDirectory = nonEmptyString(t, "", "cache-dir")
            if let g = seconds(t, "", "grace") { c.grace = g }
            c.logFile = nonEmptyString(t, "", "log-file")
            if let m = nonEmptyString(t, "", "metrics-textfile") {
                if !m.hasPrefix("/") { fail("metrics-textfile", "metrics-textfile must be an absolute path, not \"\(m)\"", hint: "cron and systemd run kura from /") }
                else if !m.hasSuffix(".prom") { fail("metrics-textfile", "metrics-textfile must end in .prom: node_exporter's textfile collector reads only *.prom files", hint: "e.g. /var/lib/prometheus/node-exporter/kura.prom") }
                c.metricsTextfile = m
            }
            if let f = string(t, "", "log-format") {
                if let v = Configuration.LogFormat(rawValue: f) { c.logFormat = v } else { fail("log-format", "log-format must be \"text\" or \"json\", not \"\(f)\"") }
            }
            if let l = string(t, "", "log-level") {
                let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
                if levels.contains(l) { c.logLevel = l } else { fail("log-level", "log-level must be one of \(levels.joined(separator: ", "))") }
            }
            if let n = int(t, "", "log-max-bytes", min: 4096) { c.logMaxBytes = n }
            if let n = int(t, "", "log-keep", min: 0) { c.logKeep = n }
            c.walSpool = nonEmptyString(t, "", "wal-spool")
            if let text = string(t, "", "wal-spool-max") {
                if let n = ConfigurationParser.parseBytes(text) { c.walSpoolMaxBytes = n } else {
                    fail("wal-spool-max", "wal-spool-max must be a size like \"2GB\" or \"500MB\", not \"\(text)\"")
                }
            }
            c.keepWALSeconds = seconds(t, "", "keep-wal")
            if let g = table(t, "", "gc") {
                checkKeys(g, "gc", ["every", "max-unused"], what: "[gc]")
                if let p = period(g, "gc", "every") { c.gc.every = p }
                if let m = string(g, "gc", "max-unused") {
                    let v = Double(m.hasSuffix("%") ? String(m.dropLast()) : m)
                    if let v, v >= 0, v <= 100 { c.gc.maxUnused = v / 100 } else { fail("gc.max-unused", "max-unused must be a percentage like \"5%\"") }
                }
            }
            if let d = table(t, "", "docker") {
                checkKeys(d, "docker", ["socket", "root", "stop-timeout"], what: "[docker]")
                if let s = nonEmptyString(d, "docker", "socket") { c.docker.socket = s }
                if let s = nonEmptyString(d, "docker", "root") { c.docker.root = s }
                if let n = int(d, "docker", "stop-timeout", min: 0) { c.docker.stopTimeout = n }
            }
            var targetNames = Set<String>()
            for (i, o) in tables(t, "offsite").enumerated() {
                if let target = offsiteTarget(o, "offsite[\(i)]") {
                    if !targetNames.insert(target.name).inserted { fail("offsite[\(i)].name", "two offsite targets are named \"\(target.name)\"") }
                    c.offsite.append(target)
                }
            }
            var names = Set<String>()
            for (i, s) in tables(t, "source").enumerated() {
                if var src = source(s, "source[\(i)]") {
                    // `offsite` names an [[offsite]] target or is a location itself (then a target of its own).
                    for (j, entry) in src.offsite.enumerated() where !targetNames.contains(entry) {
                        let key = s["offsite"]?.array != nil ? "source[\(i)].offsite[\(j)]" : "source[\(i)].offsite"
                        if entry.hasPrefix("/") || entry.contains(":") {
                            do { _ = try StoreLocation(parsing: entry) } catch { fail(key, error.message, hint: error.hint); continue }
                            targetNames.insert(entry)
                            c.offsite.append(OffsiteTarget(name: entry, repository: entry))
                        } else {
                            fail(key, "source \"\(src.name)\": there is no [[offsite]] named \"\(entry)\"",
                                 hint: targetNames.isEmpty ? "add an [[offsite]] with name = \"\(entry)\" and repository = \"s3:…\", or write the location itself" : "offsite targets: \(targetNames.sorted().joined(separator: ", "))")
                        }
                    }
                    if src.offsiteKeep != nil, src.offsite.isEmpty {
                        fail("source[\(i)].offsite-keep", "source \"\(src.name)\" has offsite-keep but no offsite target", hint: "add offsite = \"NAME\" (an [[offsite]]) or remove offsite-keep")
                        src.offsiteKeep = nil
                    }
                    if !names.insert(src.name).inserted { fail("source[\(i)].name", "two sources are named \"\(src.name)\"", hint: "source names must be unique") }
                    c.sources.append(src)
                }
            }
            if t["source"] == nil { issues.append(.init(key: "source", line: nil, column: nil, message: "the configuration has no [[source]]", hint: "add at least one [[source]] with a name and a type")) }
            var channelNames = Set<String>()
            for (i, n) in tables(t, "notify").enumerated() {
                if let ch = notify(n, "notify[\(i)]", index: i) {
                    if !channelNames.insert(ch.name).inserted { fail("notify[\(i)].name", "two notify channels are named \"\(ch.name)\"") }
                    c.notify.append(ch)
                }
            }
            for (i, n) in c.notify.enumerated() {
                for (j, name) in n.sources.enumerated() where c.source(named: name) == nil {
                    fail("notify[\(i)].sources" + (n.sources.count > 1 ? "[\(j)]" : ""), "channel \"\(n.name)\": there is no source named \"\(name)\"",
                         hint: "sources: \(c.sources.map(\.name).joined(separator: ", "))")
                }
            }
            c.locations = locations
            return c
        }

        // MARK: - Sources

        static let sourceKeys: [SourceConfig.Kind: [String]] = [
            .directory: ["paths", "path", "exclude", "one-file-system"],
            .dockerVolume: ["volume", "volumes", "stop-containers", "pause", "exclude"],
            .postgres: ["dsn", "databases", "format", "row-counts", "physical", "lock-timeout", "wal-archive", "physical-schedule"],
            .command: ["command", "filename"],
        ]
        static let commonSourceKeys = ["name", "type", "schedule", "keep", "full-every", "check", "before", "after",
                                       "before-timeout", "after-timeout", "tags", "time-limit", "offsite", "offsite-keep", "grace"]

        mutating func source(_ t: TOMLTable, _ base: String) -> SourceConfig? {
            let issuesBefore = issues.count
            guard let name = nonEmptyString(t, base, "name") else {
                if t["name"] == nil { fail(base, "every [[source]] needs a name", hint: "e.g. name = \"db\"", atKey: true) }
                return nil
            }
            if !name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") }) || name.hasPrefix("-") {
                fail(join(base, "name"), "source name \"\(name)\" may only use letters, digits, '-', '_' and '.'", hint: "it is used in tags, unit names and on the command line")
            }
            guard let typeText = nonEmptyString(t, base, "type") else {
                if t["type"] == nil { fail(base, "source \"\(name)\" needs a type", hint: "type = \"directory\", \"docker-volume\", \"postgres\" or \"command\"", atKey: true) }
                return nil
            }
            guard let kind = SourceConfig.Kind(rawValue: typeText) else {
                fail(join(base, "type"), "source \"\(name)\": unknown type \"\(typeText)\"", hint: "type = \"directory\", \"docker-volume\", \"postgres\" or \"command\"")
                return nil
            }
            checkKeys(t, base, Parser.commonSourceKeys + Parser.sourceKeys[kind]!, what: "a \(kind.rawValue) source")
            var s = SourceConfig(name: name, kind: kind)
            switch kind {
            case .directory:
                var paths = strings(t, base, "paths") ?? []
                if let p = string(t, base, "path") { paths.append(p) }
                if paths.isEmpty { fail(base, "directory source \"\(name)\" needs paths", hint: "paths = [\"/srv/app\"]", atKey: true) }
                for (i, p) in paths.enumerated() where !p.hasPrefix("/") {
                    fail(join(base, "paths") + "[\(i)]", "\"\(p)\" is not an absolute path", hint: "write the full path, e.g. /srv/app")
                }
                s.paths = paths
                s.exclude = strings(t, base, "exclude") ?? []
                s.oneFileSystem = bool(t, base, "one-file-system") ?? false
            case .dockerVolume:
                s.volumes = (strings(t, base, "volume") ?? []) + (strings(t, base, "volumes") ?? [])
                if s.volumes.isEmpty { fail(base, "docker-volume source \"\(name)\" needs a volume", hint: "volume = \"app_data\" (or volumes = [...])", atKey: true) }
                for (i, v) in s.volumes.enumerated() where v.isEmpty || v.contains("/") {
                    fail(join(base, "volume") + (s.volumes.count > 1 ? "[\(i)]" : ""), "\"\(v)\" is not a Docker volume name")
                }
                if let v = t["stop-containers"] {
                    if let b = v.bool { s.stopContainers = b ? ["*"] : [] } else { s.stopContainers = strings(t, base, "stop-containers") ?? [] }
                }
                s.pause = bool(t, base, "pause") ?? false
                if s.pause, !s.stopContainers.isEmpty { fail(join(base, "pause"), "give either pause or stop-containers, not both", atKey: true) }
                s.exclude = strings(t, base, "exclude") ?? []
            case .postgres:
                guard let dsn = nonEmptyString(t, base, "dsn") else {
                    if t["dsn"] == nil { fail(base, "postgres source \"\(name)\" needs a dsn", hint: "dsn = \"postgresql://backup@localhost:5432/postgres\"", atKey: true) }
                    return nil
                }
                var pg = PostgresSettings(dsn: dsn)
                pg.databases = strings(t, base, "databases") ?? []
                if let f = string(t, base, "format") {
                    if ["custom", "plain", "tar"].contains(f) { pg.format = f } else { fail(join(base, "format"), "format must be \"custom\", \"plain\" or \"tar\", not \"\(f)\"") }
                }
                pg.rowCounts = bool(t, base, "row-counts") ?? false
                pg.physical = bool(t, base, "physical") ?? false
                if let l = seconds(t, base, "lock-timeout") { pg.lockTimeoutSeconds = l }
                pg.walArchive = bool(t, base, "wal-archive") ?? false
                if let text = string(t, base, "physical-schedule") {
                    do { pg.physicalSchedule = try CronExpression(text) } catch {
                        fail(join(base, "physical-schedule"), "physical-schedule: \(error)", hint: "a cron expression, e.g. \"30 3 * * 0\" (Sundays 03:30)")
                    }
                }
                s.postgres = pg
            case .command:
                if let v = t["command"], let text = v.string {
                    if text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                        // `/bin/sh -c ""` succeeds with no output: every run would save an empty file.
                        fail(join(base, "command"), "command source \"\(name)\": the command is empty", hint: "command = \"mysqldump --all-databases\" (run by /bin/sh) or an argument list")
                    }
                    s.command = ["/bin/sh", "-c", text]
                } else {
                    s.command = strings(t, base, "command") ?? []
                }
                if s.command.isEmpty || s.command.first?.isEmpty == true { fail(base, "command source \"\(name)\" needs a command", hint: "command = \"mysqldump --all-databases\" (run by /bin/sh) or an argument list", atKey: true) }
                if let f = nonEmptyString(t, base, "filename") {
                    if f.contains("/") || f == "." || f == ".." { fail(join(base, "filename"), "filename must be a plain file name (no '/')") } else { s.filename = f }
                }
            }
            // Schedule.
            for (i, text) in (strings(t, base, "schedule") ?? []).enumerated() {
                do { s.schedule.append(try CronExpression(text)) } catch {
                    let key = t["schedule"]?.array != nil ? join(base, "schedule") + "[\(i)]" : join(base, "schedule")
                    fail(key, "source \"\(name)\": \(error)", hint: "five fields: minute hour day-of-month month day-of-week, e.g. \"0 17 * * *\"")
                }
            }
            if let k = table(t, base, "keep") { s.keep = keep(k, join(base, "keep")) }
            if let f = string(t, base, "full-every") {
                if let days = ConfigurationParser.parseWeekdays(f) { s.fullEvery = days } else {
                    fail(join(base, "full-every"), "full-every = \"\(f)\" is not a day of the week", hint: "e.g. \"sun\", \"sat,sun\", \"daily\" or \"never\"")
                }
            }
            if let c = t["check"] {
                if let ct = c.table {
                    checkKeys(ct, join(base, "check"), ["read-data-subset", "verify-restore", "structure"], what: "check")
                    s.check.enabled = bool(ct, join(base, "check"), "structure") ?? true
                    if let sub = string(ct, join(base, "check"), "read-data-subset") {
                        if Parser.validSubset(sub) { s.check.readDataSubset = sub; s.check.enabled = true } else {
                            fail(join(base, "check.read-data-subset"), "read-data-subset = \"\(sub)\" is not a subset", hint: "N/M (e.g. \"1/7\": a seventh each run, all of it in a week) or a percentage (\"10%\")")
                        }
                    }
                    if let p = period(ct, join(base, "check"), "verify-restore") { s.check.verifyRestore = p }
                } else if let b = c.bool { s.check.enabled = b } else {
                    fail(join(base, "check"), "check must be a table, e.g. check = { read-data-subset = \"1/7\", verify-restore = \"monthly\" }")
                }
            }
            if let b = nonEmptyString(t, base, "before") { s.before = Hook(command: b, timeoutSeconds: seconds(t, base, "before-timeout") ?? 600) }
            if let a = nonEmptyString(t, base, "after") { s.after = Hook(command: a, timeoutSeconds: seconds(t, base, "after-timeout") ?? 600) }
            s.timeLimitSeconds = seconds(t, base, "time-limit")
            s.grace = seconds(t, base, "grace")
            s.offsite = strings(t, base, "offsite") ?? []
            if let k = table(t, base, "offsite-keep") { s.offsiteKeep = keep(k, join(base, "offsite-keep")) }
            s.tags = strings(t, base, "tags") ?? []
            for (i, tag) in s.tags.enumerated() where tag.isEmpty || tag.contains(",") {
                fail(join(base, "tags") + "[\(i)]", "tags must be non-empty and contain no ','")
            }
            return issues.count == issuesBefore ? s : s
        }

        static func validSubset(_ text: String) -> Bool {
            if text.hasSuffix("%") { if let p = Double(text.dropLast()), p > 0, p <= 100 { return true }; return false }
            let parts = text.split(separator: "/")
            guard parts.count == 2, let n = Int(parts[0]), let m = Int(parts[1]) else { return false }
            return m >= 1 && n >= 1 && n <= m
        }

        mutating func keep(_ t: TOMLTable, _ base: String) -> RetentionPolicy? {
            checkKeys(t, base, ["last", "hourly", "daily", "weekly", "monthly", "yearly", "within", "tags"], what: "keep")
            var p = RetentionPolicy()
            func count(_ key: String) -> Int {
                guard let v = t[key] else { return 0 }
                if let s = v.string, s == "unlimited" { return RetentionPolicy.unlimited }
                guard let n = v.int, n >= 0 else {
                    fail(join(base, key), "keep.\(key) must be a whole number ≥ 0 or \"unlimited\"")
                    return 0
                }
                return n
            }
            p.last = count("last"); p.hourly = count("hourly"); p.daily = count("daily")
            p.weekly = count("weekly"); p.monthly = count("monthly"); p.yearly = count("yearly")
            if let w = string(t, base, "within") {
                do { p.within = try RetentionPolicy.parseDuration(w) } catch { fail(join(base, "within"), "keep.within: \(error)") }
            }
            if let tags = strings(t, base, "tags") { p.tags = tags.map { RetentionPolicy.parseTagList($0) } }
            if p.isEmpty { fail(base, "keep has no rule: it would remove every snapshot", hint: "e.g. keep = { daily = 7 }", atKey: true); return nil }
            return p
        }

        // MARK: - Offsite targets

        mutating func offsiteTarget(_ t: TOMLTable, _ base: String) -> OffsiteTarget? {
            checkKeys(t, base, ["name", "repository", "password-file", "verify-data", "retention", "retention-mode"], what: "an [[offsite]] target")
            guard let name = nonEmptyString(t, base, "name") else {
                if t["name"] == nil { fail(base, "every [[offsite]] needs a name", hint: "e.g. name = \"s3\"; sources refer to it with offsite = \"s3\"", atKey: true) }
                return nil
            }
            guard let location = nonEmptyString(t, base, "repository") else {
                if t["repository"] == nil { fail(base, "offsite target \"\(name)\" needs a repository", hint: "repository = \"s3:https://s3.example.com/bucket/kura\" or a folder", atKey: true) }
                return nil
            }
            do {
                if case .local = try StoreLocation(parsing: location), !location.hasPrefix("/") {
                    fail(join(base, "repository"), "repository must be an absolute path, not \"\(location)\"", hint: "cron and systemd run kura from /")
                }
            } catch { fail(join(base, "repository"), error.message, hint: error.hint) }
            var target = OffsiteTarget(name: name, repository: location)
            target.passwordFile = nonEmptyString(t, base, "password-file")
            target.verifyData = bool(t, base, "verify-data") ?? false
            let retention = nonEmptyString(t, base, "retention"), mode = nonEmptyString(t, base, "retention-mode")
            if let retention {
                if !location.hasPrefix("s3:") {
                    fail(join(base, "retention"), "retention is an S3 Object Lock retention: the target \(name) is not in S3", hint: "remove it, or copy to an S3 bucket created with Object Lock")
                } else if let mode, S3ObjectLock.Mode(parsing: mode) == nil {
                    fail(join(base, "retention-mode"), "retention-mode must be \"compliance\" or \"governance\", not \"\(mode)\"")
                } else {
                    do { target.objectLock = try ConfigurationParser.objectLock(retention: retention, mode: mode) } catch {
                        fail(join(base, "retention"), error.message, hint: "e.g. retention = \"30d\"")
                    }
                }
            } else if mode != nil {
                fail(join(base, "retention-mode"), "retention-mode needs retention", hint: "e.g. retention = \"30d\"")
            }
            return target
        }

        // MARK: - Notification channels

        mutating func notify(_ t: TOMLTable, _ base: String, index: Int) -> NotifyConfig? {
            guard let typeText = nonEmptyString(t, base, "type") else {
                if t["type"] == nil { fail(base, "every [[notify]] needs a type", hint: "type = \"smtp\", \"sendmail\", \"webhook\" or \"healthchecks\"", atKey: true) }
                return nil
            }
            guard let kind = NotifyConfig.Kind(rawValue: typeText) else {
                fail(join(base, "type"), "unknown notify type \"\(typeText)\"", hint: "type = \"smtp\", \"sendmail\", \"webhook\" or \"healthchecks\""); return nil
            }
            let common = ["type", "name", "on", "timeout"]
            let specific: [String]
            switch kind {
            case .smtp: specific = ["host", "port", "security", "username", "password", "password-file", "from", "to", "ca-file", "insecure-skip-verify"]
            case .sendmail: specific = ["command", "from", "to"]
            case .webhook: specific = ["url", "format", "headers"]
            case .healthchecks: specific = ["url", "sources"]
            }
            checkKeys(t, base, common + specific, what: "a \(kind.rawValue) channel")
            var n = NotifyConfig(name: nonEmptyString(t, base, "name") ?? "\(kind.rawValue)-\(index + 1)", kind: kind)
            if let on = string(t, base, "on") {
                if let w = NotifyWhen(rawValue: on) { n.on = w } else { fail(join(base, "on"), "on must be \"failure\" or \"always\", not \"\(on)\"") }
            }
            if let s = seconds(t, base, "timeout") { n.timeoutSeconds = s }
            switch kind {
            case .smtp:
                n.host = nonEmptyString(t, base, "host")
                if n.host == nil, t["host"] == nil { fail(base, "an smtp channel needs a host", atKey: true) }
                n.port = int(t, base, "port", min: 1)
                if let s = string(t, base, "security") {
                    if ["starttls", "tls", "none"].contains(s) { n.security = s } else { fail(join(base, "security"), "security must be \"starttls\", \"tls\" or \"none\"") }
                }
                n.username = nonEmptyString(t, base, "username")
                n.password = nonEmptyString(t, base, "password")
                n.passwordFile = nonEmptyString(t, base, "password-file")
                if n.password != nil, n.passwordFile != nil { fail(join(base, "password"), "give either password or password-file, not both", atKey: true) }
                n.caFile = nonEmptyString(t, base, "ca-file")
                n.insecureSkipVerify = bool(t, base, "insecure-skip-verify") ?? false
            case .sendmail:
                if let v = t["command"], let text = v.string { n.command = text.split(separator: " ").map(String.init) } else { n.command = strings(t, base, "command") ?? [] }
                if n.command.isEmpty { n.command = ["/usr/sbin/sendmail", "-t", "-i"] }
            case .webhook:
                n.url = nonEmptyString(t, base, "url")
                if let u = n.url { if !(u.hasPrefix("http://") || u.hasPrefix("https://")) { fail(join(base, "url"), "url must start with http:// or https://") } }
                else if t["url"] == nil { fail(base, "a webhook channel needs a url", atKey: true) }
                if let f = string(t, base, "format") {
                    if ["json", "slack", "ntfy"].contains(f) { n.format = f } else { fail(join(base, "format"), "format must be \"json\", \"slack\" or \"ntfy\"") }
                }
                if let h = table(t, base, "headers") {
                    for k in h.keys {
                        if let v = h[k]?.string { n.headers[k] = v } else { fail(join(base, "headers.\(k)"), "header values must be strings") }
                    }
                }
            case .healthchecks:
                n.url = nonEmptyString(t, base, "url")
                if let u = n.url { if !(u.hasPrefix("http://") || u.hasPrefix("https://")) { fail(join(base, "url"), "url must start with http:// or https://") } }
                else if t["url"] == nil { fail(base, "a healthchecks channel needs its check's ping url", hint: "url = \"https://hc-ping.com/<uuid>\"", atKey: true) }
                n.sources = strings(t, base, "sources") ?? []
                if t["on"] != nil { fail(join(base, "on"), "a healthchecks channel pings on every run (start, success, failure): leave out on", atKey: true) }
                n.on = .always
            }
            if kind != .webhook, kind != .healthchecks {
                n.from = nonEmptyString(t, base, "from")
                n.to = strings(t, base, "to") ?? []
                if n.to.isEmpty { fail(base, "a \(kind.rawValue) channel needs recipients", hint: "to = [\"ops@example.com\", \"oncall@example.com\"]", atKey: true) }
                for (i, a) in n.to.enumerated() where !a.contains("@") { fail(join(base, "to") + (n.to.count > 1 ? "[\(i)]" : ""), "\"\(a)\" is not an e-mail address") }
                if let f = n.from, !f.contains("@") { fail(join(base, "from"), "\"\(f)\" is not an e-mail address") }
            }
            return n
        }
    }
}

extension ConfigurationError: KuraErrorConvertible {
    public var kuraError: KuraError {
        KuraError(.invalidArgument, "the configuration \(file.isEmpty ? "" : file + " ")has \(issues.count == 1 ? "a problem" : "\(issues.count) problems"):\n" + description,
                  hint: "fix the file (`kura config check` lists every problem); nothing was run", cause: self)
    }
}

extension CronExpression.ParseError: KuraErrorConvertible {
    public var kuraError: KuraError { KuraError(.invalidArgument, description, hint: "five fields: minute hour day-of-month month day-of-week, e.g. \"30 2 * * *\"", cause: self) }
}
