package dev.karta.cli;

import dev.karta.api.Usage;
import java.util.Locale;
import java.util.regex.Pattern;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/**
 * {@code karta usage NAME [--period YYYY-MM]}: what a project did in one calendar month (UTC),
 * and the bytes it stores now (docs/sessions.md).
 */
final class UsageCommand {
    /** The server's period format: a year and a month, 01 to 12. */
    private static final Pattern PERIOD = Pattern.compile("\\d{4}-(0[1-9]|1[0-2])");
    private static final String ROW = "%-11s%s";

    private final Cli cli;

    UsageCommand(Cli cli) {
        this.cli = cli;
    }

    static CommandSpec spec(Cli cli) {
        UsageCommand usage = new UsageCommand(cli);
        PositionalParamSpec project = Commands.parameter("NAME", "The project.");
        OptionSpec period = Commands.option("--period").paramLabel("YYYY-MM")
                .description("The month, e.g. 2026-11 (default: this month).").build();
        return Commands.command("usage", () -> usage.show(project.getValue(), period.getValue()),
                "Show a project's usage in one month (UTC): deploys, builds, releases, sessions, "
                        + "messages, and the bytes it stores now.").addPositional(project).addOption(period);
    }

    int show(String project, String period) {
        if (period != null && !PERIOD.matcher(period).matches()) {
            throw CliError.usage("--period must be a month as YYYY-MM, e.g. 2026-11, got '" + period + "'");
        }
        ApiClient.Reply<Usage> reply;
        try {
            reply = cli.api().usage(project, period);
        } catch (CliError e) {
            throw e.badRequestAsUsage();
        }
        Output output = cli.output();
        if (output.jsonMode()) {
            output.json(reply.body());
            return 0;
        }
        Usage u = reply.value();
        output.line("Usage of " + project + " in " + u.period());
        row(output, "deploys", Long.toString(u.deploys()));
        row(output, "builds", u.buildsSucceeded() + " succeeded, " + u.buildsFailed() + " failed ("
                + String.format(Locale.ROOT, "%.1f s", u.buildSeconds()) + ")");
        row(output, "releases", Long.toString(u.releases()));
        row(output, "sessions", Long.toString(u.sessions()));
        row(output, "messages", Long.toString(u.messages()));
        row(output, "stored", Output.bytes(u.storedBytes()));
        return 0;
    }

    private static void row(Output output, String label, String value) {
        output.line(String.format(Locale.ROOT, ROW, label, value));
    }
}
