package dev.karta.cli;

import dev.karta.api.ConfigPatch;
import dev.karta.api.ConfigUpdate;
import dev.karta.api.Printable;
import dev.karta.api.ProjectConfig;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/**
 * {@code karta config NAME [--reveal]}, {@code karta config set NAME KEY=VALUE…} and
 * {@code karta config unset NAME KEY…}. Every change makes a new release with the same code and
 * the new config, live at once. Values are never printed unless asked for, and never quoted in
 * an error: a malformed argument is named by its position.
 */
final class ConfigCommand {
    private static final Pattern NAME = Pattern.compile("[A-Z_][A-Z0-9_]{0,63}");
    static final String HIDDEN = "<hidden>";

    private final Cli cli;

    ConfigCommand(Cli cli) {
        this.cli = cli;
    }

    static CommandSpec spec(Cli cli) {
        ConfigCommand config = new ConfigCommand(cli);
        PositionalParamSpec project = Commands.optionalParameter("NAME", "The project.");
        OptionSpec reveal = Commands.flag("--reveal").description("Show the values too (needs an admin key).").build();
        CommandSpec spec = Commands.command("config", () -> config.show(project.getValue(), reveal.getValue()),
                "Show or change a project's config vars (environment variables of its harness).",
                "Each change makes a new release with the same code and the new config, live at once; "
                        + "`karta rollback` brings back a release's config with its code.")
                .addPositional(project).addOption(reveal)
                .addSubcommand("set", config.setCommand()).addSubcommand("unset", config.unsetCommand());
        spec.usageMessage().footer("", "Examples:", "  karta config shop", "  karta config set shop ANTHROPIC_API_KEY=sk-ant-…",
                "  karta config unset shop OLD_FLAG");
        return spec;
    }

    int show(String project, boolean reveal) {
        if (project == null) {
            throw CliError.usage("Missing the project: karta config NAME (or `karta config set|unset NAME …`)");
        }
        ApiClient.Reply<ProjectConfig> reply = cli.api().config(project, reveal);
        Output output = cli.output();
        if (output.jsonMode()) {
            output.json(reply.body());
            return 0;
        }
        ProjectConfig config = reply.value();
        if (config.vars().isEmpty()) {
            cli.say(config.project() + " has no config vars. Set one with `karta config set " + config.project()
                    + " NAME=value`.");
            return 0;
        }
        List<List<String>> rows = new ArrayList<>();
        config.vars().forEach((name, value) -> rows.add(List.of(name, reveal && value != null ? value : HIDDEN)));
        output.table(List.of("NAME", "VALUE"), rows);
        return 0;
    }

    private CommandSpec setCommand() {
        PositionalParamSpec name = Commands.parameter("NAME", "The project.");
        PositionalParamSpec assignments = words("KEY=VALUE", "Vars to set.");
        return Commands.command("set", () -> set(name.getValue(), assignments.getValue()),
                "Set config vars: a new release with the same code goes live at once.",
                "KEY= sets an empty value. Values are sent to the server only, never printed.")
                .addPositional(name).addPositional(assignments);
    }

    /** One or more words after the project. */
    private static PositionalParamSpec words(String label, String description) {
        return PositionalParamSpec.builder().index("1..*").arity("1..*").required(true).type(List.class)
                .auxiliaryTypes(String.class).paramLabel(label).description(description).build();
    }

    int set(String name, List<String> assignments) {
        Map<String, String> set = new LinkedHashMap<>();
        for (int i = 0; i < assignments.size(); i++) {
            String arg = assignments.get(i);
            int eq = arg.indexOf('=');
            if (eq < 0) {
                // Never echoed: it may well be a value typed without its name.
                throw CliError.usage("argument " + (i + 1) + " after the project is not KEY=VALUE");
            }
            String key = arg.substring(0, eq);
            checkName(key);
            if (set.put(key, arg.substring(eq + 1)) != null) {
                throw CliError.usage(key + " is given twice");
            }
        }
        return change(name, new ConfigPatch(set, List.of()), "Set " + String.join(", ", set.keySet()));
    }

    private CommandSpec unsetCommand() {
        PositionalParamSpec name = Commands.parameter("NAME", "The project.");
        PositionalParamSpec keys = words("KEY", "Vars to remove.");
        return Commands.command("unset", () -> unset(name.getValue(), keys.getValue()),
                "Remove config vars: a new release with the same code goes live at once.")
                .addPositional(name).addPositional(keys);
    }

    int unset(String name, List<String> keys) {
        for (String key : keys) {
            if (key.contains("=")) {
                throw CliError.usage("unset takes names only (KEY), not KEY=VALUE");
            }
            checkName(key);
        }
        return change(name, new ConfigPatch(Map.of(), List.copyOf(new LinkedHashSet<>(keys))),
                "Unset " + String.join(", ", new LinkedHashSet<>(keys)));
    }

    private int change(String name, ConfigPatch patch, String what) {
        ApiClient.Reply<ConfigUpdate> reply = cli.api().changeConfig(name, patch);
        Output output = cli.output();
        if (output.jsonMode()) {
            output.json(reply.body());
            return 0;
        }
        ConfigUpdate update = reply.value();
        if (update.newRelease() != null) {
            output.line(what + " on " + update.project() + ": " + update.newRelease() + " is live.");
        } else if (update.release() == null) {
            output.line(what + " on " + update.project() + ": kept for its first release.");
        } else {
            output.line("No change on " + update.project() + ": " + update.release() + " stays live.");
        }
        return 0;
    }

    /** A name the server would refuse, refused here with the same rule (it is a name: safe to show). */
    private static void checkName(String key) {
        if (key.isEmpty()) {
            throw CliError.usage("an argument has no name before '='");
        }
        if (!NAME.matcher(key).matches()) {
            throw CliError.usage(key.length() > 64 ? "a name is longer than 64 characters"
                    : "'" + Printable.line(key) + "' is not a config var name: use A-Z, 0-9 and _, not starting "
                    + "with a digit");
        }
    }
}
