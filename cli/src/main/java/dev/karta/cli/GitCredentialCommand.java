package dev.karta.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/**
 * {@code karta git-credential get|store|erase}: a git credential helper (gitcredentials(7), the
 * protocol in git-credential(1)) that hands git the logged-in key for the logged-in server, so
 * pushes to a Karta remote never carry the key in the URL or in {@code .git/config}. For
 * {@code get} it reads {@code key=value} lines up to a blank line and answers
 * {@code username=karta} and {@code password=KEY} when {@code protocol} and {@code host} are the
 * server's; otherwise, and for every other action, it prints nothing. It never stores anything.
 */
final class GitCredentialCommand {
    private final Cli cli;

    GitCredentialCommand(Cli cli) {
        this.cli = cli;
    }

    static CommandSpec spec(Cli cli) {
        GitCredentialCommand helper = new GitCredentialCommand(cli);
        PositionalParamSpec action = Commands.parameter("ACTION", "get, store or erase (as git calls it).");
        CommandSpec spec = Commands.command("git-credential", () -> helper.answer(action.getValue()),
                "Git credential helper: gives git the logged-in key for the logged-in server.",
                "`karta init` sets it up for the repository; git runs it, people need not.").addPositional(action);
        spec.usageMessage().hidden(true);
        return spec;
    }

    int answer(String action) {
        Map<String, String> request = readRequest();
        // git-credential(1): a helper ignores actions it does not know; store and erase are
        // no-ops because the key lives in the Karta config file, not in git.
        if (!"get".equals(action)) {
            return 0;
        }
        Settings settings = cli.settings();
        if (!sameOrigin(request.get("protocol"), request.get("host"), settings.server())) {
            return 0;
        }
        if (settings.apiKey() == null) {
            cli.say("karta: not logged in to " + settings.server() + ": run `karta login` (or set "
                    + Settings.ENV_API_KEY + ") so git can push");
            return 0;
        }
        PrintStream out = cli.env().stdout();
        out.print("username=karta\npassword=" + settings.apiKey() + "\n");
        out.flush();
        return 0;
    }

    private Map<String, String> readRequest() {
        Map<String, String> values = new HashMap<>();
        try {
            BufferedReader in = new BufferedReader(new InputStreamReader(cli.env().stdin(), StandardCharsets.UTF_8));
            for (String line; (line = in.readLine()) != null && !line.isEmpty(); ) {
                int equals = line.indexOf('=');
                if (equals > 0) {
                    // git-credential(1): a repeated attribute's later value overrides the earlier one.
                    values.put(line.substring(0, equals), line.substring(equals + 1));
                }
            }
        } catch (IOException e) {
            throw CliError.failed("cannot read git's credential request: " + e.getMessage());
        }
        return values;
    }

    /** Whether git's {@code protocol} and {@code host} (host[:port]) name the server of {@code url}. */
    static boolean sameOrigin(String protocol, String host, String url) {
        if (protocol == null || host == null) {
            return false;
        }
        URI server = URI.create(url);
        return protocol.equalsIgnoreCase(server.getScheme())
                && withoutDefaultPort(protocol, host).equalsIgnoreCase(withoutDefaultPort(protocol, hostPort(server)));
    }

    /**
     * {@code scheme://host[:port]} of a URL: the part of a remote URL that a
     * {@code credential.<url>.helper} setting matches (git-config(1), credential.&lt;url&gt;.*).
     */
    static String origin(String url) {
        URI uri;
        try {
            uri = new URI(url);
        } catch (URISyntaxException e) {
            throw CliError.failed("the server gave a git URL that is not a URL: " + url);
        }
        if (uri.getScheme() == null || uri.getHost() == null) {
            throw CliError.failed("the server gave a git URL without a scheme or host: " + url);
        }
        return uri.getScheme().toLowerCase(Locale.ROOT) + "://" + hostPort(uri);
    }

    private static String hostPort(URI uri) {
        return uri.getPort() < 0 ? uri.getHost() : uri.getHost() + ":" + uri.getPort();
    }

    private static String withoutDefaultPort(String protocol, String host) {
        String defaultPort = switch (protocol.toLowerCase(Locale.ROOT)) {
            case "http" -> ":80";
            case "https" -> ":443";
            default -> null;
        };
        return defaultPort != null && host.endsWith(defaultPort)
                ? host.substring(0, host.length() - defaultPort.length()) : host;
    }
}
