package dev.karta.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.karta.api.Json;
import dev.karta.api.Printable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;

/**
 * What every command works with: the process {@link Environment}, the global options as parsed,
 * and, built on first use, the settings, the JSON mapper and the API client.
 */
final class Cli {
    private final Environment env;
    private final GlobalOptions options;
    private final String version;
    private final FutureTask<ObjectMapper> json = new FutureTask<>(Json::newMapper);
    private Settings settings;

    Cli(Environment env, GlobalOptions options, String version) {
        this.env = env;
        this.options = options;
        this.version = version;
    }

    /**
     * Starts building the JSON mapper on another thread: it takes a tenth of a second or more,
     * which the second core spends while picocli parses the command line. Only for a command
     * that will use it, so {@code --version}, help and the git credential helper never pay for it.
     */
    void warmUpJson() {
        Thread warmUp = new Thread(json, "karta-json-init");
        warmUp.setDaemon(true);
        warmUp.start();
    }

    Environment env() {
        return env;
    }

    String version() {
        return version;
    }

    ObjectMapper json() {
        json.run(); // builds it here unless the warm-up has (a FutureTask runs once)
        try {
            return json.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw CliError.failed("interrupted");
        } catch (ExecutionException e) {
            throw new IllegalStateException("cannot set up JSON", e.getCause());
        }
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
        return new ApiClient(s.server(), s.apiKey(), this::json, version);
    }

    ApiClient client(String server, String apiKey) {
        return new ApiClient(server, apiKey, this::json, version);
    }

    Output output() {
        return new Output(env.stdout(), json(), options.json(), env.clock().instant());
    }

    /** A message for the person, on standard error; its line breaks kept, control sequences and other control characters removed. */
    void say(String message) {
        env.stderr().println(Printable.lines(message));
    }
}
