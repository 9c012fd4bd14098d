package dev.karta.cli;

import dev.karta.api.RollbackResult;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code karta rollback NAME --to v3}: points the project at an earlier release; nothing is rebuilt. */
@Command(name = "rollback", mixinStandardHelpOptions = true,
        description = {"Make an earlier release of a project active again. No rebuild, no new version.",
                "Needs an admin key. See the versions with `karta projects releases NAME`."})
final class RollbackCommand implements Callable<Integer> {
    private final Cli cli;

    @Parameters(paramLabel = "NAME", description = "The project.")
    String project;

    @Option(names = "--to", required = true, paramLabel = "VERSION", description = "The release to activate: v3 or 3.")
    String to;

    RollbackCommand(Cli cli) {
        this.cli = cli;
    }

    @Override
    public Integer call() {
        ApiClient.Reply<RollbackResult> reply = cli.api().rollback(project, to);
        Output output = cli.output();
        if (output.jsonMode()) {
            output.json(reply.body());
            return 0;
        }
        RollbackResult result = reply.value();
        if (result.active() != null && result.active().equals(result.previous())) {
            output.line(result.project() + ": " + result.active() + " already active");
        } else {
            output.line(result.project() + ": " + result.active() + " active (was " + Output.or(result.previous()) + ")");
        }
        return 0;
    }
}
