package dev.karta.cli;

import dev.karta.api.Deploy;
import dev.karta.api.DeployAccepted;
import dev.karta.api.LogEntry;
import dev.karta.api.Printable;
import dev.karta.api.Project;
import java.io.PrintStream;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/**
 * {@code karta deploy NAME --commit SHA [--wait]}: queues a build of a commit the server can
 * fetch (pushed to the project, or in its bound repository); with {@code --wait} follows the
 * build log and exits with the outcome.
 */
final class DeployCommand {
    private final Cli cli;

    DeployCommand(Cli cli) {
        this.cli = cli;
    }

    static CommandSpec spec(Cli cli) {
        DeployCommand deploy = new DeployCommand(cli);
        PositionalParamSpec project = Commands.parameter("NAME", "The project.");
        OptionSpec commit = Commands.option("--commit").required(true).paramLabel("SHA")
                .description("The commit to build.").build();
        OptionSpec await = Commands.flag("--wait").description("Stream the build log and wait for the outcome.").build();
        return Commands.command("deploy", () -> deploy.deploy(project.getValue(), commit.getValue(), await.getValue()),
                "Build and release one commit of a project.",
                "The commit must be in the project's git repository (`git push karta`) or its bound repository.",
                "With --wait the build log is streamed and the exit code is the outcome: 0 released, 1 not.")
                .addPositional(project).addOption(commit).addOption(await);
    }

    int deploy(String project, String commit, boolean await) {
        ApiClient api = cli.api();
        ApiClient.Reply<DeployAccepted> reply = api.deploy(project, commit);
        DeployAccepted accepted = reply.value();
        Output output = cli.output();
        if (!await) {
            if (output.jsonMode()) {
                output.json(reply.body());
            } else {
                output.line("Queued deploy " + accepted.deployId() + " of " + accepted.project() + " at "
                        + Output.shortSha(accepted.commitSha()));
                cli.say("Follow it with `karta deploy " + project + " --commit " + commit + " --wait`"
                        + " next time, or see `karta projects releases " + project + "`.");
            }
            return 0;
        }
        cli.say("Deploying " + Output.shortSha(accepted.commitSha()) + " to " + accepted.project() + " ("
                + accepted.deployId() + ")");
        Deploy finished = follow(cli, api, accepted.project(), accepted.deployId());
        return finish(cli, api, finished);
    }

    /** Streams a deploy's build log (to stdout, or stderr with --json) until it ends. */
    static Deploy follow(Cli cli, ApiClient api, String project, String deployId) {
        PrintStream logs = cli.output().jsonMode() ? cli.env().stderr() : cli.env().stdout();
        return BuildLog.standard(api, message -> cli.say("karta: " + message))
                .follow(project, deployId, entry -> print(logs, entry));
    }

    /**
     * Reports a finished deploy: "Released v4 — URL" (or, on a pinned project, that v4 is built but
     * not live) and 0, or the reason and 1.
     */
    static int finish(Cli cli, ApiClient api, Deploy deploy) {
        Output output = cli.output();
        if (output.jsonMode()) {
            output.json(deploy);
        }
        switch (deploy.status()) {
            case "succeeded" -> {
                if (!output.jsonMode()) {
                    Project project = api.project(deploy.project()).value();
                    boolean live = project.currentRelease() != null
                            && deploy.release().equals(project.currentRelease().version());
                    if (project.pinned() != null && !live) {
                        output.line("Built " + deploy.release() + ", not live: " + deploy.project() + " is pinned to "
                                + project.pinned().version() + " (`karta releases activate " + deploy.project() + " "
                                + deploy.release() + "` or `karta unpin " + deploy.project() + "`) — "
                                + project.url());
                    } else {
                        output.line("Released " + deploy.release() + " — " + project.url());
                    }
                }
                return 0;
            }
            case "failed" -> throw CliError.failed("build failed: "
                    + (deploy.error() == null ? "see the log above" : deploy.error()));
            case "superseded" -> throw CliError.failed("deploy " + deploy.id()
                    + " was superseded by a newer deploy of " + deploy.project() + " before it started");
            case "canceled" -> throw CliError.failed("deploy " + deploy.id() + " was canceled");
            default -> throw CliError.failed("deploy " + deploy.id() + " ended as '" + deploy.status() + "'");
        }
    }

    /** One entry, one line: a build's output cannot fake a line of its own or drive the terminal. */
    private static void print(PrintStream out, LogEntry entry) {
        out.println("  " + Printable.line(entry.message() == null ? "" : entry.message()));
    }
}
