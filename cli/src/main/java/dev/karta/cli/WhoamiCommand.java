package dev.karta.cli;

import dev.karta.api.WhoAmI;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Model.CommandSpec;

/** {@code karta whoami}: the server, org and key the CLI is using, as the server sees them. */
final class WhoamiCommand implements Callable<Integer> {
    private final Cli cli;

    WhoamiCommand(Cli cli) {
        this.cli = cli;
    }

    static CommandSpec spec(Cli cli) {
        return Commands.command("whoami", new WhoamiCommand(cli), "Show the server, org and API key in use.");
    }

    @Override
    public Integer call() {
        ApiClient api = cli.api();
        ApiClient.Reply<WhoAmI> reply = api.whoami();
        Output output = cli.output();
        if (output.jsonMode()) {
            output.json(reply.body());
            return 0;
        }
        WhoAmI me = reply.value();
        String keySource = switch (cli.settings().keySource()) {
            case ENVIRONMENT -> " (from " + Settings.ENV_API_KEY + ")";
            default -> "";
        };
        List<List<String>> fields = new ArrayList<>(List.of(
                List.of("Server", api.server()),
                List.of("Org", me.org()),
                List.of("Key", me.key().name() + " (" + me.key().id() + ")" + keySource),
                List.of("Scope", String.join(",", me.key().scopes()))));
        // Shown only for keys that have them, as most keys see the whole org and never expire.
        if (me.key().project() != null) {
            fields.add(List.of("Project", me.key().project() + " (this key sees no other project)"));
        }
        if (me.key().expiresAt() != null) {
            fields.add(List.of("Expires", me.key().expiresAt() + " (" + output.relative(me.key().expiresAt()) + ")"));
        }
        output.fields(fields);
        return 0;
    }
}
