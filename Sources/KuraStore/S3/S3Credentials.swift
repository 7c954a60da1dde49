import Foundation
import KuraCore

/// The key an S3 store signs its requests with. Never printed: ``description`` shows the access key id only.
public struct S3Credentials: Sendable, Hashable, CustomStringConvertible {
    public var accessKeyID: String
    public var secretAccessKey: String
    /// For temporary credentials (STS): sent as `x-amz-security-token`.
    public var sessionToken: String?

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    public var description: String { "S3 access key \(accessKeyID)" }

    /// The credentials the AWS tools would use, in their order: `AWS_ACCESS_KEY_ID` and
    /// `AWS_SECRET_ACCESS_KEY` (with `AWS_SESSION_TOKEN`) from `environment`; otherwise the profile
    /// `AWS_PROFILE` (default `default`) of the shared credentials file (`AWS_SHARED_CREDENTIALS_FILE`,
    /// default `~/.aws/credentials`). Throws ``S3CredentialsError`` saying where it looked when none are found.
    ///
    /// With `profile` or `file` given (kura.toml's `s3-profile`, `s3-credentials-file`), the file is used
    /// and the environment's keys are not: the configuration names the key on purpose. A `file` named
    /// there holds a secret: it is refused when group or others may read it (the rule for password files).
    public static func resolve(environment: [String: String], for location: String, profile explicitProfile: String? = nil,
                               file explicitFile: String? = nil) throws(S3CredentialsError) -> S3Credentials {
        func value(_ name: String) -> String? {
            guard let v = environment[name], !v.isEmpty else { return nil }
            return v
        }
        let configured = explicitProfile != nil || explicitFile != nil
        let id = configured ? nil : value("AWS_ACCESS_KEY_ID"), secret = configured ? nil : value("AWS_SECRET_ACCESS_KEY")
        switch (id, secret) {
        case let (id?, secret?):
            return S3Credentials(accessKeyID: id, secretAccessKey: secret, sessionToken: value("AWS_SESSION_TOKEN"))
        case (_?, nil), (nil, _?):
            throw S3CredentialsError(location: location,
                                     message: "only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY is set",
                                     hint: "set both, or neither to use a profile of ~/.aws/credentials (AWS_PROFILE)")
        case (nil, nil):
            break
        }
        let profile = explicitProfile ?? value("AWS_PROFILE") ?? "default"
        let file: String
        if let explicitFile {
            file = explicitFile
            var st = stat()
            if stat(file, &st) == 0, st.st_mode & 0o077 != 0 {
                throw S3CredentialsError(location: location,
                                         message: "the S3 credentials file \(file) is readable by group or others (mode \(String(st.st_mode & 0o777, radix: 8)))",
                                         hint: "chmod 600 \(file); nothing was read or written")
            }
        } else if let explicit = value("AWS_SHARED_CREDENTIALS_FILE") {
            file = explicit
        } else if let home = value("HOME") {
            file = home + "/.aws/credentials"
        } else {
            throw S3CredentialsError(location: location, message: "no S3 credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set, and there is no HOME to find ~/.aws/credentials in",
                                     hint: Self.hint)
        }
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw S3CredentialsError(location: location,
                                     message: "no S3 credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set, and \(file) cannot be read",
                                     hint: Self.hint)
        }
        let sections = parseINI(text)
        guard let section = sections[profile] else {
            throw S3CredentialsError(location: location, message: "no S3 credentials: \(file) has no profile \"\(profile)\"",
                                     hint: Self.hint)
        }
        guard let id = section["aws_access_key_id"], let secret = section["aws_secret_access_key"], !id.isEmpty, !secret.isEmpty else {
            throw S3CredentialsError(location: location,
                                     message: "no S3 credentials: profile \"\(profile)\" of \(file) lacks aws_access_key_id or aws_secret_access_key",
                                     hint: Self.hint)
        }
        return S3Credentials(accessKeyID: id, secretAccessKey: secret, sessionToken: section["aws_session_token"])
    }

    static let hint = "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary keys) in the environment, "
        + "or AWS_PROFILE naming a profile of ~/.aws/credentials; nothing was read or written"

    /// `[section]` → key → value; `#` and `;` start comment lines; keys are lower-cased, values trimmed.
    static func parseINI(_ text: String) -> [String: [String: String]] {
        var sections: [String: [String: String]] = [:]
        var current: String?
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("["), line.hasSuffix("]") {
                var name = line.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
                if name.hasPrefix("profile ") { name = String(name.dropFirst(8)).trimmingCharacters(in: .whitespaces) }
                current = name
                sections[name, default: [:]] = sections[name] ?? [:]
                continue
            }
            guard let current, let eq = line.firstIndex(of: "=") else { continue }
            let key = line[..<eq].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            sections[current]?[key] = value
        }
        return sections
    }
}

/// No usable S3 credentials were found: where kura looked, and what to set.
public struct S3CredentialsError: Error, Sendable, CustomStringConvertible, KuraErrorConvertible {
    public var location: String
    public var message: String
    public var hint: String

    public var description: String { "repository \(location): \(message)" }

    public var kuraError: KuraError { KuraError(.permissionDenied, description, hint: hint) }
}
