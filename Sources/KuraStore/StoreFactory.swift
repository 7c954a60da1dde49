import KuraCore

/// How ``StoreFactory`` wraps the stores it opens.
public struct StoreOptions: Sendable {
    /// How transient failures are retried (``RetryingStore``).
    public var retry: RetryPolicy
    /// Told of every retry before its wait, to log it.
    public var onRetry: (@Sendable (StoreRetry) -> Void)?
    /// Requests in flight at once (``LimitedStore``); nil: the store's own ``ObjectReader/maxConcurrentRequests``.
    public var maxConcurrentRequests: Int?
    /// For S3 locations: region, credentials (nil: from the environment and `~/.aws/credentials`), limits.
    public var s3: S3Options

    public init(retry: RetryPolicy = .standard, onRetry: (@Sendable (StoreRetry) -> Void)? = nil,
                maxConcurrentRequests: Int? = nil, s3: S3Options = S3Options()) {
        self.retry = retry
        self.onRetry = onRetry
        self.maxConcurrentRequests = maxConcurrentRequests
        self.s3 = s3
    }
}

/// The one way from a repository location to a store: every command, `kura run`, `config check`,
/// `status` and `init --copy-chunker-params-from` open their stores here, so they all parse locations
/// the same way, report a missing repository the same way, and get the same retries and request limit.
///
/// A store comes back as `RetryingStore(LimitedStore(store))`: a retry waits without holding a slot.
public enum StoreFactory {
    /// Opens the store at `location` (see ``StoreLocation`` for the forms). With `create: true` a local
    /// folder is created (0700) if missing.
    ///
    /// Throws ``StoreLocationError`` (invalid argument) for a malformed location, ``S3CredentialsError``
    /// for an S3 location without credentials, `KuraError(.noRepository)` if there is no folder at a
    /// local location (and `create` is false), and ``ObjectStoreError`` for anything else (permission,
    /// read-only, …). Opening an S3 location sends no request: a missing bucket or prefix shows at the
    /// first read (the repository's `config`), as notFound.
    public static func open(_ location: String, create: Bool = false, options: StoreOptions = StoreOptions()) throws -> any ObjectStore {
        if let virtualHost = try virtualHostLocation(location, options: options) {
            var options = options
            options.s3.addressing = .virtualHost
            return try open(.s3(virtualHost), create: create, options: options)
        }
        return try open(StoreLocation(parsing: location), create: create, options: options)
    }

    /// With an S3 endpoint given (`--s3-endpoint`), `s3://BUCKET[/PREFIX]` names a bucket at that
    /// endpoint, addressed virtual-host style (the AWS command line's form); without one, `s3://` is
    /// restic's `s3://HOST/BUCKET[/PREFIX]`. Nil for every other location.
    static func virtualHostLocation(_ location: String, options: StoreOptions) throws(StoreLocationError) -> S3Location? {
        guard var endpoint = options.s3.endpoint, !endpoint.isEmpty, location.hasPrefix("s3://") else { return nil }
        if !endpoint.hasPrefix("https://") && !endpoint.hasPrefix("http://") { endpoint = "https://" + endpoint }
        while endpoint.hasSuffix("/") { endpoint.removeLast() }
        if endpoint.dropFirst(endpoint.hasPrefix("https://") ? 8 : 7).contains("/") {
            throw StoreLocationError(options.s3.endpoint!, "an S3 endpoint is scheme://host[:port], without a path")
        }
        do {
            return try S3Location(parsing: "s3:" + endpoint + "/" + location.dropFirst(5))
        } catch {
            throw StoreLocationError(location, error.message + " (with the S3 endpoint \(endpoint))", hint: error.hint)
        }
    }

    /// Parses `location` and, for S3, finds the credentials, without sending anything: for commands
    /// that ask for a password before they open the store (`init`).
    @discardableResult
    public static func check(_ location: String, options: StoreOptions = StoreOptions()) throws -> StoreLocation {
        if let virtualHost = try virtualHostLocation(location, options: options) {
            _ = try S3Store(virtualHost, options: options.s3)
            return .s3(virtualHost)
        }
        let parsed = try StoreLocation(parsing: location)
        if case .s3(let s3) = parsed { _ = try S3Store(s3, options: options.s3) }
        return parsed
    }

    /// Opens the store at a parsed `location`; see ``open(_:create:options:)-(String,_,_)``.
    public static func open(_ location: StoreLocation, create: Bool = false, options: StoreOptions = StoreOptions()) throws -> any ObjectStore {
        switch location {
        case .s3(let s3):
            var s3Options = options.s3
            if let limit = options.maxConcurrentRequests { s3Options.maxConcurrentRequests = limit }
            return wrap(try S3Store(s3, options: s3Options), options: options)
        case .local(let path):
            let store: LocalStore
            do {
                store = try LocalStore(path: path, create: create)
            } catch let error as ObjectStoreError where error.code == .notFound {
                throw noRepository(at: path)
            }
            return wrap(store, options: options)
        }
    }

    /// `base` with the wrappers every opened store gets: retries outside, the request limit inside.
    public static func wrap(_ base: any ObjectStore, options: StoreOptions = StoreOptions()) -> any ObjectStore {
        RetryingStore(LimitedStore(base, limit: options.maxConcurrentRequests), policy: options.retry, onRetry: options.onRetry)
    }

    /// "there is no kura repository at …" (exit 10), with what to do.
    public static func noRepository(at location: String) -> KuraError {
        KuraError(.noRepository, "there is no kura repository at \(location)",
                  hint: "create one with `kura init`, or point --repo / KURA_REPOSITORY at an existing one")
    }
}
