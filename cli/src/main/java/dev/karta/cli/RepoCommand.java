package dev.karta.cli;

import dev.karta.api.BoundRepo;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.function.ToIntFunction;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/**
 * {@code karta repo bind | show | unbind | rotate-secret} (docs/github.md): binds a project to a
 * GitHub repository or any git URL, whose pushes then deploy through a signed webhook.
 */
final class RepoCommand {
    private final Cli cli;

    RepoCommand(Cli cli) {
        this.cli = cli;
    }

    static CommandSpec spec(Cli cli) {
        RepoCommand repo = new RepoCommand(cli);
        return Commands.group("repo", List.of(repo.bindCommand(),
                        repo.nameCommand("show", repo::show, "Show a project's bound repository (never the webhook secret)."),
                        repo.nameCommand("unbind", repo::unbind,
                                "Unbind a project: webhook deliveries for it are refused from now on."),
                        repo.nameCommand("rotate-secret", repo::rotateSecret,
                                "Issue a new webhook secret; the old one stops working at once.")),
                "Bind a project to a repository, whose pushes deploy and pull requests get previews.",
                "Pushes to its branch deploy through a GitHub webhook, pull requests build previews",
                "(docs/previews.md), and `karta deploy NAME --commit SHA` fetches the commit from it.");
    }

    /** A subcommand whose only argument is the project. */
    private CommandSpec nameCommand(String command, ToIntFunction<String> handler, String description) {
        PositionalParamSpec name = Commands.parameter("NAME", "The project.");
        return Commands.command(command, () -> handler.applyAsInt(name.getValue()), description).addPositional(name);
    }

    private CommandSpec bindCommand() {
        PositionalParamSpec name = Commands.parameter("NAME", "The project.");
        PositionalParamSpec url = Commands.parameter("URL", "The repository.");
        OptionSpec branch = Commands.option("--branch").paramLabel("BRANCH").defaultValue("main")
                .description("The branch whose pushes deploy (default: ${DEFAULT-VALUE}).").build();
        OptionSpec tokenStdin = Commands.flag("--token-stdin").description("Read a token for the repository from "
                + "standard input (its first non-blank line).", "It is stored encrypted on the server and never shown "
                + "again.").build();
        return Commands.command("bind",
                () -> bind(name.getValue(), url.getValue(), branch.getValue(), tokenStdin.getValue()),
                "Bind a project to a repository and print the webhook to set up (its secret is shown once).",
                "URL: https://github.com/OWNER/REPO, OWNER/REPO, or a git URL over https (ssh:// and file:///… only",
                "where the server's operator allows them).",
                "A private repository needs a token of its own: pass it with --token-stdin (never in argv).",
                "Binding again replaces the binding and issues a new secret.")
                .addPositional(name).addPositional(url).addOption(branch).addOption(tokenStdin);
    }

    int bind(String name, String url, String branch, boolean tokenStdin) {
        String token = tokenStdin ? readToken() : null;
        ApiClient.Reply<BoundRepo> reply = cli.api().bindRepo(name, url, branch, token);
        Output output = cli.output();
        if (output.jsonMode()) {
            output.json(reply.body());
            return 0;
        }
        BoundRepo bound = reply.value();
        boolean github = "github".equals(bound.source());
        output.line("Bound " + bound.project() + " to " + bound.repo().url() + " (branch " + bound.repo().branch()
                + ", fetched " + (github ? "from GitHub" : "with git") + (bound.credentials() ? " with its token" : "")
                + ")");
        output.line("");
        output.line(github
                ? "Add this webhook on GitHub (repository Settings → Webhooks → Add webhook):"
                : "To deploy on push, add this webhook where the repository is hosted (GitHub or compatible):");
        output.fields(List.of(
                List.of("Payload URL", bound.webhookUrl()),
                List.of("Content type", "application/json"),
                List.of("Secret", bound.webhookSecret() + "  (shown once)"),
                List.of("Events", "Pushes, and Pull requests for previews (docs/previews.md)")));
        return 0;
    }

    int show(String name) {
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
                List.of("Secret rotated", when(output, bound.secretRotatedAt())),
                List.of("Credentials", bound.credentials() ? "a token (stored encrypted, never shown)" : "none")));
        return 0;
    }

    int unbind(String name) {
        cli.api().unbindRepo(name);
        if (!cli.output().jsonMode()) {
            cli.output().line("Unbound " + name);
        }
        return 0;
    }

    int rotateSecret(String name) {
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

    /** The first non-blank line of standard input, as {@code karta login} reads a key. */
    private String readToken() {
        try {
            BufferedReader in = new BufferedReader(new InputStreamReader(cli.env().stdin(), StandardCharsets.UTF_8));
            for (String line; (line = in.readLine()) != null; ) {
                if (!line.isBlank()) {
                    return line.strip();
                }
            }
        } catch (IOException e) {
            throw CliError.failed("cannot read the token from standard input: " + e.getMessage());
        }
        throw CliError.usage("--token-stdin read no token from standard input: pipe it in, e.g. "
                + "`printenv REPO_TOKEN | karta repo bind NAME URL --token-stdin`");
    }

    private static String when(Output output, Instant time) {
        return time == null ? Output.NONE : time + " (" + output.age(time) + ")";
    }
}
