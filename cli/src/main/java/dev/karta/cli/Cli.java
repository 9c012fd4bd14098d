package dev.karta.cli;

import dev.karta.api.Printable;

/**
 * What every command works with: the process {@link Environment}, the global options as parsed,
 * and, built on first use, the settings and the API client.
 */
final class Cli {
    private final Environment env;
    private final GlobalOptions options;
    private final String version;
    private Settings settings;

    Cli(Environment env, GlobalOptions options, String version) {
        this.env = env;
        this.options = options;
        this.version = version;
    }

    Environment env() {
        return env;
    }

    String version() {
        return version;
    }

    ConfigFile configFile() {
        return ConfigFile.locate(env);
    }

    Settings settings() {
        if (settings == null) {
            settings = Settings.resolve(options.server(), env, configFile().read());
        }
        return settings;
    }

    /** A client for the configured server and key; not being logged in is an auth error. */
    ApiClient api() {
        Settings s = settings();
        if (s.apiKey() == null) {
            throw CliError.auth("not logged in to " + s.server() + ": run `karta login"
                    + (s.serverSource() == Settings.Source.DEFAULT || s.serverSource() == Settings.Source.CONFIG_FILE
                    ? "" : " --server " + s.server()) + "` or set " + Settings.ENV_API_KEY);
        }
        return new ApiClient(s.server(), s.apiKey(), version);
    }

    ApiClient client(String server, String apiKey) {
        return new ApiClient(server, apiKey, version);
    }

    Output output() {
        return new Output(env.stdout(), options.json(), env.clock().instant());
    }

    /** A message for the person, on standard error; its line breaks kept, control sequences and other control characters removed. */
    void say(String message) {
        env.stderr().println(Printable.lines(message));
    }
}
