package dev.karta.cli;

import dev.karta.api.Usage;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code karta usage NAME [--period YYYY-MM]}: what a project did in one calendar month (UTC),
 * and the bytes it stores now (docs/sessions.md).
 */
@Command(name = "usage", mixinStandardHelpOptions = true,
        description = {"Show a project's usage in one month (UTC): deploys, builds, releases, sessions, "
                + "messages, and the bytes it stores now."})
final class UsageCommand implements Callable<Integer> {
    /** The server's period format: a year and a month, 01 to 12. */
    private static final Pattern PERIOD = Pattern.compile("\\d{4}-(0[1-9]|1[0-2])");
    private static final String ROW = "%-11s%s";

    private final Cli cli;

    @Parameters(paramLabel = "NAME", description = "The project.")
    String project;

    @Option(names = "--period", paramLabel = "YYYY-MM", description = "The month, e.g. 2026-11 (default: this month).")
    String period;

    UsageCommand(Cli cli) {
        this.cli = cli;
    }

    static picocli.CommandLine.Model.CommandSpec spec(Cli cli) {
        return picocli.CommandLine.Model.CommandSpec.forAnnotatedObject(new UsageCommand(cli));
    }

    @Override
    public Integer call() {
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
