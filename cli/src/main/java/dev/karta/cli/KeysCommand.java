package dev.karta.cli;

import dev.karta.api.ApiKey;
import dev.karta.api.ApiKeyList;
import dev.karta.api.CreatedApiKey;
import dev.karta.api.Printable;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/** {@code karta keys list | create | revoke}. */
final class KeysCommand {
    /** The scope levels a key may have, lowest first: each includes the ones before it. */
    enum Scope { read, write, admin }

    private final Cli cli;

    KeysCommand(Cli cli) {
        this.cli = cli;
    }

    static CommandSpec spec(Cli cli) {
        KeysCommand keys = new KeysCommand(cli);
        return Commands.group("keys", List.of(
                Commands.command("list", keys::list, "List API keys (never their secrets)."),
                keys.createCommand(), keys.revokeCommand()),
                "List, create and revoke the API keys of your org.");
    }

    int list() {
        ApiClient.Reply<ApiKeyList> reply = cli.api().keys();
        Output output = cli.output();
        if (output.jsonMode()) {
            output.json(reply.body());
            return 0;
        }
        List<ApiKey> keys = reply.value().apiKeys();
        output.table(List.of("ID", "NAME", "SCOPE", "PREFIX", "STATUS", "PROJECT", "CREATED", "EXPIRES", "LAST USED"),
                keys.stream()
                .map(k -> List.of(
                        k.id(),
                        k.name(),
                        k.scopes() == null ? Output.NONE : String.join(",", k.scopes()),
                        Output.or(k.prefix()),
                        status(k, output),
                        k.project() == null ? "(all)" : k.project(),
                        output.age(k.createdAt()),
                        k.expiresAt() == null ? "never" : output.relative(k.expiresAt()),
                        k.lastUsedAt() == null ? "never" : output.relative(k.lastUsedAt())))
                .toList());
        return 0;
    }

    /** "active", "revoked 3m ago" or "expired"; revocation wins, as the server checks it first. */
    private static String status(ApiKey k, Output output) {
        if (k.revokedAt() != null) {
            return "revoked " + output.age(k.revokedAt());
        }
        if (k.expiresAt() != null && !output.now().isBefore(k.expiresAt())) {
            return "expired";
        }
        return "active";
    }

    private CommandSpec createCommand() {
        PositionalParamSpec name = Commands.parameter("NAME", "A name that says who or what uses the key.");
        OptionSpec scope = OptionSpec.builder("--scope").type(Scope.class).required(true).paramLabel("SCOPE")
                .description("read, write or admin (each includes the ones before it).").build();
        OptionSpec expires = Commands.option("--expires").paramLabel("WHEN")
                .description("When the key stops working: a lifetime (90d, 12h, 2w) or an RFC 3339 time "
                        + "(2027-03-01T00:00:00Z). Default: never.").build();
        OptionSpec project = Commands.option("--project").paramLabel("NAME")
                .description("Restrict the key to this project: it sees and touches no other, and no "
                        + "org-wide resource.").build();
        return Commands.command("create",
                () -> create(name.getValue(), scope.getValue(), expires.getValue(), project.getValue()),
                "Create an API key and print its secret, once.")
                .addPositional(name).addOption(scope).addOption(expires).addOption(project);
    }

    int create(String name, Scope scope, String expires, String project) {
        Instant expiresAt = expiresAt(expires, cli.env().clock().instant());
        ApiClient.Reply<CreatedApiKey> reply;
        try {
            reply = cli.api().createKey(name, scope.name().toLowerCase(Locale.ROOT), expiresAt, project);
        } catch (CliError e) {
            // The server refusing a name or an expiry (too far ahead, say) is a usage error.
            if (e.httpStatus() == 400 || e.httpStatus() == 422) {
                throw CliError.usage(e.getMessage());
            }
            throw e;
        }
        Output output = cli.output();
        if (output.jsonMode()) {
            output.json(reply.body());
            return 0;
        }
        CreatedApiKey created = reply.value();
        ApiKey key = created.apiKey();
        output.line("Created key " + Printable.line(key.name()) + " (" + key.id() + ") with scope "
                + String.join(",", key.scopes())
                + (key.project() == null ? "" : ", restricted to project " + Printable.line(key.project()))
                + (key.expiresAt() == null ? "" : ", expiring " + key.expiresAt()) + ":");
        output.line("");
        output.line("    " + created.secret());
        output.line("");
        cli.say("Copy it now: this is the only time the secret is shown. Revoke it with `karta keys revoke "
                + created.apiKey().id() + "`.");
        return 0;
    }

    private static final Pattern LIFETIME = Pattern.compile("(\\d{1,6})([hdw])");

    /**
     * The time {@code --expires} names: {@code N} hours, days or weeks from {@code now}, or an RFC
     * 3339 time; null when absent; a usage error when it is neither or not in the future. (The
     * server checks the upper bound.)
     */
    static Instant expiresAt(String value, Instant now) {
        if (value == null) {
            return null;
        }
        String text = value.trim();
        Matcher lifetime = LIFETIME.matcher(text);
        Instant at;
        if (lifetime.matches()) {
            long n = Long.parseLong(lifetime.group(1));
            at = now.plus(switch (lifetime.group(2)) {
                case "h" -> Duration.ofHours(n);
                case "d" -> Duration.ofDays(n);
                default -> Duration.ofDays(7 * n);
            });
        } else {
            try {
                at = OffsetDateTime.parse(text, DateTimeFormatter.ISO_OFFSET_DATE_TIME).toInstant();
            } catch (DateTimeParseException e) {
                throw CliError.usage("invalid --expires '" + Printable.line(value) + "': use a lifetime such as 90d, "
                        + "12h or 2w, or an RFC 3339 time such as 2027-03-01T00:00:00Z");
            }
        }
        if (!at.isAfter(now)) {
            throw CliError.usage("invalid --expires '" + Printable.line(value) + "': the key would already be expired");
        }
        return at;
    }

    private CommandSpec revokeCommand() {
        PositionalParamSpec id = Commands.parameter("ID", "The key's id (key_…), from `karta keys list`.");
        return Commands.command("revoke", () -> revoke(id.getValue()), "Revoke an API key; it stops working at once.")
                .addPositional(id);
    }

    int revoke(String id) {
        cli.api().revokeKey(id);
        if (!cli.output().jsonMode()) {
            cli.output().line("Revoked key " + id);
        }
        return 0;
    }
}
