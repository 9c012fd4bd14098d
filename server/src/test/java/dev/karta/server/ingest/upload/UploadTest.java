package dev.karta.server.ingest.upload;

import static org.assertj.core.api.Assertions.assertThat;

import dev.karta.server.TestServer;
import dev.karta.server.build.TarBuilder;
import java.io.IOException;
import java.net.http.HttpRequest;
import java.nio.file.Files;
import java.nio.file.Path;
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
