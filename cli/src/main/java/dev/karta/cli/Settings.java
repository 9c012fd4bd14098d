package dev.karta.cli;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.Map;

/**
 * The server to talk to and the key to send, each from the first place that has it: a flag,
 * then the environment ({@code KARTA_SERVER}, {@code KARTA_API_KEY}), then the config file,
 * then the default server. A key from the config file is only sent to the server it was saved
 * for, so {@code --server elsewhere} never leaks it to another host.
 */
record Settings(String server, Source serverSource, String apiKey, Source keySource) {
    static final String DEFAULT_SERVER = "http://127.0.0.1:7070";
    static final String ENV_SERVER = "KARTA_SERVER";
    static final String ENV_API_KEY = "KARTA_API_KEY";

    /** Where a setting came from, for messages such as "KARTA_API_KEY is set". */
    enum Source { FLAG, ENVIRONMENT, CONFIG_FILE, DEFAULT, NONE }

    static Settings resolve(String serverFlag, Environment env, Map<String, String> config) {
        String savedServer = config.get(ConfigFile.SERVER) == null
                ? DEFAULT_SERVER : normalizeServer(config.get(ConfigFile.SERVER), "server in the config file");
        String server;
        Source serverSource;
        if (serverFlag != null && !serverFlag.isBlank()) {
            server = normalizeServer(serverFlag, "--server");
            serverSource = Source.FLAG;
        } else if (env.variable(ENV_SERVER) != null) {
            server = normalizeServer(env.variable(ENV_SERVER), ENV_SERVER);
            serverSource = Source.ENVIRONMENT;
        } else if (config.get(ConfigFile.SERVER) != null) {
            server = savedServer;
            serverSource = Source.CONFIG_FILE;
        } else {
            server = DEFAULT_SERVER;
            serverSource = Source.DEFAULT;
        }

        String savedKey = config.get(ConfigFile.API_KEY);
        if (env.variable(ENV_API_KEY) != null) {
            return new Settings(server, serverSource, env.variable(ENV_API_KEY), Source.ENVIRONMENT);
        }
        if (savedKey != null && !savedKey.isBlank() && savedServer.equals(server)) {
            return new Settings(server, serverSource, savedKey.trim(), Source.CONFIG_FILE);
        }
        return new Settings(server, serverSource, null, Source.NONE);
    }

    /** {@code http(s)://host[:port][/path]} without a trailing slash. */
    static String normalizeServer(String url, String where) {
        String trimmed = url.trim();
        while (trimmed.endsWith("/")) {
            trimmed = trimmed.substring(0, trimmed.length() - 1);
        }
        boolean valid;
        try {
            URI uri = new URI(trimmed);
            valid = ("http".equals(uri.getScheme()) || "https".equals(uri.getScheme())) && uri.getHost() != null;
        } catch (URISyntaxException e) {
            valid = false;
        }
        if (!valid) {
            throw CliError.usage(where + " must be a URL such as http://127.0.0.1:7070, got '" + url.trim() + "'");
        }
        return trimmed;
    }
}
