package dev.karta.server.logs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.karta.server.Config;
import dev.karta.server.testkit.EachDatabase;
import dev.karta.server.testkit.TestDatabase;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.AfterParameterizedClassInvocation;
import org.junit.jupiter.params.BeforeParameterizedClassInvocation;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.ArgumentsSource;

/** Logs are pruned in the background by age and by count per project. */
@ParameterizedClass(name = "on {0}")
@ArgumentsSource(EachDatabase.class)
class LogRetentionTest {
    @Parameter
    TestDatabase database;
    @TempDir
    static Path temp;
    static LogsHarness server;

    @BeforeParameterizedClassInvocation
    static void start(TestDatabase database) {
        Config.Logs d = Config.Logs.DEFAULTS;
        server = LogsHarness.start(database, temp.resolve(database.toString()),
                new Config.Logs(Duration.ofHours(1), 5, Duration.ofMillis(100), d.heartbeat(), d.streamBuffer()));
    }

    @AfterParameterizedClassInvocation
    static void stop() {
        server.close();
    }

    @Test
    void a_project_keeps_only_its_newest_max_entries() {
        String id = server.createProject("by-count");
        String other = server.createProject("by-count-other");
        for (int i = 0; i < 20; i++) {
            server.append(id, LogSource.BUILD, "line " + i);
        }
        server.append(other, LogSource.BUILD, "other");

        await().until(() -> server.ids(id).size() == 5);

        assertThat(LogsHarness.messages(server.get("/agent_projects/by-count/logs", server.adminKey)))
                .containsExactly("line 15", "line 16", "line 17", "line 18", "line 19");
        assertThat(server.ids(other)).hasSize(2);
    }

    @Test
    void entries_older_than_the_retention_are_pruned() {
        String id = server.createProject("by-age");
        server.append(id, LogSource.BUILD, "old");
        server.append(id, LogSource.BUILD, "recent");
        List<Long> ids = server.ids(id);
        server.backdate(ids.get(0), Duration.ofHours(2));
        server.backdate(ids.get(1), Duration.ofMinutes(61));

        await().until(() -> server.ids(id).size() == 1);

        assertThat(LogsHarness.messages(server.get("/agent_projects/by-age/logs", server.adminKey)))
                .containsExactly("recent");
    }
}
