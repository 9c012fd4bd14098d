package dev.karta.cli;

import dev.karta.api.RollbackResult;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code karta unpin NAME}: clears a rollback's pin and lets the newest release go live. */
@Command(name = "unpin", mixinStandardHelpOptions = true,
        description = {"Clear the pin a rollback left, so that deploys go live again.",
                "The newest release becomes active when it is newer than the active one. Needs an admin key."})
final class UnpinCommand implements Callable<Integer> {
    private final Cli cli;

    @Parameters(paramLabel = "NAME", description = "The project.")
    String project;

    UnpinCommand(Cli cli) {
        this.cli = cli;
    }

    static picocli.CommandLine.Model.CommandSpec spec(Cli cli) {
        return picocli.CommandLine.Model.CommandSpec.forAnnotatedObject(new UnpinCommand(cli));
    }

    @Override
    public Integer call() {
        ApiClient.Reply<RollbackResult> reply = cli.api().unpin(project);
        Output output = cli.output();
        if (output.jsonMode()) {
            output.json(reply.body());
            return 0;
        }
        RollbackResult result = reply.value();
        String active = Output.or(result.active());
        output.line(result.project() + ": not pinned; " + (active.equals(result.previous()) || result.previous() == null
                ? active + " stays active" : active + " active (was " + result.previous() + ")"));
        return 0;
    }
}
