package dev.karta.cli;

import dev.karta.api.Deploy;
import dev.karta.api.Preview;
import java.util.List;
import java.util.Locale;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code karta previews list | create | delete} (docs/previews.md). */
@Command(name = "previews", mixinStandardHelpOptions = true,
        description = {"Preview releases of pull requests: each has its own URL and never moves the project.",
                "`karta releases promote NAME pr-42` makes one the production release."})
final class PreviewsCommand {
    private final Cli cli;

    PreviewsCommand(Cli cli) {
        this.cli = cli;
    }

    static picocli.CommandLine.Model.CommandSpec spec(Cli cli) {
        return picocli.CommandLine.Model.CommandSpec.forAnnotatedObject(new PreviewsCommand(cli));
    }

    @Command(name = "list", mixinStandardHelpOptions = true,
            description = "List a project's previews, most recently pushed first (expired ones too).")
    int list(@Parameters(paramLabel = "NAME") String name) {
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

    @Command(name = "create", mixinStandardHelpOptions = true,
            description = {"Build a commit as the preview of pull request N (write key): for CI without a GitHub "
                    + "binding.", "With --wait the build log is streamed and the exit code is the outcome."})
    int create(@Parameters(paramLabel = "NAME") String name,
               @Option(names = "--pr", required = true, paramLabel = "N", description = "The pull request number.")
               int pr,
               @Option(names = "--commit", required = true, paramLabel = "SHA", description = "The commit to build.")
               String commit,
               @Option(names = "--wait", description = "Stream the build log and wait for the outcome.")
               boolean await) {
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
            output.json(cli.json().valueToTree(after));
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

    @Command(name = "delete", mixinStandardHelpOptions = true,
            description = "Expire a preview now (write key): it takes no new sessions; a new push reopens it.")
    int delete(@Parameters(index = "0", paramLabel = "NAME") String name,
               @Parameters(index = "1", paramLabel = "PREVIEW", description = "pr-42.") String preview) {
        cli.api().deletePreview(name, preview);
        if (!cli.output().jsonMode()) {
            cli.output().line("Expired preview " + preview + " of " + name);
        }
        return 0;
    }
}
