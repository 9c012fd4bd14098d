package dev.karta.cli;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** {@code karta logout}: forgets the saved key (the saved server stays). Idempotent. */
@Command(name = "logout", mixinStandardHelpOptions = true,
        description = "Remove the saved API key from this machine. The key itself stays valid: "
                + "revoke it with `karta keys revoke ID`.")
final class LogoutCommand implements Callable<Integer> {
    private final Cli cli;

    LogoutCommand(Cli cli) {
        this.cli = cli;
    }

    static picocli.CommandLine.Model.CommandSpec spec(Cli cli) {
        return picocli.CommandLine.Model.CommandSpec.forAnnotatedObject(new LogoutCommand(cli));
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
