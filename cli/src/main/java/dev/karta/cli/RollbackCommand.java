package dev.karta.cli;

import dev.karta.api.Pin;
import dev.karta.api.RollbackPreview;
import dev.karta.api.RollbackResult;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code karta rollback NAME --to v3 [--no-pin] [--dry-run]}: points the project at an earlier
 * release and pins it there; nothing is rebuilt.
 */
@Command(name = "rollback", mixinStandardHelpOptions = true,
        description = {"Make an earlier release of a project active again. No rebuild, no new version.",
                "The project stays pinned to it: later deploys build releases that do not go live until",
                "`karta releases activate NAME VERSION` or `karta unpin NAME`.",
                "Needs an admin key. See the versions with `karta projects releases NAME`."})
final class RollbackCommand implements Callable<Integer> {
    private final Cli cli;

    @Parameters(paramLabel = "NAME", description = "The project.")
    String project;

    @Option(names = "--to", required = true, paramLabel = "VERSION", description = "The release to activate: v3 or 3.")
    String to;

    @Option(names = "--no-pin", description = "Do not pin: the next deploy goes live as usual.")
    boolean noPin;

    @Option(names = "--dry-run", description = "Show what would change (files, commits, config names, live sessions) "
            + "and change nothing.")
    boolean dryRun;

    RollbackCommand(Cli cli) {
        this.cli = cli;
    }

    static picocli.CommandLine.Model.CommandSpec spec(Cli cli) {
        return picocli.CommandLine.Model.CommandSpec.forAnnotatedObject(new RollbackCommand(cli));
    }

    @Override
    public Integer call() {
        if (dryRun) {
            return preview();
        }
        ApiClient.Reply<RollbackResult> reply = cli.api().rollback(project, to, !noPin);
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

    private int preview() {
        ApiClient.Reply<RollbackPreview> reply = cli.api().rollbackPreview(project, to, !noPin);
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
