package dev.karta.server.webhooks;

import static dev.karta.server.webhooks.WebhookFixture.endpoint;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.karta.server.testkit.PostgresDatabase;
import dev.karta.server.testkit.PostgresExtension;
import dev.karta.server.testkit.TestServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** Two servers on one PostgreSQL database both run the delivery worker: each event goes out once, in order. */
@ExtendWith(PostgresExtension.class)
class WebhookReplicasTest {
    private static final int EVENTS = 30;

    @TempDir
    Path dir;

    /** A server on {@code url}; both share one secrets key, as replicas must, to sign with the endpoints' secrets. */
    private TestServer start(Path dataDir, String url, String key) {
        return TestServer.start(TestServer.config(dataDir, key).toBuilder().databaseUrl(url)
                .secretsKeyFile(dir.resolve("secrets.key")).webhooks(WebhookFixture.fast()).build());
    }

    @Test
    void two_servers_deliver_each_event_once_and_in_order(PostgresDatabase postgres) {
        String key = TestServer.randomKey();
        String url = postgres.url();
        try (Receiver receiver = Receiver.start();
             TestServer a = start(dir.resolve("a"), url, key);
             TestServer b = start(dir.resolve("b"), url, key)) {
            endpoint(a, key, receiver, "[\"key.created\"]");
            List<String> names = new ArrayList<>();
            for (int i = 0; i < EVENTS; i++) {
                String name = "ci-" + i;
                (i % 2 == 0 ? a : b).createKey(name, "read");
                names.add(name);
            }

            await().atMost(Duration.ofSeconds(30)).until(() -> receiver.received.size() >= EVENTS);
            // Give a duplicate the time to show up.
            await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(5))
                    .until(() -> receiver.received.size() == EVENTS);
            List<String> got = new ArrayList<>();
            receiver.received.forEach(r -> got.add(r.json().get("data").get("key").get("name").asText()));
            assertThat(got).containsExactlyElementsOf(names);
            assertThat(new HashSet<>(receiver.received.stream().map(Receiver.Received::id).toList())).hasSize(EVENTS);
            assertThat(receiver.received).allMatch(Receiver.Received::verified);
        }
    }
}
