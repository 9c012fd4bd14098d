package dev.karta.cli;

import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

/** Options every command takes, before or after its name: {@code --json} and {@code --server}. */
final class GlobalOptions {
    @Option(names = "--json", scope = ScopeType.INHERIT,
            description = "Print the server's JSON answer instead of a table.")
    boolean json;

    @Option(names = "--server", scope = ScopeType.INHERIT, paramLabel = "URL",
            description = "Karta server to talk to (default: $KARTA_SERVER, then the saved login, "
                    + "then " + Settings.DEFAULT_SERVER + ").")
    String server;
}
