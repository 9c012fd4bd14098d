package dev.karta.cli;

import java.time.Instant;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code karta repo bind | show | unbind | rotate-secret} (docs/github.md): binds a project to a
 * GitHub repository or any git URL, whose pushes then deploy through a signed webhook.
 */
@Command(name = "repo", mixinStandardHelpOptions = true,
        description = {"Bind a project to a repository: pushes to its branch deploy through a GitHub webhook,",
                "and `karta deploy NAME --commit SHA` fetches the commit from it."})
final class RepoCommand {
    private final Cli cli;

    RepoCommand(Cli cli) {
        this.cli = cli;
    }

    @Command(name = "bind", mixinStandardHelpOptions = true,
            description = {"Bind a project to a repository and print the webhook to set up (its secret is shown once).",
                    "URL: https://github.com/OWNER/REPO, OWNER/REPO, or any git URL (https://, ssh://, file:///…).",
                    "Binding again replaces the binding and issues a new secret."})
    int bind(@Parameters(index = "0", paramLabel = "NAME", description = "The project.") String name,
             @Parameters(index = "1", paramLabel = "URL", description = "The repository.") String url,
             @Option(names = "--branch", paramLabel = "BRANCH", defaultValue = "main",
                     description = "The branch whose pushes deploy (default: ${DEFAULT-VALUE}).") String branch) {
        ApiClient.Reply<BoundRepo> reply = cli.api().bindRepo(name, url, branch);
        Output output = cli.output();
        if (output.jsonMode()) {
            output.json(reply.body());
            return 0;
        }
        BoundRepo bound = reply.value();
        boolean github = "github".equals(bound.source());
        output.line("Bound " + bound.project() + " to " + bound.repo().url() + " (branch " + bound.repo().branch()
                + ", fetched " + (github ? "from GitHub" : "with git") + ")");
        output.line("");
        output.line(github
                ? "Add this webhook on GitHub (repository Settings → Webhooks → Add webhook):"
                : "To deploy on push, add this webhook where the repository is hosted (GitHub or compatible):");
        output.fields(List.of(
                List.of("Payload URL", bound.webhookUrl()),
                List.of("Content type", "application/json"),
                List.of("Secret", bound.webhookSecret() + "  (shown once)"),
                List.of("Events", "Just the push event")));
        return 0;
    }

    @Command(name = "show", mixinStandardHelpOptions = true,
            description = "Show a project's bound repository (never the webhook secret).")
    int show(@Parameters(paramLabel = "NAME", description = "The project.") String name) {
        ApiClient.Reply<BoundRepo> reply = cli.api().repo(name);
        Output output = cli.output();
        if (output.jsonMode()) {
            output.json(reply.body());
            return 0;
        }
        BoundRepo bound = reply.value();
        output.fields(List.of(
                List.of("Project", bound.project()),
                List.of("Repo", bound.repo() == null ? Output.NONE : Output.or(bound.repo().url())),
                List.of("Branch", bound.repo() == null ? Output.NONE : Output.or(bound.repo().branch())),
                List.of("Source", Output.or(bound.source())),
                List.of("Webhook", Output.or(bound.webhookUrl())),
                List.of("Bound", when(output, bound.createdAt())),
                List.of("Secret rotated", when(output, bound.secretRotatedAt()))));
        return 0;
    }

    @Command(name = "unbind", mixinStandardHelpOptions = true,
            description = "Unbind a project: webhook deliveries for it are refused from now on.")
    int unbind(@Parameters(paramLabel = "NAME", description = "The project.") String name) {
        cli.api().unbindRepo(name);
        if (!cli.output().jsonMode()) {
            cli.output().line("Unbound " + name);
        }
        return 0;
    }

    @Command(name = "rotate-secret", mixinStandardHelpOptions = true,
            description = "Issue a new webhook secret; the old one stops working at once.")
    int rotateSecret(@Parameters(paramLabel = "NAME", description = "The project.") String name) {
        ApiClient.Reply<BoundRepo> reply = cli.api().rotateRepoSecret(name);
        Output output = cli.output();
        if (output.jsonMode()) {
            output.json(reply.body());
            return 0;
        }
        output.line("New webhook secret for " + reply.value().project() + " (shown once): "
                + reply.value().webhookSecret());
        cli.say("Paste it into the webhook's Secret field on GitHub: deliveries signed with the old one now get 401.");
        return 0;
    }

    private static String when(Output output, Instant time) {
        return time == null ? Output.NONE : time + " (" + output.age(time) + ")";
    }
}
