package dev.karta.server.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.karta.server.testkit.TestServer.Response;
import dev.karta.server.testkit.TestServer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every route against every kind of caller. No, malformed or unknown key is 401; a
 * valid key below the route's scope is 403; at or above it, the route's success status.
 */
class ScopeMatrixTest {
    @TempDir
    static Path dataDir;
    static TestServer server;
    static String readKey;
    static String writeKey;
    static final AtomicInteger SEQUENCE = new AtomicInteger();

    /** Who calls: the level of the key it holds, 0 for none of the valid ones. */
    enum Caller {
        NO_KEY(0), MALFORMED_KEY(0), UNKNOWN_KEY(0), READ(1), WRITE(2), ADMIN(3);

        final int level;

        Caller(int level) {
            this.level = level;
        }

        String key() {
            return switch (this) {
                case NO_KEY -> null;
                case MALFORMED_KEY -> "kt_live_tooShort";
                case UNKNOWN_KEY -> TestServer.randomKey();
                case READ -> readKey;
                case WRITE -> writeKey;
                case ADMIN -> server.adminKey();
            };
        }
    }

    /** A route, the level it needs (0: none) and its success status. */
    enum Route {
        HEALTHZ(0, 200), METRICS(0, 200), WHOAMI(1, 200),
        LIST_PROJECTS(1, 200), CREATE_PROJECT(2, 201), SHOW_PROJECT(1, 200), DELETE_PROJECT(3, 204),
        LIST_KEYS(1, 200), CREATE_KEY(3, 201), REVOKE_KEY(3, 204),
        LIST_AUDIT_EVENTS(3, 200),
        SHOW_CONFIG(1, 200), REVEAL_CONFIG(3, 200), CHANGE_CONFIG(2, 200),
        LIST_WEBHOOK_ENDPOINTS(3, 200), CREATE_WEBHOOK_ENDPOINT(3, 201);

        final int level;
        final int success;

        Route(int level, int success) {
            this.level = level;
            this.success = success;
        }

        /** Calls the route; resources it acts on are made fresh by the admin key first. */
        Response call(String key) {
            return switch (this) {
                case HEALTHZ -> server.get("/healthz", key);
                case METRICS -> server.get("/metrics", key);
                case WHOAMI -> server.get("/whoami", key);
                case LIST_PROJECTS -> server.get("/agent_projects", key);
                case CREATE_PROJECT -> server.post("/agent_projects", key, "{\"name\":\"" + freshName() + "\"}");
                case SHOW_PROJECT -> server.get("/agent_projects/" + freshProject(), key);
                case DELETE_PROJECT -> server.delete("/agent_projects/" + freshProject(), key);
                case LIST_KEYS -> server.get("/api_keys", key);
                case CREATE_KEY -> server.post("/api_keys", key, "{\"name\":\"made\",\"scopes\":[\"read\"]}");
                case REVOKE_KEY -> server.delete("/api_keys/" + freshKeyId(), key);
                case LIST_AUDIT_EVENTS -> server.get("/audit_events", key);
                case SHOW_CONFIG -> server.get("/agent_projects/" + freshProject() + "/config", key);
                case REVEAL_CONFIG -> server.get("/agent_projects/" + freshProject() + "/config?reveal=true", key);
                case CHANGE_CONFIG -> server.patch("/agent_projects/" + freshProject() + "/config", key,
                        "{\"set\":{\"FOO\":\"bar\"}}");
                case LIST_WEBHOOK_ENDPOINTS -> server.get("/webhook_endpoints", key);
                // A documentation address (TEST-NET-3): public to the checks, routed nowhere.
                case CREATE_WEBHOOK_ENDPOINT -> server.post("/webhook_endpoints", key,
                        "{\"url\":\"https://203.0.113.10/hook\",\"events\":[\"deploy.failed\"]}");
            };
        }
    }

    @BeforeAll
    static void start() {
        server = TestServer.start(dataDir);
        readKey = server.createKey("reader", "read");
        writeKey = server.createKey("writer", "write");
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    static Stream<Arguments> routes_and_callers() {
        return Arrays.stream(Route.values())
                .flatMap(route -> Arrays.stream(Caller.values()).map(caller -> Arguments.of(route, caller)));
    }

    @ParameterizedTest(name = "{0} as {1}")
    @MethodSource("routes_and_callers")
    void route_answers_by_scope(Route route, Caller caller) {
        Response response = route.call(caller.key());

        int expected;
        if (route.level == 0) {
            expected = route.success;
        } else if (caller.level == 0) {
            expected = 401;
        } else {
            expected = caller.level >= route.level ? route.success : 403;
        }
        assertThat(response.status()).as("%s as %s: %s", route, caller, response.body()).isEqualTo(expected);
        if (expected == 401) {
            assertThat(response.header("WWW-Authenticate")).startsWith("Bearer");
            assertThat(response.json().get("error").asText()).isEqualTo("unauthorized");
        }
        if (expected == 403) {
            assertThat(response.json().get("error").asText()).isEqualTo("forbidden");
        }
    }

    static String freshName() {
        return "scope-matrix-" + SEQUENCE.incrementAndGet();
    }

    static String freshProject() {
        String name = freshName();
        assertThat(server.post("/agent_projects", server.adminKey(), "{\"name\":\"" + name + "\"}").status())
                .isEqualTo(201);
        return name;
    }

    static String freshKeyId() {
        Response created = server.post("/api_keys", server.adminKey(), "{\"name\":\"victim\",\"scopes\":[\"read\"]}");
        assertThat(created.status()).isEqualTo(201);
        return created.json().at("/api_key/id").asText();
    }
}
