package dev.karta.server.releases;

import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.server.testkit.TestServer;
import java.net.http.HttpRequest;
import java.time.Duration;

/** Publishes archives to a test server the way {@code karta publish} does, and waits for builds. */
final class Publisher {
    private final TestServer server;

    Publisher(TestServer server) {
        this.server = server;
    }

    TestServer.Response upload(String project, byte[] archive, String key, String... headers) {
        HttpRequest.Builder request = server.request("/agent_projects/" + project + "/releases", key)
                .header("Content-Type", "application/gzip")
                .POST(HttpRequest.BodyPublishers.ofByteArray(archive));
        for (int i = 0; i < headers.length; i += 2) {
            request.header(headers[i], headers[i + 1]);
        }
        return server.send(request);
    }

    /** Uploads and waits for the deploy to end; returns the finished deploy. */
    JsonNode publish(String project, byte[] archive) {
        TestServer.Response accepted = upload(project, archive, server.adminKey());
        if (accepted.status() != 202) {
            throw new AssertionError("publish answered " + accepted.status() + ": " + accepted.body());
        }
        return awaitEnd(project, accepted.json().get("id").asText());
    }

    JsonNode awaitEnd(String project, String deployId) {
        JsonNode[] last = new JsonNode[1];
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(25)).until(() -> {
            last[0] = server.get("/agent_projects/" + project + "/deploys/" + deployId, server.adminKey()).json();
            String status = last[0].get("status").asText();
            return !status.equals("queued") && !status.equals("building");
        });
        return last[0];
    }

    JsonNode releases(String project) {
        return server.get("/agent_projects/" + project + "/releases", server.adminKey()).json().get("releases");
    }

    String active(String project) {
        JsonNode current = server.get("/agent_projects/" + project, server.adminKey()).json().get("current_release");
        return current.isNull() ? null : current.get("version").asText();
    }
}
