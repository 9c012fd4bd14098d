package dev.karta.server.logs;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.server.Config;
import dev.karta.server.testkit.EachDatabase;
import dev.karta.server.testkit.TestDatabase;
import java.net.URLEncoder;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.AfterParameterizedClassInvocation;
import org.junit.jupiter.params.BeforeParameterizedClassInvocation;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.ArgumentsSource;

/** Project logs (docs/logs.md), the query side: {@code GET /agent_projects/{p}/logs} as JSON. */
@ParameterizedClass(name = "on {0}")
@ArgumentsSource(EachDatabase.class)
class LogQueryTest {
    @Parameter
    TestDatabase database;
    @TempDir
    static Path temp;
    static LogsHarness server;

    @BeforeParameterizedClassInvocation
    static void start(TestDatabase database) {
        server = LogsHarness.start(database, temp.resolve(database.toString()), Config.Logs.DEFAULTS);
    }

    @AfterParameterizedClassInvocation
    static void stop() {
        server.close();
    }

    private static HttpResponse<String> logs(String project, String query) {
        return server.get("/agent_projects/" + project + "/logs" + query, server.adminKey);
    }

    private static String encode(String value) {
        return URLEncoder.encode(value, StandardCharsets.UTF_8);
    }

    @Test
    void creating_a_project_writes_a_system_entry() {
        server.createProject("created-one");

        JsonNode entries = LogsHarness.json(logs("created-one", "")).get("entries");

        assertThat(entries).hasSize(1);
        assertThat(entries.get(0).get("source").asText()).isEqualTo("system");
        assertThat(entries.get(0).get("message").asText()).startsWith("Project created-one created");
        assertThat(entries.get(0).get("id").asLong()).isPositive();
        assertThat(Instant.parse(entries.get(0).get("time").asText())).isBeforeOrEqualTo(Instant.now());
    }

    @Test
    void entries_come_oldest_first_and_limit_keeps_the_newest() {
        String id = server.createProject("limits");
        for (int i = 0; i < 150; i++) {
            server.append(id, LogSource.BUILD, "line " + i);
        }

        List<String> byDefault = LogsHarness.messages(logs("limits", ""));
        List<String> five = LogsHarness.messages(logs("limits", "?limit=5"));

        assertThat(byDefault).hasSize(100).startsWith("line 50").endsWith("line 149");
        assertThat(five).containsExactly("line 145", "line 146", "line 147", "line 148", "line 149");
    }

    @Test
    void since_and_until_select_a_window_in_rfc3339_and_relative_forms() {
        String id = server.createProject("windows");
        server.append(id, LogSource.BUILD, "three hours ago");
        server.append(id, LogSource.BUILD, "ninety minutes ago");
        server.append(id, LogSource.BUILD, "just now");
        List<Long> ids = server.ids(id);
        server.backdate(ids.get(0), Duration.ofHours(30)); // the project-created entry
        server.backdate(ids.get(1), Duration.ofHours(3));
        server.backdate(ids.get(2), Duration.ofMinutes(90));

        assertThat(LogsHarness.messages(logs("windows", "?since=2h")))
                .containsExactly("ninety minutes ago", "just now");
        assertThat(LogsHarness.messages(logs("windows", "?since=1d&until=1h")))
                .containsExactly("three hours ago", "ninety minutes ago");
        String twoHoursAgo = Instant.now().minus(Duration.ofHours(2)).toString();
        assertThat(LogsHarness.messages(logs("windows", "?until=" + encode(twoHoursAgo))))
                .containsExactly("Project windows created by key " + adminKeyId(), "three hours ago");
        assertThat(LogsHarness.messages(logs("windows", "?since=" + encode("2000-01-01T01:00:00+01:00") + "&until=30m")))
                .hasSize(3);
    }

    private static String adminKeyId() {
        return LogsHarness.json(server.get("/whoami", server.adminKey)).get("key").get("id").asText();
    }

    @Test
    void source_selects_one_kind_of_entry() {
        String id = server.createProject("sources");
        server.append(id, LogSource.BUILD, "b1");
        server.append(id, LogSource.RELEASE, "r1");
        server.append(id, LogSource.SESSION, "s1");
        server.append(id, LogSource.BUILD, "b2");

        assertThat(LogsHarness.messages(logs("sources", "?source=build"))).containsExactly("b1", "b2");
        assertThat(LogsHarness.messages(logs("sources", "?source=release"))).containsExactly("r1");
        assertThat(LogsHarness.messages(logs("sources", "?source=session&limit=1"))).containsExactly("s1");
    }

