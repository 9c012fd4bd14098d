package dev.karta.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.api.Durations;
import dev.karta.api.LogEntries;
import dev.karta.api.LogEntry;
import java.io.PrintStream;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code karta logs NAME [--tail] [--since T] [--until T] [-n N] [--source S]} (docs/logs.md):
 * a window of the project's log, or with {@code --tail} the log followed live until Ctrl-C.
 * Options are checked here for a quick usage error, in the forms the server accepts; the
 * server's answer still decides.
 */
@Command(name = "logs", mixinStandardHelpOptions = true,
        description = {"Show a project's log: build, release, session and system lines, oldest first.",
                "With --tail, show the last entries and follow new ones live until Ctrl-C; a dropped",
                "connection (a server restart, the network) is resumed without losing or repeating a line.",
                "With --json, each entry is printed as one JSON object per line."})
final class LogsCommand implements Callable<Integer> {
    static final Set<String> SOURCES = Set.of("build", "release", "session", "system");

    private final Cli cli;

    @Parameters(paramLabel = "NAME", description = "The project.")
    String project;

    @Option(names = {"-f", "--tail"}, description = "Follow the log live (Ctrl-C to stop).")
    boolean tail;

    @Option(names = "--since", paramLabel = "TIME",
            description = "Entries from this time on: 2026-06-01T00:00:00Z, or an age such as 30s, 10m, 2h, 1d.")
    String since;

    @Option(names = "--until", paramLabel = "TIME", description = "Entries before this time (not with --tail).")
    String until;

    @Option(names = {"-n", "--limit"}, paramLabel = "N",
            description = "The newest N entries of the window (server default 100, at most 10000).")
    Integer limit;

    @Option(names = "--source", paramLabel = "SOURCE", description = "Only build, release, session or system lines.")
    String source;

    LogsCommand(Cli cli) {
        this.cli = cli;
    }

    static picocli.CommandLine.Model.CommandSpec spec(Cli cli) {
        return picocli.CommandLine.Model.CommandSpec.forAnnotatedObject(new LogsCommand(cli));
    }

    @Override
    public Integer call() {
        Map<String, String> query = query();
        ApiClient api = cli.api();
        Output output = cli.output();
        try {
            if (tail) {
                follow(api, output.jsonMode(), query);
            } else {
                list(api, output.jsonMode(), query);
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

    private void list(ApiClient api, boolean jsonMode, Map<String, String> query) {
        ApiClient.Reply<LogEntries> reply = api.logs(project, query);
        PrintStream out = cli.env().stdout();
        if (jsonMode) {
            for (JsonNode entry : reply.body().path("entries")) {
                out.println(compact(entry));
            }
            return;
        }
        List<LogEntry> entries = reply.value().entries();
        if (entries.isEmpty()) {
            cli.say("No log entries of " + project + (since != null || until != null || source != null
                    ? " match." : " yet."));
            return;
        }
        LogLines lines = LogLines.fitting(out, colour(), entries);
        entries.forEach(lines::print);
    }

    private void follow(ApiClient api, boolean jsonMode, Map<String, String> query) {
        PrintStream out = cli.env().stdout();
        LogLines lines = LogLines.following(out, colour());
        LogTail logTail = LogTail.standard(api, cli.json(), message -> cli.say("karta: " + message));
        CtrlC.Watch ctrlC = cli.env().ctrlC().watch(logTail::stop);
        try {
            logTail.follow(project, query, since != null, (entry, data) -> {
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
    private Map<String, String> query() {
        Instant now = cli.env().clock().instant();
        Instant from = time("--since", since, now);
        Instant to = time("--until", until, now);
        if (tail && until != null) {
            throw CliError.usage("--until cannot be used with --tail: a tail follows new entries");
        }
        if (from != null && to != null && !from.isBefore(to)) {
            throw CliError.usage("--since (" + from + ") must be before --until (" + to + ")");
        }
        if (limit != null && limit < 1) {
            throw CliError.usage("-n must be at least 1, got " + limit);
        }
        if (source != null && !SOURCES.contains(source)) {
            throw CliError.usage("invalid --source '" + source + "': use build, release, session or system");
        }
        Map<String, String> query = new LinkedHashMap<>();
        query.put("since", since == null ? null : since.trim());
        query.put("until", until == null ? null : until.trim());
        query.put("limit", limit == null ? null : limit.toString());
        query.put("source", source);
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

    private String compact(JsonNode node) {
        try {
            return cli.json().writer().with(Output.CONTROL_ESCAPES).writeValueAsString(node);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
