package dev.karta.cli;

import dev.karta.api.PreviewPromotion;
import dev.karta.api.Printable;
import dev.karta.api.ReleaseDiff;
import dev.karta.api.RollbackResult;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/** {@code karta releases list | activate | diff | promote}. */
final class ReleasesCommand {
    private final Cli cli;

    ReleasesCommand(Cli cli) {
        this.cli = cli;
    }

    static CommandSpec spec(Cli cli) {
        ReleasesCommand releases = new ReleasesCommand(cli);
        return Commands.group("releases", List.of(releases.listCommand(), releases.activateCommand(),
                releases.promoteCommand(), releases.diffCommand()), "List, compare and activate a project's releases.");
    }

    private CommandSpec listCommand() {
        PositionalParamSpec name = Commands.parameter("NAME");
        return Commands.command("list", () -> new ProjectsCommand(cli).releases(name.getValue()),
                "List a project's releases, newest first (the same as `karta projects releases`).").addPositional(name);
    }

    private CommandSpec activateCommand() {
        PositionalParamSpec name = Commands.parameter("NAME");
        PositionalParamSpec version = Commands.parameter("VERSION", "v5 or 5.");
        return Commands.command("activate", () -> activate(name.getValue(), version.getValue()),
                "Make a release active (older or newer) and clear the project's pin.",
                "This is how a release built while pinned goes live. Needs an admin key.")
                .addPositional(name).addPositional(version);
    }

    int activate(String name, String version) {
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

    private CommandSpec promoteCommand() {
        PositionalParamSpec name = Commands.parameter("NAME");
        PositionalParamSpec preview = Commands.parameter("PREVIEW", "pr-42.");
        return Commands.command("promote", () -> promote(name.getValue(), preview.getValue()),
                "Make a preview's current release the next production release, without a rebuild.",
                "Its source is promote. On a pinned project it is built but not live. Needs an admin key.")
                .addPositional(name).addPositional(preview);
    }

    int promote(String name, String preview) {
        ApiClient.Reply<PreviewPromotion> reply = cli.api().promote(name, preview);
        Output output = cli.output();
        if (output.jsonMode()) {
            output.json(reply.body());
            return 0;
        }
        PreviewPromotion promotion = reply.value();
        if (promotion.live()) {
            output.line(name + ": " + promotion.release() + " active, promoted from " + promotion.previewRelease());
        } else {
            output.line("Built " + promotion.release() + " from " + promotion.previewRelease() + ", not live: "
                    + promotion.message());
        }
        return 0;
    }

    private CommandSpec diffCommand() {
        PositionalParamSpec name = Commands.parameter("NAME");
        PositionalParamSpec from = Commands.parameter("FROM", "v3 or 3.");
        PositionalParamSpec to = Commands.parameter("TO", "v5 or 5.");
        return Commands.command("diff", () -> diff(name.getValue(), from.getValue(), to.getValue()),
                "Show what changes from one release to another.",
                "Commits, files with sizes, config var names (never values), harness and build kind.")
                .addPositional(name).addPositional(from).addPositional(to);
    }

    int diff(String name, String from, String to) {
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
