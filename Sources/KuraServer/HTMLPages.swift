import Foundation
import KuraNotify
import KuraOperations
import KuraRepository
import KuraRestorer

/// The dashboard's pages: plain server-rendered HTML with inline CSS and inline SVG, no script and no
/// external asset, so they work offline, behind any proxy and in a text browser. Every figure comes from
/// an ``Overview`` or the repository; the same data is under `/api/` as JSON.
enum HTMLPages {
    static let style = """
    body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}
    h1{font-size:1.4em;margin:0 0 .3em}h2{font-size:1.1em;margin:1.2em 0 .4em}
    table{border-collapse:collapse;background:#fff}th,td{padding:.3em .6em;border-bottom:1px solid #ddd;text-align:left;vertical-align:middle}
    th{background:#eee;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}td.t,td.n{white-space:nowrap}
    tr.failed td{background:#fde2e1}tr.late td{background:#fff3cd}.bad{color:#b00020;font-weight:600}.ok{color:#1b7f3b;font-weight:600}
    .muted{color:#777}.cards{display:flex;flex-wrap:wrap;gap:.6em;margin:.6em 0}.card{background:#fff;border:1px solid #ddd;padding:.5em .8em;min-width:9em}
    .card b{display:block;font-size:1.2em}a{color:#0b57d0;text-decoration:none}a:hover{text-decoration:underline}
    .cal{display:inline-block;margin:0 1em 1em 0;vertical-align:top}.cal td{width:2.2em;height:2em;text-align:center;border:1px solid #eee;padding:0}
    .cal td.has{background:#d7ecdb}.cal td.has a{display:block}code{background:#eee;padding:0 .2em}
    """

    static func page(_ title: String, _ body: String) -> String {
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">"
            + "<title>\(esc(title))</title><style>\(style)</style></head><body>\(body)"
            + "<p class=\"muted\">kura serve · read-only · JSON under <a href=\"/api/overview\">/api/</a> · <a href=\"/metrics\">/metrics</a></p></body></html>"
    }

    // MARK: - Overview

