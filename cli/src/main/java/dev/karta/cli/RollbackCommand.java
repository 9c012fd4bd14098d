package dev.karta.cli;

import dev.karta.api.Pin;
import dev.karta.api.RollbackPreview;
import dev.karta.api.RollbackResult;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/**
 * {@code karta rollback NAME --to v3 [--no-pin] [--dry-run]}: points the project at an earlier
 * release and pins it there; nothing is rebuilt.
 */
final class RollbackCommand {
    private final Cli cli;

    RollbackCommand(Cli cli) {
        this.cli = cli;
    }

    static CommandSpec spec(Cli cli) {
        RollbackCommand rollback = new RollbackCommand(cli);
        PositionalParamSpec project = Commands.parameter("NAME", "The project.");
        OptionSpec to = Commands.option("--to").required(true).paramLabel("VERSION")
                .description("The release to activate: v3 or 3.").build();
        OptionSpec noPin = Commands.flag("--no-pin").description("Do not pin: the next deploy goes live as usual.").build();
        OptionSpec dryRun = Commands.flag("--dry-run").description("Show what would change (files, commits, config "
                + "names, live sessions) and change nothing.").build();
        return Commands.command("rollback",
                () -> rollback.rollback(project.getValue(), to.getValue(), !noPin.<Boolean>getValue(), dryRun.getValue()),
                "Make an earlier release of a project active again. No rebuild, no new version.",
                "The project stays pinned to it: later deploys build releases that do not go live until",
                "`karta releases activate NAME VERSION` or `karta unpin NAME`.",
                "Needs an admin key. See the versions with `karta projects releases NAME`.")
                .addPositional(project).addOption(to).addOption(noPin).addOption(dryRun);
    }

    int rollback(String project, String to, boolean pin, boolean dryRun) {
        if (dryRun) {
            return preview(project, to, pin);
        }
        ApiClient.Reply<RollbackResult> reply = cli.api().rollback(project, to, pin);
        Output output = cli.output();
        if (output.jsonMode()) {
            output.json(reply.body());
            return 0;
        }
        RollbackResult result = reply.value();
        if (result.active() != null && result.active().equals(result.previous())) {
            output.line(result.project() + ": " + result.active() + " already active" + pinNote(result));
        } else {
            output.line(result.project() + ": " + result.active() + " active (was " + Output.or(result.previous()) + ")"
                    + pinNote(result));
        }
        return 0;
    }

    private static String pinNote(RollbackResult result) {
        Pin pin = result.pinned();
        return pin == null ? "" : "\nPinned to " + pin.version() + ": deploys build but do not go live until "
                + "`karta releases activate " + result.project() + " VERSION` or `karta unpin " + result.project() + "`";
    }

    private int preview(String project, String to, boolean pin) {
        ApiClient.Reply<RollbackPreview> reply = cli.api().rollbackPreview(project, to, pin);
        Output output = cli.output();
        if (output.jsonMode()) {
            output.json(reply.body());
            return 0;
        }
        RollbackPreview p = reply.value();
        output.line("Dry run: nothing changed. Rolling " + p.project() + " back to " + p.target() + " (active: "
                + Output.or(p.active()) + ") would change:");
        ReleasesCommand.printDiff(output, p.diff());
        if (p.active() != null && !p.active().equals(p.target())) {
            output.line("Live sessions: " + p.liveSessionsOnActive() + " stay on " + p.active()
                    + " (a session keeps its release)");
        }
        output.line(p.pin() ? "Pin: " + p.project() + " would be pinned to " + p.target()
                + " (deploys build but do not go live; --no-pin to not pin)"
                : "Pin: none (--no-pin): the next deploy goes live");
        if (!p.activatable()) {
            output.line("Would be refused: release " + p.target() + " can no longer be activated: "
                    + p.unavailableReason());
        }
        return 0;
    }
}
