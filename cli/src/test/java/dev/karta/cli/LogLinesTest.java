package dev.karta.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.karta.api.LogEntry;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class LogLinesTest {
    private static final Instant T = Instant.parse("2026-06-01T10:00:00.250Z");
    private static final String DEPLOY = "dep_01hzy0abcdefghjkmnpqrstvwx";

    private static String print(boolean colour, boolean fitting, LogEntry... entries) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        LogLines lines = fitting ? LogLines.fitting(out, colour, List.of(entries)) : LogLines.following(out, colour);
        for (LogEntry entry : entries) {
            lines.print(entry);
        }
        return bytes.toString(StandardCharsets.UTF_8);
    }

    @Test
    void a_listing_aligns_time_source_deploy_or_release_and_message() {
        String text = print(false, true,
                new LogEntry(1, T, "build", DEPLOY, null, "Fetching upload"),
                new LogEntry(2, T.plusSeconds(1), "release", DEPLOY, "v1", "Released v1"),
                new LogEntry(3, T.plusSeconds(2), "system", null, null, "Project created"));

        assertThat(text).isEqualTo(""
                + "2026-06-01T10:00:00.250Z  build    " + DEPLOY + "  Fetching upload\n"
                + "2026-06-01T10:00:01.250Z  release  v1" + " ".repeat(DEPLOY.length() - 2) + "  Released v1\n"
                + "2026-06-01T10:00:02.250Z  system   -" + " ".repeat(DEPLOY.length() - 1) + "  Project created\n");
    }

    @Test
    void a_tail_keeps_columns_wide_enough_for_a_deploy_id_from_the_first_line() {
        String text = print(false, false,
                new LogEntry(1, T, "system", null, null, "Project created"),
                new LogEntry(2, T, "build", DEPLOY, null, "Fetching upload"));

        List<String> lines = text.lines().toList();
        assertThat(lines.get(0).indexOf("Project created")).isEqualTo(lines.get(1).indexOf("Fetching upload"));
    }

    @Test
    void later_lines_of_a_message_are_indented_to_the_message_column() {
        String text = print(false, true, new LogEntry(1, T, "build", "dep_1", null, "first\nsecond"));

        assertThat(text).isEqualTo("2026-06-01T10:00:00.250Z  build  dep_1  first\n"
                + " ".repeat("2026-06-01T10:00:00.250Z  build  dep_1  ".length()) + "second\n");
    }

    @Test
    void control_sequences_in_messages_are_removed_not_sent_to_the_terminal() {
        String text = print(false, true, new LogEntry(1, T, "build", "dep_1", null,
                "a\u001b[2Jb\rc\u009b2Kd\te\u001b]52;c;QQ==\u0007"));

        assertThat(text).endsWith("  ab cd\te\n");
    }

    @Test
    void colour_paints_time_and_source_and_keeps_the_columns() {
        String text = print(true, true,
                new LogEntry(1, T, "build", "dep_1", null, "x"),
                new LogEntry(2, T, "release", "dep_1", "v1", "y"));

        assertThat(text).contains("\u001b[2m2026-06-01T10:00:00.250Z\u001b[0m  \u001b[36mbuild\u001b[0m    dep_1  x\n")
                .contains("\u001b[32mrelease\u001b[0m  v1     y\n");
        assertThat(text.replaceAll("\u001b\\[[0-9;]*m", "")).isEqualTo(print(false, true,
                new LogEntry(1, T, "build", "dep_1", null, "x"),
                new LogEntry(2, T, "release", "dep_1", "v1", "y")));
    }
}
