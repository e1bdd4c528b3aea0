import ArgumentParser
import ParrotCore

@main
struct ParrotCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parrot",
        abstract: "An OpenAI-compatible caching forward proxy.",
        discussion: """
            Point OPENAI_BASE_URL at Parrot (http://127.0.0.1:8080/v1 by default) and repeated requests \
            are answered from a cache instead of the provider.

            Configuration comes from proxy.conf (TOML; every key has a default), then \
            PARROT_<SECTION>_<KEY> environment variables, then flags.
            """,
        version: ParrotVersion.string,
        subcommands: [ServeCommand.self, StatsCommand.self, InfoCommand.self, ClearCommand.self, ExportCommand.self, ImportCommand.self],
        defaultSubcommand: nil
    )
}
