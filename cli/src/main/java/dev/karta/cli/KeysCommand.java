package dev.karta.cli;

import dev.karta.api.ApiKey;
import dev.karta.api.ApiKeyList;
import dev.karta.api.CreatedApiKey;
import dev.karta.api.Printable;
import java.util.List;
import java.util.Locale;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code karta keys list | create | revoke}. */
@Command(name = "keys", mixinStandardHelpOptions = true,
        description = "List, create and revoke the API keys of your org.")
final class KeysCommand {
    /** The scope levels a key may have, lowest first: each includes the ones before it. */
    enum Scope { read, write, admin }

    private final Cli cli;

    KeysCommand(Cli cli) {
        this.cli = cli;
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List API keys (never their secrets).")
    int list() {
        ApiClient.Reply<ApiKeyList> reply = cli.api().keys();
        Output output = cli.output();
        if (output.jsonMode()) {
            output.json(reply.body());
            return 0;
        }
        List<ApiKey> keys = reply.value().apiKeys();
        output.table(List.of("ID", "NAME", "SCOPE", "PREFIX", "STATUS", "CREATED", "LAST USED"), keys.stream()
                .map(k -> List.of(
                        k.id(),
                        k.name(),
                        k.scopes() == null ? Output.NONE : String.join(",", k.scopes()),
                        Output.or(k.prefix()),
                        k.revokedAt() == null ? "active" : "revoked " + output.age(k.revokedAt()),
                        output.age(k.createdAt()),
                        k.lastUsedAt() == null ? "never" : output.age(k.lastUsedAt())))
                .toList());
        return 0;
    }

    @Command(name = "create", mixinStandardHelpOptions = true,
            description = "Create an API key and print its secret, once.")
    int create(@Parameters(paramLabel = "NAME", description = "A name that says who or what uses the key.") String name,
               @Option(names = "--scope", required = true, paramLabel = "SCOPE",
                       description = "read, write or admin (each includes the ones before it).") Scope scope) {
        ApiClient.Reply<CreatedApiKey> reply = cli.api().createKey(name, scope.name().toLowerCase(Locale.ROOT));
        Output output = cli.output();
        if (output.jsonMode()) {
            output.json(reply.body());
            return 0;
        }
        CreatedApiKey created = reply.value();
        output.line("Created key " + Printable.line(created.apiKey().name()) + " (" + created.apiKey().id() + ") with scope "
                + String.join(",", created.apiKey().scopes()) + ":");
        output.line("");
        output.line("    " + created.secret());
        output.line("");
        cli.say("Copy it now: this is the only time the secret is shown. Revoke it with `karta keys revoke "
                + created.apiKey().id() + "`.");
        return 0;
    }

    @Command(name = "revoke", mixinStandardHelpOptions = true,
            description = "Revoke an API key; it stops working at once.")
    int revoke(@Parameters(paramLabel = "ID", description = "The key's id (key_…), from `karta keys list`.") String id) {
        cli.api().revokeKey(id);
        if (!cli.output().jsonMode()) {
            cli.output().line("Revoked key " + id);
        }
        return 0;
    }
}
