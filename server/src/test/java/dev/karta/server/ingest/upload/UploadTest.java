package dev.karta.server.ingest.upload;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.karta.server.testkit.TarBuilder;
import dev.karta.server.testkit.TestServer;
import dev.karta.server.build.Materializer;
import java.io.IOException;
import java.net.http.HttpRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The upload door ({@code POST /agent_projects/{p}/releases}) against a real server. */
class UploadTest {
    @TempDir
    Path dataDir;

    private TestServer.Response upload(TestServer server, String project, byte[] archive) {
        return server.send(server.request("/agent_projects/" + project + "/releases", server.adminKey())
                .header("Content-Type", "application/gzip")
                .POST(HttpRequest.BodyPublishers.ofByteArray(archive)));
    }

    private TestServer.Response upload(TestServer server, String key, String project, byte[] archive,
                                       String idempotencyKey) {
        HttpRequest.Builder request = server.request("/agent_projects/" + project + "/releases", key)
                .header("Content-Type", "application/gzip");
        if (idempotencyKey != null) {
            request.header("Idempotency-Key", idempotencyKey);
        }
        return server.send(request.POST(HttpRequest.BodyPublishers.ofByteArray(archive)));
    }

    private static void awaitEnd(TestServer server, String project, String deployId) {
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(25)).until(() -> {
            String status = server.get("/agent_projects/" + project + "/deploys/" + deployId, server.adminKey())
                    .json().get("status").asText();
            return !status.equals("queued") && !status.equals("building");
        });
    }

    /** The trees in the store (staging aside). */
    private static List<String> trees(Path dataDir) throws IOException {
        try (Stream<Path> list = Files.list(dataDir.resolve("trees"))) {
            return list.map(p -> p.getFileName().toString()).filter(name -> !name.startsWith(".")).sorted().toList();
        }
    }

    @Test
    void upload_replayed_with_its_idempotency_key_is_answered_without_extracting_the_archive_again()
            throws IOException {
        try (TestServer server = TestServer.start(dataDir)) {
            byte[] archive = TarBuilder.app("replayed");
            TestServer.Response first = upload(server, server.adminKey(), "shop", archive, "publish-1");
            assertThat(first.status()).as(first.body()).isEqualTo(202);
            awaitEnd(server, "shop", first.json().get("id").asText());
            List<String> trees = trees(dataDir);
            assertThat(trees).hasSize(1);
            // Gone since (as if pruned): a replay that extracted again would bring it back.
            Materializer.deleteRecursively(dataDir.resolve("trees").resolve(trees.get(0)));

            TestServer.Response replay = upload(server, server.adminKey(), "shop", archive, "publish-1");

            assertThat(replay.status()).as(replay.body()).isEqualTo(202);
            assertThat(replay.header("Idempotent-Replayed")).isEqualTo("true");
            assertThat(replay.json().get("id").asText()).isEqualTo(first.json().get("id").asText());
            assertThat(trees(dataDir)).as("nothing was extracted for the replay").isEmpty();
        }
    }

    @Test
    void upload_refused_by_ingest_leaves_neither_tree_nor_archive_behind() throws IOException {
        try (TestServer server = TestServer.start(dataDir)) {
            String otherOrg = server.createOrg("org-b");
            TestServer.Response owned = upload(server, otherOrg, "shop", TarBuilder.app("org b's shop"), null);
            assertThat(owned.status()).as(owned.body()).isEqualTo(202);
            List<String> treesBefore = trees(dataDir);
            List<String> archivesBefore = contents(dataDir.resolve("artifacts"));

            TestServer.Response refused = upload(server, server.adminKey(), "shop", TarBuilder.app("another shop"),
                    null);

            assertThat(refused.status()).as(refused.body()).isEqualTo(409);
            assertThat(trees(dataDir))
                    .as("no tree of the refused upload").isEqualTo(treesBefore);
            assertThat(contents(dataDir.resolve("trees").resolve(".staging"))).as("nothing staged is left").isEmpty();
            assertThat(contents(dataDir.resolve("artifacts"))).as("no archive of the refused upload")
                    .isEqualTo(archivesBefore);
        }
    }

    /** Everything under {@code dir}, as paths relative to it. */
    private static List<String> contents(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return List.of();
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            return walk.filter(p -> !p.equals(dir)).map(p -> dir.relativize(p).toString()).toList();
        }
    }

    @Test
    void upload_rejects_links_that_escape_once_the_top_folder_is_stripped() throws IOException {
        try (TestServer server = TestServer.start(dataDir)) {
            List<byte[]> hostile = List.of(
                    new TarBuilder().dir("app").file("app/CLAUDE.md", "# x\n").symlink("app/x", "..").build(),
                    new TarBuilder().file("app/CLAUDE.md", "# x\n").symlink("app/a/b", "../../..").build(),
                    new TarBuilder().file("app/CLAUDE.md", "# x\n").symlink("app/etc", "/etc").build(),
                    new TarBuilder().file("app/CLAUDE.md", "# x\n").symlink("app/sub/d", "..")
                            .symlink("app/sub/l", "d/../x").build());

            for (byte[] archive : hostile) {
                TestServer.Response refused = upload(server, "shop", archive);

                assertThat(refused.status()).as(refused.body()).isEqualTo(422);
                assertThat(refused.json().get("error").asText()).isEqualTo("link_escapes_tree");
                assertThat(refused.json().get("message").asText()).startsWith("symlink '")
                        .contains("' points outside the tree ('");
            }

            assertThat(contents(dataDir.resolve("trees"))).as("nothing landed in the shared tree store")
                    .allMatch(p -> p.equals(".staging"));
            assertThat(contents(dataDir.resolve("artifacts"))).as("no archive was kept").isEmpty();
            assertThat(server.get("/agent_projects/shop", server.adminKey()).status()).isEqualTo(404);
        }
    }
}
