package dev.karta.server.logs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.karta.server.Config;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What {@code karta logs --tail} relies on across a server restart: the stream ends cleanly when
 * the server stops, ids keep increasing after it (also past pruned ones), and reconnecting with
 * {@code Last-Event-ID} continues with every later entry once.
 */
class LogRestartTest {
    @TempDir
    Path dataDir;

    @Test
    void a_tail_resumes_across_a_restart_without_gaps_or_repeats() {
        List<Long> seen = new ArrayList<>();
        String projectId;
        long lastBefore;
        try (LogsHarness first = LogsHarness.start(dataDir)) {
            projectId = first.createProject("restarts");
            for (int i = 0; i < 5; i++) {
                first.append(projectId, LogSource.BUILD, "before " + i);
            }
            try (SseTestClient tail = SseTestClient.open(first.port(), "/agent_projects/restarts/logs?tail=true",
                    first.adminKey)) {
                await().until(() -> tail.logEvents().size() == 6);
                first.server.close(); // stopping ends the stream cleanly
                await().until(() -> tail.ended.get());
                seen.addAll(tail.ids());
            }
            lastBefore = seen.get(seen.size() - 1);
            first.db.execute("DELETE FROM log_entries WHERE id = ?", lastBefore); // a pruned newest id is never reused
        }

        Config.Logs logs = Config.Logs.DEFAULTS;
        try (LogsHarness second = LogsHarness.restart(dataDir, logs)) {
            for (int i = 0; i < 3; i++) {
                second.append(projectId, LogSource.BUILD, "after " + i);
            }
            try (SseTestClient tail = SseTestClient.open(second.port(), "/agent_projects/restarts/logs?tail=true",
                    second.adminKey, "Last-Event-ID", Long.toString(lastBefore))) {
                await().until(() -> tail.logEvents().size() == 3);
                second.append(projectId, LogSource.BUILD, "live");
                await().until(() -> tail.logEvents().size() == 4);

                assertThat(tail.messages()).containsExactly("after 0", "after 1", "after 2", "live");
                assertThat(tail.ids().get(0)).isGreaterThan(lastBefore);
                assertThat(tail.ids()).isSorted().doesNotHaveDuplicates();
            }
        }
    }
}
