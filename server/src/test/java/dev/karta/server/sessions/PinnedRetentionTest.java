package dev.karta.server.sessions;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * No release a live session is pinned to is ever deleted. With {@code keepReleases = 1}
 * retention prunes every tree but the active one and the one before it, except pinned ones.
 */
class PinnedRetentionTest {

    @Test
    void retention_keeps_the_tree_of_a_release_a_live_session_is_pinned_to(@TempDir Path dir) {
        try (SessionFixture f = SessionFixture.start(dir, s -> s, 1)) {
            f.publish("pinned", SessionFixture.claudeApp("pinned v1"));
            String session = f.open("pinned");
            f.publish("pinned", SessionFixture.claudeApp("pinned v2"));
            f.publish("pinned", SessionFixture.claudeApp("pinned v3"));
            f.publish("pinned", SessionFixture.claudeApp("pinned v4"));

            // Retention runs right after an activation: v4's prunes v2 (old, unpinned) and decides v1's fate.
            Path v2 = tree(f, "v2");
            await().atMost(SessionFixture.PATIENCE).until(() -> !Files.isDirectory(v2));
            assertThat(Files.isDirectory(tree(f, "v1"))).as("pinned by a live session: kept").isTrue();
            assertThat(f.ask("pinned", session, "still v1?")).isEqualTo("pinned v1");

            f.server.delete("/v1/projects/pinned/sessions/" + session, f.writer);
            f.publish("pinned", SessionFixture.claudeApp("pinned v5"));

            Path v1 = tree(f, "v1");
            await().atMost(SessionFixture.PATIENCE).until(() -> !Files.isDirectory(v1));
            assertThat(Files.isDirectory(tree(f, "v5"))).as("the active release").isTrue();
            assertThat(Files.isDirectory(tree(f, "v4"))).as("the usual rollback target").isTrue();
        }
    }

    @Test
    void a_session_whose_release_files_are_gone_answers_from_its_workspace_then_a_clear_503(@TempDir Path dir)
            throws Exception {
        try (SessionFixture f = SessionFixture.start(dir)) {
            f.publish("gone", SessionFixture.claudeApp("gone v1"));
            String session = f.open("gone");
            Path workspace = f.server.server().config().dataDir().resolve("workspaces").resolve(session);
            await().atMost(SessionFixture.PATIENCE).until(() -> Files.isDirectory(workspace.resolve("files")));
            boolean overlay = Files.isDirectory(workspace.resolve("upper"));
            dev.karta.server.build.Materializer.deleteRecursively(tree(f, "v1"));
            if (!overlay) { // an overlay needs the tree below it; a copy does not
                assertThat(f.ask("gone", session, "hello")).as("its own copy").isEqualTo("gone v1");
                dev.karta.server.build.Materializer.deleteRecursively(workspace);
            }

            var failed = f.message("gone", session, "hello");

            assertThat(failed.status()).isEqualTo(503);
            assertThat(failed.json().get("error").asText()).isEqualTo("workspace_unavailable");
            assertThat(failed.json().get("message").asText()).contains("files of release v1 are missing");
            assertThat(f.session("gone", session).json().get("status").asText()).isEqualTo("idle");
        }
    }

    static Path tree(SessionFixture f, String version) {
        JsonNode release = f.server.get("/agent_projects/" + projectOf(f) + "/releases/" + version, f.reader).json();
        String digest = release.get("content_digest").asText();
        return f.server.server().config().dataDir().resolve("trees").resolve(digest.substring(digest.indexOf(':') + 1));
    }

    private static String projectOf(SessionFixture f) {
        return f.server.get("/agent_projects", f.reader).json().get("projects").get(0).get("name").asText();
    }
}
