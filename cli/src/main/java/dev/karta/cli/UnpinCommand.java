package dev.karta.cli;

import dev.karta.api.RollbackResult;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/** {@code karta unpin NAME}: clears a rollback's pin and lets the newest release go live. */
final class UnpinCommand {
    private final Cli cli;

    UnpinCommand(Cli cli) {
        this.cli = cli;
    }

    static CommandSpec spec(Cli cli) {
        UnpinCommand unpin = new UnpinCommand(cli);
        PositionalParamSpec project = Commands.parameter("NAME", "The project.");
        return Commands.command("unpin", () -> unpin.unpin(project.getValue()),
                "Clear the pin a rollback left, so that deploys go live again.",
                "The newest release becomes active when it is newer than the active one. Needs an admin key.")
                .addPositional(project);
    }

    int unpin(String project) {
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
