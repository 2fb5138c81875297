import ArgumentParser
import CapplanLoad

struct SchemaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "Print plan format v1 as a JSON Schema, or as the Markdown field reference.",
        discussion: """
        Both come from the definition the loader checks plans against, so they cannot drift.

        Examples:
          capplan schema > .capplan-v1.schema.json
            then start a plan with:  # yaml-language-server: $schema=.capplan-v1.schema.json
          capplan schema --format markdown > docs/plan-reference.md
        """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case json, markdown }

    @Option(help: "json (JSON Schema draft-07) or markdown.")
    var format: Format = .json

    func run() {
        Console.current.out(format == .json ? SchemaExport.jsonSchema() : SchemaExport.markdown())
    }
}