    static func overview(_ o: Overview, zone: TimeZone) -> String {
        let now = o.generatedAt
        var b = "<h1>kura on \(esc(o.host))</h1><p>repository <code>\(esc(o.repository))</code> · times in \(esc(o.timeZone)) · as of \(esc(time(now, zone)))"
        if o.running { b += " · <b>a run is in progress</b>" }
        b += "</p>"
        b += o.healthy ? "<p id=\"health\" class=\"ok\">healthy</p>"
            : "<div id=\"health\" class=\"bad\">NOT HEALTHY<ul>" + o.problems.map { "<li>\(esc($0))</li>" }.joined() + "</ul></div>"
        let s = o.storage
        b += "<div class=\"cards\">"
        b += card("stored", s.storedBytes.map(bytes) ?? "?", s.logicalBytes.map { "\(bytes($0)) logical" })
        b += card("dedup", s.dedupRatio.map { String(format: "%.1f×", $0) } ?? "–", "logical ÷ stored")
        b += card("free disk", s.freeBytes.map(bytes) ?? "–", s.fileSystemBytes.map { "of \(bytes($0))" } ?? "not a local disk")
        b += card("growth", s.growthBytesPerDay.map { bytes(UInt64($0.rounded())) + "/day" } ?? "–", "last \(Overview.growthWindowDays) days")
        b += card("full in", s.daysUntilFull.map { $0 > 36_500 ? "> 100 years" : String(format: "%.0f days", $0) } ?? "–", "at the current growth")
        b += card("snapshots", s.snapshots.map(String.init) ?? "?", o.lastGC.map { "last gc \(age($0, now))" })
        b += "</div>"
        let offsite = o.sources.contains { !$0.status.offsite.isEmpty }
        let wal = o.sources.contains { $0.status.wal != nil }
        b += "<h2>Sources</h2><table id=\"sources\"><tr><th>source</th><th>type</th><th>last run</th><th>next run</th><th>snapshots</th><th>stored</th>"
            + "<th>added per day (\(Overview.historyDays) days)</th><th>dedup</th><th>last check</th><th>verified restore</th>"
            + (offsite ? "<th>offsite</th>" : "") + (wal ? "<th>WAL</th>" : "") + "</tr>"
        for src in o.sources {
            let st = src.status
            let cls = st.lastResult == "failure" ? "failed" : src.late ? "late" : ""
            var result = st.lastResult == "success" ? "<span class=\"ok\">success</span>" : st.lastResult == "failure" ? "<span class=\"bad\">FAILED</span>" : "<span class=\"muted\">never</span>"
            if src.late { result += " <span class=\"bad\">LATE</span>" + (st.lateSince.map { " <small>since \(age($0, now))</small>" } ?? "") }
            var last = result + (st.lastRun.map { " · \(age($0, now))" } ?? "")
            if st.lastResult == "failure", let e = st.lastError { last += "<br><small>\(esc(String(e.split(separator: "\n").first ?? "")))</small>" }
            b += "<tr class=\"\(cls)\" data-source=\"\(esc(st.name))\"><td><a href=\"/sources/\(url(st.name))\">\(esc(st.name))</a></td><td>\(esc(st.type))</td>"
            b += "<td>\(last)</td><td class=\"t\">\(st.nextRun.map { esc(time($0, zone)) } ?? "<span class=\"muted\">no schedule</span>")\(st.due ? "<br>(due)" : "")</td>"
            b += "<td class=\"n\">\(st.snapshotCount.map(String.init) ?? "?")</td><td class=\"n\">\(st.storedBytes.map(bytes) ?? "?")</td>"
            b += "<td>\(SVGChart.bars(src.bytesAddedPerDay))<br><small>last: \(src.lastBytesAdded.map(bytes) ?? "–")</small></td>"
            b += "<td class=\"n\">\(src.dedupRatio.map { String(format: "%.1f×", $0) } ?? "–")</td>"
            b += "<td>\(checkCell(st.lastCheck, st.lastCheckResult, now))</td><td>\(checkCell(st.lastVerifiedRestore, st.lastVerifiedRestoreResult, now))</td>"
            if offsite { b += "<td>\(st.offsite.map { offsiteLine($0, now) }.joined(separator: "<br>"))</td>" }
            if wal {
                b += "<td>" + (st.wal.map { w in
                    (w.lastArchivedAgeSeconds.map { "lag \(age(now.addingTimeInterval(-$0), now).replacingOccurrences(of: " ago", with: ""))" } ?? "nothing archived")
                        + (w.continuous ? " · <span class=\"ok\">continuous</span>" : " · <span class=\"bad\">\(w.gaps.isEmpty ? "no base backup" : "\(w.gaps.count) gap\(w.gaps.count == 1 ? "" : "s")")</span>")
                } ?? "") + "</td>"
            }
            b += "</tr>"
        }
        b += "</table>"
        if let e = o.repositoryError { b += "<p class=\"bad\">repository: \(esc(e))</p>" }
        if let e = o.stateError { b += "<p class=\"bad\">state: \(esc(e))</p>" }
        return page("kura · \(o.host)", b)
    }

    static func card(_ label: String, _ value: String, _ note: String?) -> String {
        "<div class=\"card\"><span class=\"muted\">\(esc(label))</span><b>\(esc(value))</b><small class=\"muted\">\(esc(note ?? ""))</small></div>"
    }

    /// One offsite target of a source: result, how old its newest copy is, how many snapshots it lacks.
    static func offsiteLine(_ o: StatusReport.OffsiteStatus, _ now: Date) -> String {
        let result = o.lastResult == "success" ? "<span class=\"ok\">ok</span>" : o.lastResult == "failure" ? "<span class=\"bad\">FAILED</span>" : "<span class=\"muted\">never</span>"
        var line = "\(esc(o.target)): \(result)"
        if let t = o.newestCopiedTime { line += " · lag \(age(t, now).replacingOccurrences(of: " ago", with: ""))" }
        if let n = o.behind, n > 0 { line += " · \(n) behind" }
        return line
    }

    static func checkCell(_ date: Date?, _ result: String?, _ now: Date) -> String {
        guard let result else { return "<span class=\"muted\">–</span>" }
        let ok = result.hasPrefix("ok")
        return "<span class=\"\(ok ? "ok" : "bad")\">\(ok ? "ok" : "FAILED")</span>\(date.map { " · \(age($0, now))" } ?? "")<br><small class=\"muted\">\(esc(result))</small>"
    }

    // MARK: - One source: the snapshot calendar

    static func source(_ name: String, status: Overview.Source?, snapshots: [Snapshot], zone: TimeZone, now: Date) -> String {
        var b = "<p><a href=\"/\">← overview</a></p><h1>source \(esc(name))</h1>"
        if let st = status?.status {
            b += "<p>\(esc(st.type)) · schedule \(esc(st.schedule.isEmpty ? "none" : st.schedule.joined(separator: ", "))) · last result \(esc(st.lastResult))"
                + "\(status?.late == true ? " · <span class=\"bad\">LATE</span>" : "") · \(snapshots.count) snapshots</p>"
        }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let byDay = Dictionary(grouping: snapshots) { Overview.dayKey($0.date, zone: zone) }
        // Months from the newest snapshot's (or this one) back to the oldest's, at most twelve.
        var month = calendar.date(from: calendar.dateComponents([.year, .month], from: now))!
        let oldest = snapshots.first.map { calendar.date(from: calendar.dateComponents([.year, .month], from: $0.date))! } ?? month
        b += "<h2>Calendar</h2><div id=\"calendar\">"
        var shown = 0
        while month >= oldest, shown < 12 {
            b += monthTable(month, calendar: calendar, byDay: byDay, zone: zone)
            month = calendar.date(byAdding: .month, value: -1, to: month)!
            shown += 1
        }
        b += "</div><h2>Snapshots (newest first)</h2><table id=\"snapshots\"><tr><th>time</th><th>id</th><th>files</th><th>size</th><th>added</th><th></th></tr>"
        var anchored = Set<String>()
        for s in snapshots.reversed() {
            let day = Overview.dayKey(s.date, zone: zone)
            let anchor = anchored.insert(day).inserted ? " id=\"day-\(day)\"" : ""
            let id = s.id?.hex ?? ""
            b += "<tr\(anchor)><td>\(esc(time(s.date, zone)))</td><td><a class=\"snapshot\" href=\"/snapshots/\(id)\"><code>\(esc(String(id.prefix(8))))</code></a></td>"
            b += "<td class=\"n\">\(s.summary.map { String($0.files) } ?? "?")</td><td class=\"n\">\(s.summary.map { bytes($0.totalBytes) } ?? "?")</td>"
            b += "<td class=\"n\">\(s.summary.map { bytes($0.bytesStored) } ?? "?")</td><td>\(s.tags.contains("full") ? "full " : "")\(s.incomplete ? "<span class=\"bad\">incomplete</span>" : "")</td></tr>"
        }
        b += "</table>"
        return page("kura · \(name)", b)
    }

    static func monthTable(_ first: Date, calendar: Calendar, byDay: [String: [Snapshot]], zone: TimeZone) -> String {
        let c = calendar.dateComponents([.year, .month], from: first)
        let days = calendar.range(of: .day, in: .month, for: first)?.count ?? 30
        let weekday = (calendar.component(.weekday, from: first) + 5) % 7  // Monday = 0
        var b = "<table class=\"cal\"><caption>\(String(format: "%04d-%02d", c.year ?? 0, c.month ?? 0))</caption><tr>"
            + ["Mo", "Tu", "We", "Th", "Fr", "Sa", "Su"].map { "<th>\($0)</th>" }.joined() + "</tr><tr>"
        b += String(repeating: "<td></td>", count: weekday)
        var column = weekday
        for d in 1...days {
            let key = String(format: "%04d-%02d-%02d", c.year ?? 0, c.month ?? 0, d)
            if let list = byDay[key] {
                b += "<td class=\"has\" title=\"\(list.count) snapshot\(list.count == 1 ? "" : "s")\"><a href=\"#day-\(key)\">\(d)</a></td>"
            } else {
                b += "<td>\(d)</td>"
            }
            column += 1
            if column == 7, d < days { b += "</tr><tr>"; column = 0 }
        }
        return b + "</tr></table>"
    }

    // MARK: - Snapshot browser

    static func directory(_ snapshot: Snapshot, path: [UInt8], entries: [SnapshotEntry], zone: TimeZone) -> String {
        let id = snapshot.id?.hex ?? ""
        let source = snapshot.tags.first { $0.hasPrefix("source:") }.map { String($0.dropFirst(7)) }
        var b = "<p><a href=\"/\">← overview</a>\(source.map { " · <a href=\"/sources/\(url($0))\">source \(esc($0))</a>" } ?? "")</p>"
        b += "<h1>snapshot <code>\(esc(String(id.prefix(8))))</code> · \(esc(time(snapshot.date, zone)))</h1><p>"
        // Breadcrumbs: each component links to its folder.
        var walked: [[UInt8]] = []
        b += "<a href=\"/snapshots/\(id)?path=%2F\">/</a>"
        for component in PathBytes.components(path) {
            walked.append(component)
            b += "<a href=\"/snapshots/\(id)?path=\(query(PathBytes.join(walked)))\">\(esc(PathBytes.display(component)))</a>/"
        }
        b += " · <a href=\"/snapshots/\(id)/archive?path=\(query(path))\">download this folder (.tar.gz)</a></p>"
        b += "<table id=\"entries\"><tr><th>name</th><th>type</th><th>size</th><th>modified</th></tr>"
        for e in entries {
            guard let node = e.node else { continue }
            let name = esc(node.displayName)
            let link: String
            switch node.type {
            case .directory: link = "<a class=\"dir\" href=\"/snapshots/\(id)?path=\(query(e.path))\">\(name)/</a>"
            case .file: link = "<a class=\"file\" href=\"/snapshots/\(id)/file?path=\(query(e.path))\">\(name)</a>"
            case .symlink: link = "\(name) → \(esc(PathBytes.display(node.linkTarget)))"
            default: link = name
            }
            let mtime = Date(timeIntervalSince1970: Double(node.mtime.seconds))
            b += "<tr><td>\(link)</td><td>\(node.type)</td><td class=\"n\">\(node.type == .file ? bytes(node.size) : "")</td><td>\(esc(time(mtime, zone)))</td></tr>"
        }
        b += "</table>"
        return page("kura · snapshot \(id.prefix(8))", b)
    }

    static func error(_ status: Int, _ message: String, hint: String?) -> String {
        page("kura · error", "<p><a href=\"/\">← overview</a></p><h1>\(status)</h1><p class=\"bad\">\(esc(message))</p>\(hint.map { "<p>\(esc($0))</p>" } ?? "")")
    }

    // MARK: - Formatting

    /// Text safe in HTML (the reports' escaping).
    static func esc(_ s: String) -> String { ReportFormat.html(s) }

    static func time(_ d: Date, _ zone: TimeZone) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX"); f.timeZone = zone; f.dateFormat = "yyyy-MM-dd HH:mm"
        return f.string(from: d)
    }

    /// "5 min ago", "3 h ago", "2 d ago" (or "in …" for a time ahead).
    static func age(_ d: Date, _ now: Date) -> String {
        let s = now.timeIntervalSince(d)
        let a = abs(s)
        let text = a < 120 ? "\(Int(a)) s" : a < 7_200 ? "\(Int(a / 60)) min" : a < 172_800 ? "\(Int(a / 3_600)) h" : "\(Int(a / 86_400)) d"
        return s >= 0 ? "\(text) ago" : "in \(text)"
    }

    /// "1.21 GiB" (the reports' format).
    static func bytes(_ n: UInt64) -> String { ReportFormat.bytes(n) }

    /// A path segment (a source name) percent-encoded.
    static func url(_ s: String) -> String { PathQuery.encode(Array(s.utf8)) }
    /// A raw-byte path for a `?path=` query.
    static func query(_ path: [UInt8]) -> String { PathQuery.encode(path) }
}

