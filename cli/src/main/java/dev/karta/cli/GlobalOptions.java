package dev.karta.cli;

import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.ScopeType;

/**
 * Options every command takes, before or after its name: {@code --json} and {@code --server}.
 * Declared once on {@code karta}; picocli copies them into every subcommand, and the copies share
 * their value with these.
 */
final class GlobalOptions {
    final OptionSpec json = Commands.flag("--json").scopeType(ScopeType.INHERIT)
            .description("Print the server's JSON answer instead of a table.").build();
    final OptionSpec server = Commands.option("--server").scopeType(ScopeType.INHERIT).paramLabel("URL")
            .description("Karta server to talk to (default: $KARTA_SERVER, then the saved login, "
                    + "then " + Settings.DEFAULT_SERVER + ").").build();

    boolean json() {
        return json.getValue();
    }

    String server() {
        return server.getValue();
    }
}
