import ArgumentParser
import Foundation
import KuraChunker
import KuraRepository
import KuraStore

struct Init: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create a new, encrypted repository.",
        discussion: """
        Creates the repository folder (mode 0700) with its config and a first key for the password.
        The master key is random and is stored only wrapped by scrypt (N=2^15, r=8, p=1) with the password.

        Chunk sizes are fixed for the repository's lifetime. To make two repositories cut the same data
        the same way (so that copies between them deduplicate), copy the chunker parameters and secret:
          kura init --repo /backup/b --copy-chunker-params-from /backup/a --from-password-file pw-a
        """)

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("Minimum chunk size in KiB.", valueName: "KiB")) var chunkMin: Int = 512
    @Option(help: ArgumentHelp("Average chunk size in KiB (a power of two).", valueName: "KiB")) var chunkAvg: Int = 1024
    @Option(help: ArgumentHelp("Maximum chunk size in KiB.", valueName: "KiB")) var chunkMax: Int = 8192
    @Option(help: ArgumentHelp("Target pack size in MiB.", valueName: "MiB")) var packSize: Int = 16
    @Option(help: ArgumentHelp("zstd level for chunks (1-19).", valueName: "n")) var compressionLevel: Int = 3

    @Option(help: ArgumentHelp("Copy chunker parameters and secret from this repository.", valueName: "path"))
    var copyChunkerParamsFrom: String?
    @Option(help: ArgumentHelp("Password file of the repository named by --copy-chunker-params-from (else $KURA_FROM_PASSWORD_FILE, else the same password).", valueName: "file"))
    var fromPasswordFile: String?

    func run() async throws {
        try await runReportingErrors(json: global.json) {
            var options = InitOptions()
            options.chunker = ChunkerParameters(minSize: chunkMin << 10, averageSize: chunkAvg << 10, maxSize: chunkMax << 10)
            options.packSize = packSize << 20
            options.compressionLevel = compressionLevel
            do { try StoreFactory.check(global.repositoryLocation, options: StoreOptions(s3: global.s3Options)) } catch { throw KuraError.from(error) }  // before the password
            let password = try global.password(confirm: true)
            if let from = copyChunkerParamsFrom {
                let otherStore: any ObjectStore
                do { otherStore = try StoreFactory.open(from) } catch let e as KuraError where e.code == .noRepository {
                    throw KuraError(.noRepository, "there is no repository at \(from) to copy chunker parameters from")
                } catch { throw KuraError.from(error) }
                var fromPassword = password
                if let file = fromPasswordFile ?? ProcessInfo.processInfo.environment["KURA_FROM_PASSWORD_FILE"] {
                    var g = global; g.passwordFile = file
                    fromPassword = try g.password()
                }
                let other = try await Repository.open(store: otherStore, password: fromPassword)
                options.chunker = other.config.chunkerParameters
                options.chunkerKey = other.chunkerSecret
            }
            let repo = try await Repository.initialize(store: try global.store(create: true), password: password, options: options,
                                                       cacheDirectory: global.cacheDirectory, keyCache: global.passwordSource().allowsKeyCache)
            if global.json {
                struct Out: Encodable { var id: String; var location: String; var chunker: RepositoryConfig.Chunker }
                try Terminal.json(Out(id: repo.config.id, location: repo.store.location, chunker: repo.config.chunker))
            } else if !global.quiet {
                print("created repository \(repo.config.id.prefix(10)) at \(repo.store.location)")
                print("chunks: min \(repo.config.chunker.minSize >> 10) KiB, avg \(repo.config.chunker.averageSize >> 10) KiB, max \(repo.config.chunker.maxSize >> 10) KiB; packs \(repo.config.packSize >> 20) MiB")
                print("Keep the password safe: without it the data cannot be decrypted.")
            }
            return 0
        }
    }
}
