package dev.karta.cli;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Model.CommandSpec;

/** {@code karta logout}: forgets the saved key (the saved server stays). Idempotent. */
final class LogoutCommand implements Callable<Integer> {
    private final Cli cli;

    LogoutCommand(Cli cli) {
        this.cli = cli;
    }

    static CommandSpec spec(Cli cli) {
        return Commands.command("logout", new LogoutCommand(cli),
                "Remove the saved API key from this machine. The key itself stays valid: "
                        + "revoke it with `karta keys revoke ID`.");
    }

    @Override
    public Integer call() {
        ConfigFile file = cli.configFile();
        Map<String, String> values = new LinkedHashMap<>(file.read());
        if (values.remove(ConfigFile.API_KEY) == null) {
            cli.say("Not logged in; nothing to do.");
        } else {
            file.write(values);
            cli.say("Logged out of " + values.getOrDefault(ConfigFile.SERVER, Settings.DEFAULT_SERVER) + ".");
        }
        if (cli.env().variable(Settings.ENV_API_KEY) != null) {
            cli.say("note: " + Settings.ENV_API_KEY + " is still set, so commands keep using that key");
        }
        return 0;
    }
}
