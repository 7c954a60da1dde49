// Throughput of the rest of the ingest path and of index look-ups:
//   - SHA-256 of 64 × 1 MiB chunks (the largest fixed cost of a backup),
//   - AES-256-GCM sealing of the same,
//   - the pack writer: Repository.saveBlob (hash, dedup claim, compression check, seal, pack, upload
//     to the in-memory store) for 64 MiB of incompressible 1 MiB chunks,
//   - index look-ups: 100,000 random hits and misses against an index of 200,000 blobs,
//   - the restore writer: Restorer.restore of a 64 MiB snapshot (one 48 MiB file and 1,024 files of
//     16 KiB) from a local repository into a new folder on the same file system.
import Benchmark
import Foundation
import KuraArchiver
import KuraRestorer
import KuraChunker
import KuraCrypto
import KuraRepository
import KuraStore

/// 64 chunks of 1 MiB cut from the chunker input.
let oneMiBChunks: [[UInt8]] = (0..<64).map { Array(chunkerInput[($0 << 20)..<(($0 + 1) << 20)]) }

func registerPipelineBenchmarks() {
    let thresholds: [BenchmarkMetric: BenchmarkThresholds] = [
        .wallClock: guardedWallClock,
        megabytesPerSecond: guardedThroughput,
        .throughput: guardedThroughput,
    ]
    let configuration = Benchmark.Configuration(
        metrics: [.wallClock, .throughput, megabytesPerSecond],
        timeUnits: .milliseconds, warmupIterations: 1, scalingFactor: .one,
        maxDuration: .seconds(3), maxIterations: 30, thresholds: thresholds)

    func record(_ benchmark: Benchmark, bytes: Int, _ body: () async throws -> Void) async rethrows {
        let clock = ContinuousClock()
        let start = clock.now
        benchmark.startMeasurement()
        try await body()
        benchmark.stopMeasurement()
        let elapsed = start.duration(to: clock.now)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        if seconds > 0 { benchmark.measurement(megabytesPerSecond, Int(Double(bytes) / seconds / 1e6)) }
    }

    Benchmark("SHA-256-64x1MiB", configuration: configuration) { benchmark in
        await record(benchmark, bytes: 64 << 20) { for c in oneMiBChunks { blackHole(SHA256.hash(c)) } }
    }
    Benchmark("AES-256-GCM-seal-64x1MiB", configuration: configuration) { benchmark in
        let key = SecureRandom.bytes(32)
        try await record(benchmark, bytes: 64 << 20) { for c in oneMiBChunks { blackHole(try AESGCM.seal(c, key: key)) } }
    }
    Benchmark("Pack-writer-saveBlob-16MiB-packs-memory-store-64MiB", configuration: configuration) { benchmark in
        var options = InitOptions()
        options.kdfCost = (n: 1 << 10, r: 8, p: 1)
        let repo = try await Repository.initialize(store: MemoryStore(), password: Array("bench".utf8), options: options)
        // Writers hold the repository lock (taking it is outside the measurement).
        try await repo.withLock(.shared) { _ in
            try await record(benchmark, bytes: 64 << 20) {
                for c in oneMiBChunks { blackHole(try await repo.saveBlob(.data, c)) }
                try await repo.flush()
            }
        }
    }
    Benchmark("Index-lookup-100000-in-200000-blobs", configuration: Benchmark.Configuration(
        metrics: [.wallClock, .throughput], timeUnits: .milliseconds, warmupIterations: 1, scalingFactor: .one,
        maxDuration: .seconds(3), maxIterations: 30,
        thresholds: [.wallClock: guardedWallClock, .throughput: guardedThroughput])) { benchmark in
        var options = InitOptions()
        options.kdfCost = (n: 1 << 10, r: 8, p: 1)
        let store = MemoryStore()
        let writer = try await Repository.initialize(store: store, password: Array("bench".utf8), options: options)
        let ids: [BlobID] = try await writer.withLock(.shared) { _ in
            var ids: [BlobID] = []
            for i in 0..<200_000 {
                var seed = UInt64(i)
                let bytes = withUnsafeBytes(of: &seed) { Array($0) }
                ids.append(try await writer.saveBlob(.data, bytes).id)
            }
            try await writer.flush()
            return ids
        }
        let repo = try await Repository.open(store: store, password: Array("bench".utf8))
        try await repo.loadIndex()
        let probes = (0..<100_000).map { i in i % 2 == 0 ? ids[(i * 7919) % ids.count] : BlobID(bytes: SHA256.hash([UInt8(i & 255), UInt8((i >> 8) & 255), UInt8(i >> 16), 1])) }
        benchmark.startMeasurement()
        var hits = 0
        for id in probes where repo.location(of: id) != nil { hits += 1 }
        benchmark.stopMeasurement()
        precondition(hits == 50_000)
    }
    // Restores write into the page cache and the file system's allocator: one iteration in four
    // takes 3–4× the others here (writeback of the previous one), so only a gross loss fails it.
    let restoreConfiguration = Benchmark.Configuration(
        metrics: [.wallClock, .throughput, megabytesPerSecond],
        timeUnits: .milliseconds, warmupIterations: 1, scalingFactor: .one,
        maxDuration: .seconds(5), maxIterations: 30,
        thresholds: [.wallClock: BenchmarkThresholds(relative: [.p50: 50.0, .p75: 100.0, .p90: 200.0]),
                     megabytesPerSecond: BenchmarkThresholds(relative: [.p50: 50.0, .p75: 70.0, .p90: 75.0]),
                     .throughput: BenchmarkThresholds(relative: [.p50: 50.0, .p75: 70.0, .p90: 75.0])])
    Benchmark("Restore-writer-64MiB-48MiB-file-1024x16KiB-local-repository", configuration: restoreConfiguration) { benchmark in
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("kura-bench-restore-\(getpid())").path
        try? FileManager.default.removeItem(atPath: work)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let source = work + "/src"
        try FileManager.default.createDirectory(atPath: source + "/small", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: source + "/big.bin", contents: Data(chunkerInput[0..<(48 << 20)]))
        for i in 0..<1024 {
            let start = (48 << 20) + i * (16 << 10)
            FileManager.default.createFile(atPath: source + "/small/f\(i)", contents: Data(chunkerInput[start..<(start + (16 << 10))]))
        }
        var options = InitOptions()
        options.kdfCost = (n: 1 << 10, r: 8, p: 1)
        let store = try StoreFactory.open(work + "/repo", create: true)
        let repo = try await Repository.initialize(store: store, password: Array("bench".utf8), options: options)
        let snapshot = try await Archiver(repository: repo, options: BackupOptions(paths: [source])).run().snapshot
        let browser = SnapshotBrowser(repository: repo, snapshot: snapshot)
        let root = try await browser.entry(at: [47])
        // Setup (files, backup) runs in every iteration; only the restore is measured.
        let target = work + "/restore"
        try await record(benchmark, bytes: 64 << 20) {
            let result = try await Restorer(repository: repo, options: RestoreOptions(target: target)).restore(browser, entry: root)
            precondition(result.errors.isEmpty)
        }
    }
}
