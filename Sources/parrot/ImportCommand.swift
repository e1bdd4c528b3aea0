import ArgumentParser
import Foundation
import Logging
import ParrotCore

struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Load entries written by 'parrot export' (JSON lines) into the store.",
        discussion: "Entries with the same key are replaced. Namespaces are derived ids: imported answers hit only where the namespace secret is the same."
    )

    @OptionGroup var options: ConfigOptions
    @Argument(help: "Source file, or - for standard input.") var file: String

    func run() async throws {
        let config = try options.load(for: Self.self)
        let data: Data
        if file == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            guard let contents = FileManager.default.contents(atPath: file) else {
                throw UsageFailure(message: "cannot read \(file): \(unreadableReason(file))", command: Self.self)
            }
            data = contents
        }
        let store = try await openStore(config: config.cache, logger: Logger(label: "parrot"))
        let text = String(decoding: data, as: UTF8.self)
        let showProgress = standardErrorIsTerminal
        let count: Int
        do {
            count = try await CacheTransfer.import(into: store, lines: text.split(separator: "\n")) { n in
                if showProgress { FileHandle.standardError.write(Data("\rimported \(n)".utf8)) }
            }
        } catch let error as CacheTransfer.LineError {
            try? await store.close()
            throw ValidationError("\(file): \(error)")
        }
        if showProgress { FileHandle.standardError.write(Data("\n".utf8)) }
        try await store.close()
        printError("imported \(count) entries")
    }
}
