package dev.karta.cli;

import dev.karta.api.Printable;
import dev.karta.api.Session;
import dev.karta.api.SessionList;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.ToIntBiFunction;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/**
 * {@code karta sessions list | show | end}: the conversations of a project (docs/sessions.md),
 * each pinned to the release that was active when it began.
 */
final class SessionsCommand {
    /** The session states the server filters by. */
    enum Status { idle, running, ended }

    private final Cli cli;

    SessionsCommand(Cli cli) {
        this.cli = cli;
    }

    static CommandSpec spec(Cli cli) {
        SessionsCommand sessions = new SessionsCommand(cli);
        return Commands.group("sessions", List.of(sessions.listCommand(),
                        sessions.sessionCommand("show", sessions::show,
                                "Show a session: its pinned release, status, turns, workspace size and metadata."),
                        sessions.sessionCommand("end", sessions::end, "End a session; a turn it is running is stopped.",
                                "Ending an ended session changes nothing.")),
                "List, inspect and end the sessions (conversations) of a project.");
    }

    private CommandSpec listCommand() {
        PositionalParamSpec project = Commands.parameter("NAME", "The project.");
        OptionSpec status = OptionSpec.builder("--status").type(Status.class).paramLabel("STATUS")
                .description("Only sessions in this state: ${COMPLETION-CANDIDATES}.").build();
        OptionSpec limit = OptionSpec.builder("--limit").type(Integer.class).paramLabel("N")
                .description("At most N sessions (server default 50, at most 500).").build();
        OptionSpec preview = Commands.option("--preview").paramLabel("PREVIEW")
                .description("Only the sessions of this preview (pr-42).").build();
        return Commands.command("list",
                () -> list(project.getValue(), status.getValue(), limit.getValue(), preview.getValue()),
                "List a project's sessions, newest first, with the release each is pinned to.")
                .addPositional(project).addOption(status).addOption(limit).addOption(preview);
    }

    /** A subcommand about one session: the project and the session's id. */
    private CommandSpec sessionCommand(String command, ToIntBiFunction<String, String> handler, String... description) {
        PositionalParamSpec project = Commands.parameter("NAME", "The project.");
        PositionalParamSpec id = Commands.parameter("ID", "The session's id (sess_…).");
        return Commands.command(command, () -> handler.applyAsInt(project.getValue(), id.getValue()), description)
                .addPositional(project).addPositional(id);
    }

    int list(String project, Status status, Integer limit, String preview) {
        ApiClient.Reply<SessionList> reply;
        try {
            reply = cli.api().sessions(project, preview, status == null ? null : status.name(), limit);
        } catch (CliError e) {
            throw e.badRequestAsUsage();
        }
        Output output = cli.output();
        if (output.jsonMode()) {
            output.json(reply.body());
            return 0;
        }
        List<Session> sessions = reply.value().sessions();
        if (sessions.isEmpty()) {
            String of = preview == null ? project : preview + " of " + project;
            cli.say(status == null ? "No sessions of " + of + " yet." : "No " + status + " sessions of " + of + ".");
            return 0;
        }
        output.table(List.of("ID", "VERSION", "STATUS", "TURNS", "HARNESS", "CREATED", "UPDATED"), sessions.stream()
                .map(s -> List.of(
                        s.id(),
                        s.project() == null ? Output.NONE : Output.or(s.project().version()),
                        Output.or(s.status()),
                        Integer.toString(s.turns()),
                        Output.or(s.harness()),
                        output.age(s.createdAt()),
                        output.age(s.updatedAt())))
                .toList());
        return 0;
    }

    int show(String project, String id) {
        ApiClient.Reply<Session> reply = cli.api().session(project, id);
        Output output = cli.output();
        if (output.jsonMode()) {
            output.json(reply.body());
            return 0;
        }
        Session s = reply.value();
        List<List<String>> fields = new ArrayList<>(List.of(
                List.of("id", s.id()),
                List.of("project", s.project() == null ? Output.NONE : Output.or(s.project().ref())),
                List.of("version", s.project() == null ? Output.NONE : Output.or(s.project().version())),
                List.of("status", Output.or(s.status())),
                List.of("harness", Output.or(s.harness())),
                List.of("turns", Integer.toString(s.turns())),
                List.of("workspace", s.workspaceBytes() == null ? "none on the server"
                        : s.workspaceBytes() + " bytes"),
                List.of("created", when(output, s.createdAt())),
                List.of("updated", when(output, s.updatedAt()))));
        if (s.endedAt() != null || "ended".equals(s.status())) {
            fields.add(List.of("ended", s.endedAt() == null ? Output.or(s.endReason())
                    : s.endedAt() + " (" + output.age(s.endedAt()) + ", " + Output.or(s.endReason()) + ")"));
        }
        Map<String, String> metadata = s.metadata() == null ? Map.of() : new TreeMap<>(s.metadata());
        metadata.forEach((key, value) -> fields.add(List.of("metadata." + printable(key), printable(value))));
        output.fields(fields);
        return 0;
    }

    int end(String project, String id) {
        cli.api().endSession(project, id);
        if (!cli.output().jsonMode()) {
            cli.output().line("Ended session " + id);
        }
        return 0;
    }

    private static String when(Output output, Instant time) {
        return time == null ? Output.NONE : time + " (" + output.age(time) + ")";
    }

    /**
     * Metadata is whatever the session's creator sent: terminal control
     * sequences and other control characters are removed, line breaks become spaces, so one entry
     * stays one line and cannot drive the terminal.
     */
    static String printable(String text) {
        return text == null ? Output.NONE : Printable.line(text);
    }
}
