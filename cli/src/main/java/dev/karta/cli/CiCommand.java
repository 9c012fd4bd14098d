package dev.karta.cli;

import dev.karta.api.CiTrust;
import dev.karta.api.CreateCiTrust;
import dev.karta.api.OidcKey;
import dev.karta.api.Printable;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/**
 * {@code karta ci trust | list | untrust | token}: keyless CI. A project trusts a GitHub
 * repository's workflows on one ref (and environment); a job of such a workflow turns its GitHub
 * Actions OIDC token into a 15-minute key of the project with {@code karta ci token}.
 */
final class CiCommand {
    private static final Duration GITHUB_TIMEOUT = Duration.ofSeconds(30);
    private static final int MAX_TOKEN_ANSWER = 64 * 1024;

    private final Cli cli;

    CiCommand(Cli cli) {
        this.cli = cli;
    }

    static CommandSpec spec(Cli cli) {
        CiCommand ci = new CiCommand(cli);
        return Commands.group("ci", List.of(ci.trustCommand(), ci.listCommand(), ci.untrustCommand(),
                        ci.tokenCommand()),
                "Keyless CI: let GitHub Actions workflows deploy a project without a stored key.");
    }

    private CommandSpec trustCommand() {
        PositionalParamSpec project = Commands.parameter("NAME", "The project.");
        OptionSpec repository = Commands.option("--github").required(true).paramLabel("OWNER/REPO")
                .description("The GitHub repository whose workflows are trusted.").build();
        OptionSpec ref = Commands.option("--ref").required(true).paramLabel("REF")
                .description("The full git ref the workflow must run on, e.g. refs/heads/main or refs/tags/v1.0.")
                .build();
        OptionSpec environment = Commands.option("--environment").paramLabel("ENV")
                .description("The GitHub deployment environment the job must run in (default: any, or none).").build();
        return Commands.command("trust",
                () -> trust(project.getValue(), repository.getValue(), ref.getValue(), environment.getValue()),
                "Let a GitHub repository's workflows on one ref get short-lived keys of the project (admin).")
                .addPositional(project).addOption(repository).addOption(ref).addOption(environment);
    }

    private CommandSpec listCommand() {
        PositionalParamSpec project = Commands.parameter("NAME", "The project.");
        return Commands.command("list", () -> list(project.getValue()), "List the project's CI trusts.")
                .addPositional(project);
    }

    private CommandSpec untrustCommand() {
        PositionalParamSpec project = Commands.parameter("NAME", "The project.");
        PositionalParamSpec id = Commands.parameter("ID", "The trust's id (cit_…), from `karta ci list`.");
        return Commands.command("untrust", () -> untrust(project.getValue(), id.getValue()),
                "Remove a CI trust from the project (admin); keys it gave expire on their own.")
                .addPositional(project).addPositional(id);
    }

    private CommandSpec tokenCommand() {
        PositionalParamSpec project = Commands.parameter("NAME", "The project to deploy (or ORG/NAME).");
        OptionSpec audience = Commands.option("--audience").paramLabel("URL")
                .description("The audience to request: the server's public URL (default: the server URL).").build();
        return Commands.command("token", () -> token(project.getValue(), audience.getValue()),
                "In a GitHub Actions job: exchange the job's OIDC token for a 15-minute key of the project and print "
                        + "it (needs `permissions: id-token: write`), e.g. KARTA_API_KEY=$(karta ci token NAME).")
                .addPositional(project).addOption(audience);
    }

    int trust(String project, String repository, String ref, String environment) {
        ApiClient.Reply<CiTrust> reply;
        try {
            reply = cli.api().trustCi(project, new CreateCiTrust("github", repository, ref, environment));
        } catch (CliError e) {
            throw e.httpStatus() == 422 ? CliError.usage(e.getMessage()) : e.badRequestAsUsage();
        }
        Output output = cli.output();
        if (output.jsonMode()) {
            output.json(reply.body());
            return 0;
        }
        CiTrust trust = reply.value();
        output.line("Project " + trust.project() + " now trusts GitHub repository " + trust.repository() + " on "
                + Printable.line(trust.ref()) + (trust.environment() == null ? " (any environment)"
                : " in environment " + Printable.line(trust.environment())) + " (" + trust.id() + ")");
        cli.say("A job of that workflow, with `permissions: id-token: write`, gets a key with `karta ci token "
                + trust.project() + "`.");
        return 0;
    }