    @Test
    void bad_times_answer_400_naming_the_accepted_forms() {
        server.createProject("bad-times");
        for (String query : List.of("?since=yesterday", "?until=2026-13-01T00:00:00Z", "?since=-5m", "?since=10x")) {
            HttpResponse<String> answer = logs("bad-times", query);

            assertThat(answer.statusCode()).as(query).isEqualTo(400);
            assertThat(LogsHarness.json(answer).get("message").asText())
                    .contains("RFC 3339").contains("30s, 10m, 2h or 1d");
        }
    }

    @Test
    void since_not_before_until_is_400() {
        server.createProject("inverted");

        HttpResponse<String> answer = logs("inverted", "?since=1h&until=2h");

        assertThat(answer.statusCode()).isEqualTo(400);
        assertThat(LogsHarness.json(answer).get("message").asText()).contains("must be before until");
    }

    @Test
    void a_bad_source_is_400_listing_the_sources() {
        server.createProject("bad-source");

        HttpResponse<String> answer = logs("bad-source", "?source=runtime");

        assertThat(answer.statusCode()).isEqualTo(400);
        assertThat(LogsHarness.json(answer).get("message").asText()).contains("build, release, session or system");
    }

    @Test
    void limit_outside_1_to_10000_is_400() {
        server.createProject("bad-limit");

        assertThat(logs("bad-limit", "?limit=0").statusCode()).isEqualTo(400);
        assertThat(logs("bad-limit", "?limit=10001").statusCode()).isEqualTo(400);
        assertThat(logs("bad-limit", "?limit=ten").statusCode()).isEqualTo(400);
        assertThat(logs("bad-limit", "?limit=10000").statusCode()).isEqualTo(200);
    }

    @Test
    void an_over_long_line_is_truncated_with_a_marker() {
        String id = server.createProject("long-lines");
        server.append(id, LogSource.BUILD, "x".repeat(LogStore.MAX_MESSAGE + 100));

        String message = LogsHarness.messages(logs("long-lines", "?source=build")).get(0);

        assertThat(message).startsWith("x".repeat(LogStore.MAX_MESSAGE)).endsWith("…[truncated 100 chars]");
    }

    @Test
    void reading_needs_a_key_and_a_read_key_is_enough() {
        server.createProject("scoped");

        HttpResponse<String> anonymous = server.get("/agent_projects/scoped/logs", null);
        HttpResponse<String> anonymousTail = server.get("/agent_projects/scoped/logs?tail=true", null);
        HttpResponse<String> reader = server.get("/agent_projects/scoped/logs", server.createKey("read"));

        assertThat(anonymous.statusCode()).isEqualTo(401);
        assertThat(anonymousTail.statusCode()).isEqualTo(401);
        assertThat(reader.statusCode()).isEqualTo(200);
    }

    @Test
    void another_orgs_project_is_not_found() {
        server.createProject("mine");
        String otherAdmin = server.createOrg("other-org");

        HttpResponse<String> answer = server.get("/agent_projects/mine/logs", otherAdmin);
        HttpResponse<String> tail = server.get("/agent_projects/mine/logs?tail=true", otherAdmin);

        assertThat(answer.statusCode()).isEqualTo(404);
        assertThat(tail.statusCode()).isEqualTo(404);
        assertThat(LogsHarness.json(tail).get("error").asText()).isEqualTo("not_found");
    }

    @Test
    void concurrent_writers_get_ids_in_the_order_of_their_writes() throws Exception {
        String id = server.createProject("concurrent");
        int writers = 6;
        int each = 100;
        ExecutorService pool = Executors.newFixedThreadPool(writers);
        CountDownLatch go = new CountDownLatch(1);
        for (int w = 0; w < writers; w++) {
            int writer = w;
            pool.execute(() -> {
                try {
                    go.await();
                } catch (InterruptedException e) {
                    return;
                }
                for (int i = 0; i < each; i++) {
                    server.append(id, LogSource.BUILD, writer + ":" + i);
                }
            });
        }
        go.countDown();
        pool.shutdown();
        assertThat(pool.awaitTermination(60, TimeUnit.SECONDS)).isTrue();

        JsonNode entries = LogsHarness.json(logs("concurrent", "?source=build&limit=10000")).get("entries");

        assertThat(entries).hasSize(writers * each);
        long lastId = 0;
        int[] next = new int[writers];
        List<Long> ids = new ArrayList<>();
        for (JsonNode entry : entries) {
            long entryId = entry.get("id").asLong();
            assertThat(entryId).isGreaterThan(lastId);
            lastId = entryId;
            ids.add(entryId);
            String[] parts = entry.get("message").asText().split(":");
            int writer = Integer.parseInt(parts[0]);
            assertThat(Integer.parseInt(parts[1])).as("writer %d's order", writer).isEqualTo(next[writer]++);
        }
    }
}
