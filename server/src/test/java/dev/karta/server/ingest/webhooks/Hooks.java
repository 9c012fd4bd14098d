package dev.karta.server.ingest.webhooks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.server.Config;
import dev.karta.server.repos.FakeGitHub;
import dev.karta.server.testkit.TestDatabase;
import dev.karta.server.testkit.TestServer;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Test support for bound repositories: a real server whose GitHub API is a {@link FakeGitHub},
 * binding and deploy calls, and webhook deliveries signed the way GitHub signs them
 * (HMAC-SHA256 of the raw body, hex, after {@code sha256=}).
 */
public final class Hooks {
    private Hooks() {
    }

    /**
     * A server whose GitHub is {@code github}; the operator token is for the owner {@code acme},
     * and the fake's archive host (on loopback) is allowed as the operator would allow an
     * internal host.
     */
    public static TestServer start(Path dataDir, FakeGitHub github, String token) {
        return start(dataDir, new Config.Repos(github.apiUrl(), token, List.of("ssh"), 1L << 20)
                .withAllowed(Set.of("acme"), List.of(github.archiveUrl() + "/")));
    }

    public static TestServer start(Path dataDir, Config.Repos settings) {
        return start(TestDatabase.sqlite(), dataDir, settings);
    }

    /**
     * A server on {@code database} whose bound repositories live on {@code github}, with the
     * default webhook size limit.
     */
    public static TestServer start(TestDatabase database, Path dataDir, FakeGitHub github) {
        return start(database, dataDir, new Config.Repos(github.apiUrl(), null, List.of("ssh"),
                Config.Repos.DEFAULTS.maxWebhookBytes())
                .withAllowed(Set.of("acme"), List.of(github.archiveUrl() + "/")));
    }

    private static TestServer start(TestDatabase database, Path dataDir, Config.Repos settings) {
        return TestServer.start(database.config(dataDir).withRepos(settings));
    }

    /** {@code PUT /agent_projects/{p}/repo}. */
    public static TestServer.Response bind(TestServer server, String key, String project, String body) {
        return server.send(server.request("/agent_projects/" + project + "/repo", key)
                .header("Content-Type", "application/json")
                .PUT(HttpRequest.BodyPublishers.ofString(body)));
    }

    /** Creates {@code project} and binds it; returns the webhook secret. */
    public static String createAndBind(TestServer server, String project, String url, String branch) {
        TestServer.Response created = server.post("/agent_projects", server.adminKey(), "{\"name\":\"" + project + "\"}");
        assertThat(created.status()).as(created.body()).isIn(201, 409);
        TestServer.Response bound = bind(server, server.adminKey(), project,
                "{\"url\":\"" + url + "\"" + (branch == null ? "" : ",\"branch\":\"" + branch + "\"") + "}");
        assertThat(bound.status()).as(bound.body()).isEqualTo(200);
        return bound.json().get("webhook_secret").asText();
    }

    public static String sign(String secret, byte[] body) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
            return "sha256=" + HexFormat.of().formatHex(mac.doFinal(body));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A GitHub {@code push} payload. */
    public static String push(String fullName, String ref, String after) {
        return push(fullName, ref, after, false);
    }

    public static String push(String fullName, String ref, String after, boolean deleted) {
        return "{\"ref\":\"" + ref + "\",\"before\":\"" + "1".repeat(40) + "\",\"after\":\"" + after
                + "\",\"created\":false,\"deleted\":" + deleted + ",\"forced\":false,"
                + "\"repository\":{\"id\":1296269,\"name\":\"" + fullName.substring(fullName.indexOf('/') + 1)
                + "\",\"full_name\":\"" + fullName + "\",\"private\":false,"
                + "\"html_url\":\"https://github.com/" + fullName + "\","
                + "\"clone_url\":\"https://github.com/" + fullName + ".git\","
                + "\"ssh_url\":\"git@github.com:" + fullName + ".git\"},"
                + "\"pusher\":{\"name\":\"octocat\",\"email\":\"octocat@github.com\"},"
                + "\"head_commit\":{\"id\":\"" + after + "\",\"message\":\"Update CLAUDE.md\"}}";
    }

    public static String ping(String fullName) {
        return "{\"zen\":\"Design for failure.\",\"hook_id\":42,\"hook\":{\"type\":\"Repository\",\"events\":[\"push\"]},"
                + "\"repository\":{\"full_name\":\"" + fullName + "\"}}";
    }

    /** Delivers {@code body} as GitHub would, signed with {@code secret} (no signature when null). */
    public static TestServer.Response deliver(TestServer server, String event, String delivery, String body, String secret) {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        return deliver(server, event, delivery, bytes, secret == null ? null : sign(secret, bytes));
    }

    public static TestServer.Response deliver(TestServer server, String event, String delivery, byte[] body,
                                       String signature) {
        HttpRequest.Builder request = server.request("/webhooks/github", null)
                .header("Content-Type", "application/json")
                .header("User-Agent", "GitHub-Hookshot/abc123")
                .header("X-GitHub-Event", event)
                .header("X-GitHub-Delivery", delivery)
                .header("X-GitHub-Hook-ID", "42")
                .POST(HttpRequest.BodyPublishers.ofByteArray(body));
        if (signature != null) {
            request.header("X-Hub-Signature-256", signature);
        }
        return server.send(request);
    }

    public static String newDelivery() {
        return UUID.randomUUID().toString();
    }

    public static JsonNode deploys(TestServer server, String project) {
        return server.get("/agent_projects/" + project + "/deploys", server.adminKey()).json().get("deploys");
    }

    public static JsonNode releases(TestServer server, String project) {
        return server.get("/agent_projects/" + project + "/releases", server.adminKey()).json().get("releases");
    }

    public static JsonNode awaitDeployEnded(TestServer server, String project, String deployId) {
        return awaitStatus(server, project, deployId, "succeeded", "failed", "superseded", "canceled");
    }

    public static JsonNode awaitStatus(TestServer server, String project, String deployId, String... statuses) {
        JsonNode[] last = new JsonNode[1];
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(50)).until(() -> {
            last[0] = server.get("/agent_projects/" + project + "/deploys/" + deployId, server.adminKey()).json();
            return List.of(statuses).contains(last[0].get("status").asText());
        });
        return last[0];
    }

    /** {@code POST /agent_projects/{p}/deploys {"commit_sha"}} with the admin key. */
    public static TestServer.Response deployCommit(TestServer server, String project, String sha) {
        return server.post("/agent_projects/" + project + "/deploys", server.adminKey(),
                "{\"commit_sha\":\"" + sha + "\"}");
    }

    /** The text of every log entry of a project, oldest first, read from the database. */
    public static List<String> projectLog(TestServer server, String project) {
        try (var db = server.openDatabase()) {
            return db.withHandle(h -> h.createQuery("SELECT l.message FROM log_entries l JOIN projects p "
                    + "ON p.id = l.project_id WHERE p.name = :n ORDER BY l.id").bind("n", project)
                    .mapTo(String.class).list());
        }
    }

    /** A 40-hex SHA made from {@code n}. */
    public static String sha(int n) {
        try {
            byte[] hash = java.security.MessageDigest.getInstance("SHA-256")
                    .digest(("commit " + n).getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(hash).substring(0, 40);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }
}
