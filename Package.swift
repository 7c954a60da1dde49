// swift-tools-version: 6.1
//
// kura (蔵): a content-addressed, encrypted, deduplicating backup store.
//
// Target map (one job each; pointer code for C libraries lives only in the thin wrappers):
//   CCrypto, CZstd, CZlib       system-library shims (libssl-dev, libzstd-dev, zlib1g-dev)
//   CKuraSystem                 header-only shim for Linux calls Glibc does not expose
//   KuraCrypto                  SHA-256, HMAC, AES-256-GCM, scrypt, random (wraps libcrypto)
//   KuraCompression             zstd chunks, gzip streams (wraps libzstd and zlib)
//   KuraCore                    the one error model (KuraError), termination actions (signals), Gregorian day arithmetic, AsyncLimiter
//   KuraProcess                 the one child-process runner (process group, timeout, env filter, stderr tail; swift-subprocess)
//   KuraChunker                 pure FastCDC, sequential and exact-parallel
//   KuraStore                   ObjectStore protocol, local, in-memory and S3 stores (S3 over KuraCurl, SigV4 with
//                               KuraCrypto), location → store (StoreFactory), retry and request-limit wrappers
//   KuraStoreTesting            (Tests/KuraStoreTesting) the conformance suite every store runs, fault-injecting stores
//   KuraTar                     pure tar (ustar + PAX) writer and reader
//   KuraFileSystem              POSIX file access by directory fd (*at calls), metadata, xattrs
//   KuraRepository              the repository format: config, keys, packs, index, trees, snapshots
//   KuraArchiver                backup: directory walk and the parallel ingest pipeline
//   KuraRestorer                restore, cat, dump, ls, diff, stats
//   KuraChecker                 check: structure, and data with --read-data
//   KuraMaintenance             forget (retention), gc, repair
//   KuraCopier                  copy: snapshots and the blobs a target repository lacks, without re-chunking
//   CCurl                       system-library shim for libcurl (libcurl4-openssl-dev)
//   KuraCurl                    the one HTTP client (libcurl easy handles: SMTP, webhooks, Docker over a Unix socket)
//   KuraNotify                  run reports (text/HTML/JSON), SMTP/sendmail/webhook channels, logging (swift-log)
//   KuraOperations              kura.toml, schedules, `kura run` orchestration, status, import-legacy
//   CLibPQ, KuraPostgres        PostgreSQL (libpq-dev): consistent dumps, restore-db, verify-restore, physical backups
//   kura                        thin command-line front end (swift-argument-parser)
//   KuraServer, kura-serve      the read-only dashboard and /metrics over HTTP (hummingbird 2, SwiftNIO): a product of
//                               its own, so `make run` (product kura only) never compiles NIO; `kura serve` execs it
//   KuraTestSupport             tests only: shared helpers (random bytes, temporary folders, child processes,
//                               the built kura binary, raw-byte paths, tmpfs mounts); no product links it
import PackageDescription