    int list(String project) {
        ApiClient.Reply<dev.karta.api.CiTrustList> reply = cli.api().ciTrusts(project);
        Output output = cli.output();
        if (output.jsonMode()) {
            output.json(reply.body());
            return 0;
        }
        output.table(List.of("ID", "PROVIDER", "REPOSITORY", "REF", "ENVIRONMENT", "CREATED"),
                reply.value().ciTrusts().stream().map(t -> List.of(t.id(), t.provider(), t.repository(),
                        Printable.line(t.ref()), t.environment() == null ? "(any)" : Printable.line(t.environment()),
                        output.age(t.createdAt()))).toList());
        return 0;
    }

    int untrust(String project, String id) {
        cli.api().untrustCi(project, id);
        if (!cli.output().jsonMode()) {
            cli.output().line("Project " + project + " no longer trusts " + id);
        }
        return 0;
    }

    int token(String project, String audience) {
        String server = cli.settings().server();
        String idToken = githubIdToken(audience == null ? server : audience);
        ApiClient.Reply<OidcKey> reply = cli.client(server, null).exchangeGithubToken(idToken, project);
        Output output = cli.output();
        if (output.jsonMode()) {
            output.json(reply.body());
            return 0;
        }
        OidcKey key = reply.value();
        output.line(key.secret());
        cli.say("Key " + key.apiKey().id() + " may deploy project " + key.apiKey().project() + " until "
                + key.expiresAt() + ".");
        return 0;
    }

    /**
     * The job's OIDC token for {@code audience}, from the runner's token service
     * ({@code ACTIONS_ID_TOKEN_REQUEST_URL}, authorized by {@code ACTIONS_ID_TOKEN_REQUEST_TOKEN}).
     */
    private String githubIdToken(String audience) {
        String url = cli.env().variable("ACTIONS_ID_TOKEN_REQUEST_URL");
        String bearer = cli.env().variable("ACTIONS_ID_TOKEN_REQUEST_TOKEN");
        if (url == null || url.isBlank() || bearer == null || bearer.isBlank()) {
            throw CliError.usage("no GitHub Actions OIDC token to exchange: run this in a GitHub Actions job with "
                    + "`permissions: id-token: write` (ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN "
                    + "are not set)");
        }
        URI uri;
        try {
            uri = URI.create(url + (url.contains("?") ? "&" : "?") + "audience="
                    + URLEncoder.encode(audience, StandardCharsets.UTF_8));
        } catch (IllegalArgumentException e) {
            throw CliError.failed("ACTIONS_ID_TOKEN_REQUEST_URL is not a URL");
        }
        HttpClient http = HttpClient.newBuilder().connectTimeout(GITHUB_TIMEOUT)
                .followRedirects(HttpClient.Redirect.NEVER).build();
        HttpRequest request = HttpRequest.newBuilder(uri).timeout(GITHUB_TIMEOUT)
                .header("Authorization", "Bearer " + bearer).header("Accept", "application/json")
                .header("User-Agent", "karta-cli/" + cli.version()).GET().build();
        try {
            HttpResponse<InputStream> response = http.send(request, HttpResponse.BodyHandlers.ofInputStream());
            byte[] body;
            try (InputStream in = response.body()) {
                body = in.readNBytes(MAX_TOKEN_ANSWER + 1);
            }
            if (response.statusCode() != 200) {
                throw CliError.failed("GitHub's token service answered " + response.statusCode()
                        + " to the OIDC token request: does the job have `permissions: id-token: write`?");
            }
            if (body.length > MAX_TOKEN_ANSWER) {
                throw CliError.failed("GitHub's token service sent more than " + MAX_TOKEN_ANSWER + " bytes");
            }
            Object value = JsonText.parse(body) instanceof Map<?, ?> answer ? answer.get("value") : null;
            if (!(value instanceof String token) || token.isBlank()) {
                throw CliError.failed("GitHub's token service sent no token ('value')");
            }
            return token;
        } catch (JsonText.MalformedJson e) {
            throw CliError.failed("GitHub's token service sent no JSON: " + e.getMessage());
        } catch (IOException e) {
            throw CliError.unavailable("cannot get the job's OIDC token from GitHub: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw CliError.failed("interrupted");
        }
    }
}
