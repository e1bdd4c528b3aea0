import ArgumentParser
import Foundation
import Logging
import ParrotCore

struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write every cached entry to FILE as JSON lines ('-' for standard output)."
    )

    @OptionGroup var options: ConfigOptions
    @Argument(help: "Destination file, or - for standard output.") var file: String

    func run() async throws {
        let config = try options.load(for: Self.self)
        let store = try await openStore(config: config.cache, logger: Logger(label: "parrot"))
        defer { Task { try? await store.close() } }
        let handle: FileHandle
        if file == "-" {
            handle = .standardOutput
        } else {
            guard FileManager.default.createFile(atPath: file, contents: nil) else {
                let directory = (file as NSString).deletingLastPathComponent
                let reason = directory.isEmpty || FileManager.default.fileExists(atPath: directory) ? "permission denied" : "no such directory \(directory)"
                throw UsageFailure(message: "cannot create \(file): \(reason)", command: Self.self)
            }
            handle = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
        }
        let showProgress = standardErrorIsTerminal && file != "-"
        let count = try await CacheTransfer.export(from: store, write: { handle.write(Data($0.utf8)) }) { n in
            if showProgress { FileHandle.standardError.write(Data("\rexported \(n)".utf8)) }
        }
        if showProgress { FileHandle.standardError.write(Data("\n".utf8)) }
        try handle.synchronize()
        if file != "-" { try handle.close() }
        printError("exported \(count) entries")
    }
}