/// Raw-byte paths in URLs: names in a snapshot are bytes, not necessarily UTF-8, so they travel
/// percent-encoded byte by byte and are decoded back to the same bytes.
enum PathQuery {
    /// Percent-encodes every byte but the unreserved ones (RFC 3986) and `/`.
    static func encode(_ bytes: [UInt8]) -> String {
        var out = ""
        for b in bytes {
            switch b {
            case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x2D, 0x2E, 0x5F, 0x7E, 0x2F: out.unicodeScalars.append(Unicode.Scalar(b))
            default: out += String(format: "%%%02X", b)
            }
        }
        return out
    }

    /// Decodes `%XX` (and `+` as a space, the form encoding) into bytes; nil for a malformed escape.
    static func decode(_ text: Substring) -> [UInt8]? {
        var out: [UInt8] = []
        var it = Array(text.utf8)[...]
        while let c = it.popFirst() {
            if c == 0x25 {
                guard it.count >= 2, let v = UInt8(String(decoding: it.prefix(2), as: UTF8.self), radix: 16) else { return nil }
                out.append(v); it = it.dropFirst(2)
            } else { out.append(c == 0x2B ? 0x20 : c) }
        }
        return out
    }

    /// The raw bytes of parameter `name` in a query string.
    static func parameter(_ name: String, in query: String?) -> [UInt8]? {
        guard let query else { return nil }
        for pair in query.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            if kv.first.map(String.init) == name { return kv.count > 1 ? decode(kv[1]) : [] }
        }
        return nil
    }
}
