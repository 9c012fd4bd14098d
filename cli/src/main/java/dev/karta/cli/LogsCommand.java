package dev.karta.cli;

import dev.karta.api.Durations;
import dev.karta.api.LogEntries;
import dev.karta.api.LogEntry;
import java.io.PrintStream;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/**
 * {@code karta logs NAME [--tail] [--since T] [--until T] [-n N] [--source S]} (docs/logs.md):
 * a window of the project's log, or with {@code --tail} the log followed live until Ctrl-C.
 * Options are checked here for a quick usage error, in the forms the server accepts; the
 * server's answer still decides.
 */
final class LogsCommand {
    static final Set<String> SOURCES = Set.of("build", "release", "session", "system");

    private final Cli cli;

    /** What the command line asks for. */
    private record Request(String project, boolean tail, String since, String until, Integer limit, String source) {
    }

    LogsCommand(Cli cli) {
        this.cli = cli;
    }

    static CommandSpec spec(Cli cli) {
        LogsCommand logs = new LogsCommand(cli);
        PositionalParamSpec project = Commands.parameter("NAME", "The project.");
        OptionSpec tail = Commands.flag("-f", "--tail").description("Follow the log live (Ctrl-C to stop).").build();
        OptionSpec since = Commands.option("--since").paramLabel("TIME")
                .description("Entries from this time on: 2026-06-01T00:00:00Z, or an age such as 30s, 10m, 2h, 1d.")
                .build();
        OptionSpec until = Commands.option("--until").paramLabel("TIME")
                .description("Entries before this time (not with --tail).").build();
        OptionSpec limit = OptionSpec.builder("-n", "--limit").type(Integer.class).paramLabel("N")
                .description("The newest N entries of the window (server default 100, at most 10000).").build();
        OptionSpec source = Commands.option("--source").paramLabel("SOURCE")
                .description("Only build, release, session or system lines.").build();
        return Commands.command("logs", () -> logs.show(new Request(project.getValue(), tail.getValue(),
                        since.getValue(), until.getValue(), limit.getValue(), source.getValue())),
                "Show a project's log: build, release, session and system lines, oldest first.",
                "With --tail, show the last entries and follow new ones live until Ctrl-C; a dropped",
                "connection (a server restart, the network) is resumed without losing or repeating a line.",
                "With --json, each entry is printed as one JSON object per line.")
                .addPositional(project).addOption(tail).addOption(since).addOption(until).addOption(limit)
                .addOption(source);
    }

    int show(Request request) {
        Map<String, String> query = query(request);
        ApiClient api = cli.api();
        Output output = cli.output();
        try {
            if (request.tail()) {
                follow(api, output.jsonMode(), request, query);
            } else {
                list(api, output.jsonMode(), request, query);
            }
        } catch (CliError e) {
            // docs/logs.md: the server refusing an option is a usage error, with its message.
            if (e.httpStatus() == 400) {
                throw CliError.usage(e.getMessage());
            }
            throw e;
        }
        return 0;
    }

    private void list(ApiClient api, boolean jsonMode, Request request, Map<String, String> query) {
        ApiClient.Reply<LogEntries> reply = api.logs(request.project(), query);
        PrintStream out = cli.env().stdout();
        if (jsonMode) {
            Object entries = reply.body() instanceof Map<?, ?> body ? body.get("entries") : null;
            if (entries instanceof List<?> list) {
                list.forEach(entry -> out.println(JsonText.compact(entry)));
            }
            return;
        }
        List<LogEntry> entries = reply.value().entries();
        if (entries.isEmpty()) {
            cli.say("No log entries of " + request.project()
                    + (request.since() != null || request.until() != null || request.source() != null
                    ? " match." : " yet."));
            return;
        }
        LogLines lines = LogLines.fitting(out, colour(), entries);
        entries.forEach(lines::print);
    }

    private void follow(ApiClient api, boolean jsonMode, Request request, Map<String, String> query) {
        PrintStream out = cli.env().stdout();
        LogLines lines = LogLines.following(out, colour());
        LogTail logTail = LogTail.standard(api, message -> cli.say("karta: " + message));
        CtrlC.Watch ctrlC = cli.env().ctrlC().watch(logTail::stop);
        try {
            logTail.follow(request.project(), query, request.since() != null, (entry, data) -> {
                if (jsonMode) {
                    out.println(Output.jsonLine(data));
                } else {
                    lines.print(entry);
                }
            });
        } finally {
            ctrlC.close();
        }
    }

    /** Colour on a terminal only, and never when NO_COLOR is set (https://no-color.org). */
    private boolean colour() {
        Environment env = cli.env();
        return env.interactive() && env.variable("NO_COLOR") == null && !"dumb".equals(env.variable("TERM"));
    }

    /** The query parameters of both requests, after checking the options. */
    private Map<String, String> query(Request request) {
        Instant now = cli.env().clock().instant();
        Instant from = time("--since", request.since(), now);
        Instant to = time("--until", request.until(), now);
        if (request.tail() && request.until() != null) {
            throw CliError.usage("--until cannot be used with --tail: a tail follows new entries");
        }
        if (from != null && to != null && !from.isBefore(to)) {
            throw CliError.usage("--since (" + from + ") must be before --until (" + to + ")");
        }
        if (request.limit() != null && request.limit() < 1) {
            throw CliError.usage("-n must be at least 1, got " + request.limit());
        }
        if (request.source() != null && !SOURCES.contains(request.source())) {
            throw CliError.usage("invalid --source '" + request.source() + "': use build, release, session or system");
        }
        Map<String, String> query = new LinkedHashMap<>();
        query.put("since", request.since() == null ? null : request.since().trim());
        query.put("until", request.until() == null ? null : request.until().trim());
        query.put("limit", request.limit() == null ? null : request.limit().toString());
        query.put("source", request.source());
        return query;
    }

    /** The time an option names (RFC 3339, or an age before now); null when absent; a usage error when neither. */
    static Instant time(String option, String value, Instant now) {
        if (value == null) {
            return null;
        }
        try {
            Instant time = Durations.timeOrAge(value, now);
            if (time == null) {
                throw new IllegalArgumentException(Durations.TIME_FORMS);
            }
            return time;
        } catch (IllegalArgumentException e) {
            throw CliError.usage("invalid " + option + " '" + value + "': " + Durations.TIME_FORMS);
        }
    }
}