let package = Package(
    name: "kura",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "kura", targets: ["kura"]),
        .executable(name: "kura-serve", targets: ["kura-serve"]),
        .library(name: "KuraChunker", targets: ["KuraChunker"]),
        .library(name: "KuraCrypto", targets: ["KuraCrypto"]),
        .library(name: "KuraCompression", targets: ["KuraCompression"]),
        .library(name: "KuraStore", targets: ["KuraStore"]),
        .library(name: "KuraRepository", targets: ["KuraRepository"]),
        .library(name: "KuraArchiver", targets: ["KuraArchiver"]),
        .library(name: "KuraRestorer", targets: ["KuraRestorer"]),
    ],
    dependencies: [
        // Third-party dependencies: the command-line parser and the logging API.
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.11.0"),  // 1.11: LogHandler.log(event:)
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),  // kura.toml (KuraOperations)
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),  // KuraProcess
        // KuraServer only (kura-serve and its tests); no default traits: swift-configuration is not needed.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
    ],
    targets: [
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CKuraSystem"),  // header-only: xattrs, O_NOATIME, SEEK_DATA/SEEK_HOLE, makedev
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),

        .target(name: "KuraCore"),
        .target(name: "KuraProcess", dependencies: ["KuraCore", .product(name: "Subprocess", package: "swift-subprocess")]),
        .target(name: "KuraChunker", dependencies: ["KuraCore"]),
        .target(name: "KuraCrypto", dependencies: ["KuraCore", "CCrypto"]),
        .target(name: "KuraCompression", dependencies: ["KuraCore", "CZstd", "CZlib"]),
        .target(name: "KuraStore", dependencies: ["KuraCore", "KuraCrypto", "KuraCurl", "KuraFileSystem", "CKuraSystem"]),
        .target(name: "KuraTar", dependencies: ["KuraCore"]),
        .target(name: "KuraFileSystem", dependencies: ["KuraCore", "CKuraSystem"]),
        .target(name: "KuraRepository",
                dependencies: ["KuraCore", "KuraChunker", "KuraCrypto", "KuraCompression", "KuraStore", "CKuraSystem"]),
        .target(name: "KuraArchiver", dependencies: ["KuraRepository", "KuraFileSystem", "KuraProcess"]),
        .target(name: "KuraRestorer", dependencies: ["KuraRepository", "KuraFileSystem", "KuraTar", "KuraCompression"]),
        .target(name: "KuraChecker", dependencies: ["KuraRepository", "KuraCrypto", "KuraStore"]),
        .target(name: "KuraMaintenance", dependencies: ["KuraCore", "KuraRepository", "KuraChecker", "KuraStore"]),
        .target(name: "KuraCopier", dependencies: ["KuraCore", "KuraRepository"]),
        .target(name: "KuraPostgres", dependencies: ["KuraRepository", "KuraArchiver", "KuraRestorer", "KuraTar", "KuraProcess", "CLibPQ"]),
        .target(name: "KuraCurl", dependencies: ["CCurl", "KuraCore"]),
        .target(name: "KuraNotify", dependencies: [
            "CCurl", "KuraCurl", "KuraCore", "KuraProcess", .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "KuraOperations", dependencies: ["KuraCore", "KuraCurl", "KuraPostgres",
            "KuraRepository", "KuraArchiver", "KuraChecker", "KuraMaintenance", "KuraNotify", "KuraCompression", "KuraTar", "KuraRestorer",
            "KuraStore", "KuraCrypto", "KuraProcess", "KuraCopier",
            .product(name: "TOMLKit", package: "TOMLKit"), .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "kura", dependencies: [
            "KuraArchiver", "KuraRestorer", "KuraChecker", "KuraMaintenance", "KuraCopier", "KuraPostgres", "CKuraSystem", "KuraOperations", "KuraNotify", "KuraProcess",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .target(name: "KuraServer", dependencies: [
            "KuraCore", "KuraCrypto", "KuraRepository", "KuraRestorer", "KuraOperations", "KuraNotify",
            .product(name: "Hummingbird", package: "hummingbird"), .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "kura-serve", dependencies: [
            "KuraServer", "KuraOperations", "KuraRepository",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Shared test helpers: a plain library target (not a test target) under Tests/, linked only by test targets.
        .target(name: "KuraTestSupport", path: "Tests/KuraTestSupport", exclude: ["S3/s3_test_server.py"]),

        .testTarget(name: "KuraChunkerTests", dependencies: ["KuraTestSupport", "KuraChunker"], resources: [.copy("Vectors")]),
        .testTarget(name: "KuraCryptoTests", dependencies: ["KuraTestSupport", "KuraCrypto", "KuraCompression"]),
        // Not a test target, so that the tests of every store (and of future ones) can run the one suite;
        // plain throwing functions, no test framework, so it builds wherever KuraStore builds.
        .target(name: "KuraStoreTesting", dependencies: ["KuraStore"], path: "Tests/KuraStoreTesting"),
        .testTarget(name: "KuraStoreTests", dependencies: ["KuraTestSupport", "KuraCore", "KuraCrypto", "KuraStore", "KuraStoreTesting"]),
        .testTarget(name: "KuraProcessTests", dependencies: ["KuraTestSupport", "KuraProcess", "KuraCore"]),
        .testTarget(name: "KuraTarTests", dependencies: ["KuraTestSupport", "KuraTar"]),
        .testTarget(name: "KuraRepositoryTests", dependencies: ["KuraTestSupport", "KuraRepository", "KuraArchiver", "KuraRestorer", "KuraStoreTesting"]),
        .testTarget(name: "KuraMaintenanceTests", dependencies: ["KuraTestSupport", "KuraCore", "KuraMaintenance", "KuraChecker", "KuraRepository", "KuraArchiver", "KuraRestorer", "KuraStore", "KuraCrypto"]),
        .testTarget(name: "KuraCLITests", dependencies: ["KuraTestSupport", "kura", "KuraRepository", "KuraStore"]),
        .testTarget(name: "KuraPostgresTests", dependencies: ["KuraTestSupport", "KuraPostgres", "KuraRepository", "KuraArchiver", "KuraRestorer", "KuraStore", "kura"],
                    exclude: ["pg-test-server.sh"]),
        .testTarget(name: "KuraOperationsTests", dependencies: [
            "KuraTestSupport", "KuraCore", "KuraOperations", "KuraNotify", "KuraRepository", "KuraArchiver", "KuraCompression", "KuraTar", "KuraChunker", "KuraStore", "kura",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "KuraServerTests", dependencies: [
            "KuraTestSupport", "KuraServer", "KuraOperations", "KuraRepository", "KuraArchiver", "kura", "kura-serve",
            .product(name: "HummingbirdTesting", package: "hummingbird"),
        ], exclude: ["browser_check.py", "parse_metrics.py"]),
        .testTarget(name: "KuraNotifyTests", dependencies: ["KuraTestSupport", "KuraNotify", .product(name: "Logging", package: "swift-log")],
                    exclude: ["smtp_server.py", "http_server.py"]),
    ]
)
