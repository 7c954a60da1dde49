import Foundation
import KuraRepository

/// What restoring some tables of a custom-format dump takes: chosen from the dump's table of contents
/// (`pg_restore -l -v`, which lists each entry's dependencies), not with `pg_restore -t`, which
/// restores the bare table only (no schema, sequences, defaults, indexes, constraints, triggers,
/// comments or grants).
///
/// Starting from the tables' `TABLE` entries, every entry is taken whose dependencies are all taken
/// already or structural (schemas, extensions, …), and that depends on at least one taken entry: the
/// table's data, owned sequences with their values (`SEQUENCE SET`), defaults, constraints, indexes,
/// triggers, rules, policies, comments and grants. A foreign key to a table that is not restored is
/// left out and reported, unless `withDependencies` adds the referenced tables (and what they need).
/// The schema is created only when the target lacks it.
struct TableSelection {
    /// One line of the listing: `ID; CATALOG OID DESC SCHEMA NAME OWNER`, with its dependencies.
    struct Entry {
        var id: Int
        var line: String
        var desc: String
        var schema: String
        var name: String
        var dependsOn: [Int]
    }

    let entries: [Entry]

    /// Parses `pg_restore -l -v` output. Names in the listing are not quoted and may hold spaces
    /// (`TABLE Ünï "quoted" schema Texte mit Ümlauten postgres`), so the schema and table of an entry
    /// are found by matching the dump's known tables (from the manifest), longest first.
    init(listing: String, knownTables: [(schema: String, name: String)]) {
        let known = knownTables.sorted { ($0.schema.count + $0.name.count) > ($1.schema.count + $1.name.count) }
        var out: [Entry] = []
        for raw in listing.split(separator: "\n", omittingEmptySubsequences: true) {
            let line = String(raw)
            if line.hasPrefix(";") {
                // ";\tdepends on: 6 216"
                if let r = line.range(of: "depends on:"), !out.isEmpty {
                    out[out.count - 1].dependsOn += line[r.upperBound...].split(separator: " ").compactMap { Int($0) }
                }
                continue
            }
            guard let semi = line.firstIndex(of: ";"), let id = Int(line[..<semi]) else { continue }
            let fields = line[line.index(after: semi)...].split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            // CATALOG OID DESC… SCHEMA NAME… OWNER; DESC can be several words (TABLE DATA, FK CONSTRAINT).
            guard fields.count >= 5 else { out.append(Entry(id: id, line: line, desc: "", schema: "", name: "", dependsOn: [])); continue }
            let (desc, tail) = TableSelection.splitDescription(Array(fields.dropFirst(2)))
            let text = tail.dropLast().joined(separator: " ")  // without the owner
            var schema = tail.first ?? "", name = tail.dropFirst().first ?? ""
            if desc == "SCHEMA" {
                schema = ""; name = String(text.dropFirst(2))  // "- NAME"
            } else if let k = known.first(where: { text == "\($0.schema) \($0.name)" || text.hasPrefix("\($0.schema) \($0.name) ") }) {
                schema = k.schema; name = k.name
            }
            out.append(Entry(id: id, line: line, desc: desc, schema: schema, name: name, dependsOn: []))
        }
        entries = out
    }

    /// Descriptions of more than one word that pg_dump uses, longest first.
    static let multiWord = ["SEQUENCE OWNED BY", "SEQUENCE SET", "TABLE DATA", "FK CONSTRAINT", "MATERIALIZED VIEW DATA",
                            "MATERIALIZED VIEW", "DEFAULT ACL", "ROW SECURITY", "LARGE OBJECT", "BLOB METADATA", "CHECK CONSTRAINT",
                            "FOREIGN TABLE", "TEXT SEARCH CONFIGURATION", "TEXT SEARCH DICTIONARY", "EVENT TRIGGER", "PUBLICATION TABLE"]

    static func splitDescription(_ words: [String]) -> (String, [String]) {
        for d in multiWord {
            let parts = d.split(separator: " ").map(String.init)
            if words.count > parts.count, Array(words.prefix(parts.count)) == parts {
                return (d, Array(words.dropFirst(parts.count)))
            }
        }
        return (words.first ?? "", Array(words.dropFirst()))
    }

