package dev.karta.server.releases;

import static org.assertj.core.api.Assertions.assertThat;

import dev.karta.server.DataDir;
import dev.karta.server.TestServer;
import dev.karta.server.build.TarBuilder;
import dev.karta.server.store.Database;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RetentionTest {
    @TempDir
    Path dataDir;

    private static long count(Path dir) throws IOException {
        try (Stream<Path> children = Files.list(dir)) {
            return children.filter(p -> !p.getFileName().toString().startsWith(".")).count();
        }
    }

    @Test
    void deleting_a_project_frees_the_trees_and_archives_only_it_used() throws IOException {
        try (TestServer server = TestServer.start(dataDir)) {
            Publisher publisher = new Publisher(server);
            publisher.publish("shop", TarBuilder.app("only shop"));
            publisher.publish("shop", TarBuilder.app("shared"));
            publisher.publish("blog", TarBuilder.app("shared"));
            assertThat(count(dataDir.resolve("trees"))).isEqualTo(2);

            assertThat(server.delete("/agent_projects/shop", server.adminKey()).status()).isEqualTo(204);
            try (Database db = server.openDatabase()) {
                new Retention(db, new DataDir(dataDir), 0, id -> Set.of()).sweepUnreferenced(Duration.ZERO);
            }

            assertThat(count(dataDir.resolve("trees"))).isEqualTo(1);
            assertThat(count(dataDir.resolve("artifacts"))).isEqualTo(1);
            String blogTree = server.get("/agent_projects/blog/releases/v1", server.adminKey()).json()
                    .get("content_digest").asText().substring(7);
            assertThat(dataDir.resolve("trees").resolve(blogTree)).isDirectory();
        }
    }
}
