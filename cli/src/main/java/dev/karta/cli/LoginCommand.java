package dev.karta.cli;

import dev.karta.api.Printable;
import dev.karta.api.WhoAmI;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code karta login}: reads an API key (hidden prompt on a terminal, else the first line of
 * standard input), checks it with {@code GET /whoami}, and only then saves server and key.
 */
final class LoginCommand implements Callable<Integer> {
    static final Pattern KEY_SHAPE = Pattern.compile("kt_live_[A-Za-z0-9]{32}");

    private final Cli cli;

    LoginCommand(Cli cli) {
        this.cli = cli;
    }

    static CommandSpec spec(Cli cli) {
        return Commands.command("login", new LoginCommand(cli),
                "Check an API key against a Karta server and save both for later commands.",
                "On a terminal the key is asked for without echo; otherwise it is read from standard input, "
                        + "e.g. `echo \"$KEY\" | karta login --server https://karta.example.com`.");
    }

    @Override
    public Integer call() {
        String server = cli.settings().server();
        String key = readKey(server);
        if (key == null || key.isEmpty()) {
            throw CliError.usage("no API key given: paste one at the prompt, or pipe it to `karta login`");
        }
        if (!KEY_SHAPE.matcher(key).matches()) {
            throw CliError.auth("that is not a Karta API key: keys look like kt_live_ followed by 32 letters and digits");
        }
        ApiClient.Reply<WhoAmI> reply = cli.client(server, key).whoami();
        WhoAmI me = reply.value();

        ConfigFile file = cli.configFile();
        Map<String, String> values = new LinkedHashMap<>(file.read());
        values.put(ConfigFile.SERVER, server);
        values.put(ConfigFile.API_KEY, key);
        file.write(values);

        if (cli.output().jsonMode()) {
            cli.output().json(reply.body());
        } else {
            cli.output().line("Logged in to " + server + " as " + Printable.line(me.key().name()) + " (org " + me.org() + ", scope "
                    + String.join(",", me.key().scopes()) + ")");
        }
        if (cli.env().variable(Settings.ENV_API_KEY) != null) {
            cli.say("note: " + Settings.ENV_API_KEY + " is set and is used instead of the saved key while it is");
        }
        return 0;
    }

    private String readKey(String server) {
        Terminal terminal = cli.env().terminal();
        if (terminal != null) {
            cli.say("Logging in to " + server + ". Create a key with `karta keys create NAME --scope write`"
                    + " or use the one printed by the server's first start.");
            String typed = terminal.readSecret("API key: ");
            return typed == null ? null : typed.strip();
        }
        try {
            BufferedReader in = new BufferedReader(new InputStreamReader(cli.env().stdin(), StandardCharsets.UTF_8));
            for (String line; (line = in.readLine()) != null; ) {
                if (!line.isBlank()) {
                    return line.strip();
                }
            }
            return null;
        } catch (IOException e) {
            throw CliError.failed("cannot read the key from standard input: " + e.getMessage());
        }
    }
}