    /// Entries that belong to the whole database, not to a table: never taken because a table
    /// depends on them (the schema is handled on its own; see `choose`).
    static let databaseWide: Set<String> = ["SCHEMA", "ENCODING", "STDSTRINGS", "SEARCHPATH", "DATABASE"]
    /// Objects a table can need that are not tables: taken along (into a new database) when a taken
    /// entry depends on them — a trigger's function, a column's type or domain.
    static let needed: Set<String> = ["EXTENSION", "COLLATION", "TYPE", "DOMAIN", "FUNCTION", "PROCEDURE", "SHELL TYPE", "SEQUENCE"]

    struct Choice {
        /// The listing for `pg_restore -L`, in the dump's order.
        var list: String
        /// Tables restored (SCHEMA.NAME).
        var tables: [String]
        /// What was left out, and why (foreign keys to tables not restored).
        var skipped: [String]
    }

    /// Chooses what restores `tables` (SCHEMA.NAME; a name without a schema matches any schema).
    /// `freshDatabase`: the target was just created, so functions, types and extensions the tables
    /// need are restored too (into an existing database they are assumed to be there).
    /// `schemaExists` tells whether the target already has a schema.
    /// `tableExists` tells whether the target already has a table that is not restored (a foreign key
    /// to it is then kept).
    func choose(tables wanted: [(schema: String?, name: String)], withDependencies: Bool, freshDatabase: Bool,
                schemaExists: (String) -> Bool, tableExists: (String, String) -> Bool = { _, _ in false }) -> Choice {
        let byID = Dictionary(entries.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        func isTable(_ id: Int) -> Bool { byID[id]?.desc == "TABLE" }
        var selectedTables = Set(entries.filter { e in e.desc == "TABLE" && wanted.contains { ($0.schema == nil || $0.schema == e.schema) && $0.name == e.name } }.map(\.id))
        var taken = Set<Int>()
        var skipped: [String] = []
        while true {
            taken = selectedTables
            var changed = true
            while changed {
                changed = false
                for e in entries where !taken.contains(e.id) && e.desc != "TABLE" && !TableSelection.databaseWide.contains(e.desc) {
                    guard e.dependsOn.contains(where: taken.contains) else { continue }
                    // Everything else it needs is taken, or can be taken along, or belongs to the database.
                    let open = e.dependsOn.filter { d in
                        guard !taken.contains(d), let dep = byID[d] else { return false }
                        if TableSelection.databaseWide.contains(dep.desc) { return false }
                        if TableSelection.needed.contains(dep.desc) { return false }
                        // A table the target has (and its constraints, which a foreign key points at).
                        if (dep.desc == "TABLE" || dep.desc == "CONSTRAINT"), !freshDatabase, tableExists(dep.schema, dep.name) { return false }
                        return true
                    }
                    if open.isEmpty { taken.insert(e.id); changed = true }
                }
                // Into a new database: what taken entries need (a trigger's function, a type), upwards.
                if freshDatabase {
                    for e in entries where taken.contains(e.id) {
                        for d in e.dependsOn where !taken.contains(d) {
                            if let dep = byID[d], TableSelection.needed.contains(dep.desc) { taken.insert(d); changed = true }
                        }
                    }
                }
            }
            // Foreign keys whose other table is not restored.
            var missing = Set<Int>()
            skipped = []
            for e in entries where e.desc == "FK CONSTRAINT" && !taken.contains(e.id) && e.dependsOn.contains(where: taken.contains) {
                let others = e.dependsOn.filter { isTable($0) && !taken.contains($0) }.compactMap { byID[$0] }
                guard !others.isEmpty else { continue }
                missing.formUnion(others.map(\.id))
                let constraint = e.line.split(separator: " ").dropLast().last.map(String.init) ?? e.name
                skipped.append("foreign key \(constraint) on \(e.schema).\(e.name) refers to \(others.map { "\($0.schema).\($0.name)" }.joined(separator: ", ")), which is not restored: left out (restore that table too, or add --with-dependencies)")
            }
            guard withDependencies, !missing.isEmpty else { break }
            selectedTables.formUnion(missing)
        }
        // The schemas of the tables, where the target lacks them.
        let schemas = Set(entries.filter { taken.contains($0.id) && $0.desc == "TABLE" }.map(\.schema))
        for e in entries where e.desc == "SCHEMA" && schemas.contains(e.name) && !schemaExists(e.name) { taken.insert(e.id) }
        let list = entries.filter { taken.contains($0.id) }.map(\.line).joined(separator: "\n") + "\n"
        let tables = entries.filter { taken.contains($0.id) && $0.desc == "TABLE" }.map { "\($0.schema).\($0.name)" }
        return Choice(list: list, tables: tables, skipped: skipped)
    }
}
