package dev.karta.cli;

import dev.karta.api.Printable;
import dev.karta.api.ReleaseDiff;
import dev.karta.api.RollbackResult;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code karta releases list | activate | diff | promote}. */
@Command(name = "releases", mixinStandardHelpOptions = true,
        description = "List, compare and activate a project's releases.")
final class ReleasesCommand {
    private final Cli cli;

    ReleasesCommand(Cli cli) {
        this.cli = cli;
    }

    static picocli.CommandLine.Model.CommandSpec spec(Cli cli) {
        return picocli.CommandLine.Model.CommandSpec.forAnnotatedObject(new ReleasesCommand(cli));
    }

    @Command(name = "list", mixinStandardHelpOptions = true,
            description = "List a project's releases, newest first (the same as `karta projects releases`).")
    int list(@Parameters(paramLabel = "NAME") String name) {
        return new ProjectsCommand(cli).releases(name);
    }

    @Command(name = "activate", mixinStandardHelpOptions = true,
            description = {"Make a release active (older or newer) and clear the project's pin.",
                    "This is how a release built while pinned goes live. Needs an admin key."})
    int activate(@Parameters(index = "0", paramLabel = "NAME") String name,
                 @Parameters(index = "1", paramLabel = "VERSION", description = "v5 or 5.") String version) {
        ApiClient.Reply<RollbackResult> reply = cli.api().activate(name, version);
        Output output = cli.output();
        if (output.jsonMode()) {
            output.json(reply.body());
            return 0;
        }
        RollbackResult result = reply.value();
        output.line(result.project() + ": " + result.active() + (result.active().equals(result.previous())
                ? " active, not pinned" : " active (was " + Output.or(result.previous()) + "), not pinned"));
        return 0;
    }

    @Command(name = "promote", mixinStandardHelpOptions = true,
            description = {"Make a preview's current release the next production release, without a rebuild.",
                    "Its source is promote. On a pinned project it is built but not live. Needs an admin key."})
    int promote(@Parameters(index = "0", paramLabel = "NAME") String name,
                @Parameters(index = "1", paramLabel = "PREVIEW", description = "pr-42.") String preview) {
        ApiClient.Reply<com.fasterxml.jackson.databind.JsonNode> reply = cli.api().promote(name, preview);
        Output output = cli.output();
        if (output.jsonMode()) {
            output.json(reply.body());
            return 0;
        }
        var body = reply.body();
        String release = body.path("release").asText();
        if (body.path("live").asBoolean()) {
            output.line(name + ": " + release + " active, promoted from " + body.path("preview_release").asText());
        } else {
            output.line("Built " + release + " from " + body.path("preview_release").asText() + ", not live: "
                    + body.path("message").asText());
        }
        return 0;
    }

    @Command(name = "diff", mixinStandardHelpOptions = true,
            description = {"Show what changes from one release to another.",
                    "Commits, files with sizes, config var names (never values), harness and build kind."})
    int diff(@Parameters(index = "0", paramLabel = "NAME") String name,
             @Parameters(index = "1", paramLabel = "FROM", description = "v3 or 3.") String from,
             @Parameters(index = "2", paramLabel = "TO", description = "v5 or 5.") String to) {
        ApiClient.Reply<ReleaseDiff> reply = cli.api().releaseDiff(name, from, to);
        Output output = cli.output();
        if (output.jsonMode()) {
            output.json(reply.body());
            return 0;
        }
        ReleaseDiff diff = reply.value();
        output.line(diff.project() + ": " + Output.or(diff.from()) + " -> " + diff.to());
        printDiff(output, diff);
        return 0;
    }

    /** The diff as text: commits, files, harness and build kind when they differ, config names. */
    static void printDiff(Output output, ReleaseDiff diff) {
        ReleaseDiff.Commits commits = diff.commits();
        if (!commits.available()) {
            output.line("Commits: not compared: " + Printable.line(Output.or(commits.note())));
        } else {
            output.line("Commits: " + commits.addedCount() + " added, " + commits.removedCount() + " removed"
                    + (commits.note() == null ? "" : " (" + commits.note() + ")"));
            commits.added().forEach(c -> output.line("  + " + c.shortSha() + " " + Printable.line(c.subject())));
            commits.removed().forEach(c -> output.line("  - " + c.shortSha() + " " + Printable.line(c.subject())));
            int unlisted = commits.addedCount() - commits.added().size() + commits.removedCount()
                    - commits.removed().size();
            if (unlisted > 0) {
                output.line("  … and " + unlisted + " more");
            }
        }
        ReleaseDiff.Files files = diff.files();
        if (!files.available()) {
            output.line("Files: not compared: " + Printable.line(Output.or(files.note())));
        } else {
            output.line("Files: " + files.addedCount() + " added, " + files.removedCount() + " removed, "
                    + files.changedCount() + " changed");
            files.added().forEach(f -> output.line("  + " + Printable.line(f.path()) + " (" + Output.bytes(f.size())
                    + ")"));
            files.removed().forEach(f -> output.line("  - " + Printable.line(f.path()) + " ("
                    + Output.bytes(f.sizeBefore()) + ")"));
            files.changed().forEach(f -> output.line("  ~ " + Printable.line(f.path()) + " ("
                    + Output.bytes(f.sizeBefore()) + " -> " + Output.bytes(f.size()) + ")"));
            if (files.unlisted() > 0) {
                output.line("  … and " + files.unlisted() + " more");
            }
        }
        if (diff.harness() != null) {
            output.line("Harness: " + diff.harness().from() + " -> " + diff.harness().to());
        }
        if (diff.buildKind() != null) {
            output.line("Build kind: " + diff.buildKind().from() + " -> " + diff.buildKind().to());
        }
        ReleaseDiff.ConfigNames config = diff.config();
        List<String> names = new ArrayList<>();
        config.added().forEach(n -> names.add("+" + n));
        config.changed().forEach(n -> names.add("~" + n));
        config.removed().forEach(n -> names.add("-" + n));
        output.line("Config: " + (names.isEmpty() ? "no change" : String.join(" ", names)));
    }
}
