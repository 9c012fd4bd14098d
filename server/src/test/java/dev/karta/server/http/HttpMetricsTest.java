package dev.karta.server.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.karta.server.testkit.TestServer.Response;
import dev.karta.server.testkit.TestServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code GET /metrics}: Prometheus text with the timer {@code karta_http_requests_seconds} tagged by
 * method, route template and status. Requests are recorded after their answer is sent, so the
 * tests poll the scrape until the counts arrive.
 */
class HttpMetricsTest {
    private static final Pattern COUNT = Pattern.compile("^karta_http_requests_seconds_count\\{(.*)\\}\\s+(\\S+)$",
            Pattern.MULTILINE);

    @TempDir
    Path dataDir;
    TestServer server;

    @BeforeEach
    void start() {
        server = TestServer.start(dataDir);
        assertThat(server.post("/agent_projects", server.adminKey(), "{\"name\":\"metered-app\"}").status())
                .isEqualTo(201);
    }

    @AfterEach
    void stop() {
        server.close();
    }

    @Test
    void metrics_are_prometheus_text_with_request_counts() {
        server.get("/healthz", null);

        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            Response metrics = server.get("/metrics", null);
            assertThat(metrics.status()).isEqualTo(200);
            assertThat(metrics.header("Content-Type")).startsWith("text/plain");
            assertThat(metrics.body()).contains("# TYPE karta_http_requests_seconds histogram");
            assertThat(COUNT.matcher(metrics.body()).find()).isTrue();
        });
    }

    @Test
    void concrete_paths_never_become_route_labels() {
        server.get("/agent_projects/metered-app", server.adminKey());
        server.get("/agent_projects/no-such-app", server.adminKey());
        server.get("/some/unknown/path-12345", null);

        await().atMost(Duration.ofSeconds(5)).untilAsserted(() ->
                assertThat(total(server.get("/metrics", null).body(), "GET", null, "404")).isGreaterThanOrEqualTo(2));
        String body = server.get("/metrics", null).body();
        assertThat(body).doesNotContain("route=\"/agent_projects/metered-app\"", "route=\"/agent_projects/no-such-app\"",
                "path-12345");
    }

    @Test
    void requests_are_counted_by_route_template() {
        server.get("/agent_projects/metered-app", server.adminKey());
        server.get("/agent_projects/metered-app", server.adminKey());
        server.get("/agent_projects/no-such-app", server.adminKey());
        server.get("/agent_projects", server.adminKey());
        server.get("/agent_projects", null);

        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            String body = server.get("/metrics", null).body();
            assertThat(total(body, "GET", "/agent_projects/{project}", "200")).isEqualTo(2);
            assertThat(total(body, "GET", "/agent_projects/{project}", "404")).isEqualTo(1);
            assertThat(total(body, "GET", "/agent_projects", "200")).isEqualTo(1);
            assertThat(total(body, "GET", "/agent_projects", "401")).isEqualTo(1);
            assertThat(total(body, "POST", "/agent_projects", "201")).isEqualTo(1);
        });
    }

    /** The summed request count of matching series; a null label matches any value. */
    private static double total(String scrape, String method, String route, String status) {
        double sum = 0;
        Matcher m = COUNT.matcher(scrape);
        while (m.find()) {
            String labels = m.group(1);
            if (labels.contains("method=\"" + method + "\"")
                    && (route == null || labels.contains("route=\"" + route + "\""))
                    && labels.contains("status=\"" + status + "\"")) {
                sum += Double.parseDouble(m.group(2));
            }
        }
        return sum;
    }
}
