package dev.karta.cli;

import dev.karta.api.Deploy;
import dev.karta.api.Preview;
import java.util.List;
import java.util.Locale;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/** {@code karta previews list | create | delete} (docs/previews.md). */
final class PreviewsCommand {
    private final Cli cli;

    PreviewsCommand(Cli cli) {
        this.cli = cli;
    }

    static CommandSpec spec(Cli cli) {
        PreviewsCommand previews = new PreviewsCommand(cli);
        return Commands.group("previews", List.of(previews.listCommand(), previews.createCommand(),
                        previews.deleteCommand()),
                "Preview releases of pull requests: each has its own URL and never moves the project.",
                "`karta releases promote NAME pr-42` makes one the production release.");
    }

    private CommandSpec listCommand() {
        PositionalParamSpec name = Commands.parameter("NAME");
        return Commands.command("list", () -> list(name.getValue()),
                "List a project's previews, most recently pushed first (expired ones too).").addPositional(name);
    }

    private CommandSpec createCommand() {
        PositionalParamSpec name = Commands.parameter("NAME");
        OptionSpec pr = OptionSpec.builder("--pr").type(int.class).required(true).paramLabel("N")
                .description("The pull request number.").build();
        OptionSpec commit = Commands.option("--commit").required(true).paramLabel("SHA")
                .description("The commit to build.").build();
        OptionSpec await = Commands.flag("--wait").description("Stream the build log and wait for the outcome.").build();
        return Commands.command("create", () -> create(name.getValue(), pr.getValue(), commit.getValue(), await.getValue()),
                "Build a commit as the preview of pull request N (write key): for CI without a GitHub binding.",
                "With --wait the build log is streamed and the exit code is the outcome.")
                .addPositional(name).addOption(pr).addOption(commit).addOption(await);
    }

    private CommandSpec deleteCommand() {
        PositionalParamSpec name = Commands.parameter("NAME");
        PositionalParamSpec preview = Commands.parameter("PREVIEW", "pr-42.");
        return Commands.command("delete", () -> delete(name.getValue(), preview.getValue()),
                "Expire a preview now (write key): it takes no new sessions; a new push reopens it.")
                .addPositional(name).addPositional(preview);
    }

    int list(String name) {
        ApiClient.Reply<dev.karta.api.PreviewList> reply = cli.api().previews(name);
        Output output = cli.output();
        if (output.jsonMode()) {
            output.json(reply.body());
            return 0;
        }
        List<Preview> previews = reply.value().previews();
        if (previews.isEmpty()) {
            cli.say("No previews of " + name + " yet: open a pull request on its bound GitHub repository, or run "
                    + "`karta previews create " + name + " --pr 42 --commit SHA`.");
            return 0;
        }
        output.table(List.of("NAME", "STATUS", "RELEASE", "COMMIT", "EXPIRES", "URL"), previews.stream()
                .map(p -> List.of(
                        p.name(),
                        p.status() + (p.expireReason() == null ? "" : " (" + p.expireReason() + ")"),
                        Output.or(p.release()),
                        Output.shortSha(p.commitSha()),
                        p.expiresAt() == null ? Output.NONE : p.expiresAt().toString(),
                        Output.or(p.url())))
                .toList());
        return 0;
    }

    int create(String name, int pr, String commit, boolean await) {
        ApiClient api = cli.api();
        ApiClient.Reply<Preview> reply = api.createPreview(name, "pr-" + pr, commit.toLowerCase(Locale.ROOT));
        Preview preview = reply.value();
        Output output = cli.output();
        if (!await) {
            if (output.jsonMode()) {
                output.json(reply.body());
            } else {
                output.line("Queued preview " + preview.name() + " of " + name + " at "
                        + Output.shortSha(preview.commitSha()) + " (" + preview.deployId() + "): " + preview.url());
            }
            return 0;
        }
        cli.say("Building preview " + preview.name() + " of " + name + " at " + Output.shortSha(preview.commitSha())
                + " (" + preview.deployId() + ")");
        Deploy finished = DeployCommand.follow(cli, api, name, preview.deployId());
        Preview after = api.preview(name, preview.name()).value();
        if (output.jsonMode()) {
            output.json(after);
        }
        if (!"succeeded".equals(finished.status())) {
            throw CliError.failed("preview build " + finished.status() + ": "
                    + (finished.error() == null ? "see the log above" : finished.error()));
        }
        if (!output.jsonMode()) {
            output.line("Preview " + after.release() + " ready — " + after.url());
        }
        return 0;
    }

    int delete(String name, String preview) {
        cli.api().deletePreview(name, preview);
        if (!cli.output().jsonMode()) {
            cli.output().line("Expired preview " + preview + " of " + name);
        }
        return 0;
    }
}
