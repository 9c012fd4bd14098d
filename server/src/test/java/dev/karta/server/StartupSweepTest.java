package dev.karta.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.karta.server.testkit.TestServer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What a server killed with {@code kill -9} left half-made is gone after the next start. */
class StartupSweepTest {
    @TempDir
    Path dataDir;

    private Path write(String relative, String content) throws IOException {
        Path file = dataDir.resolve(relative);
        Files.createDirectories(file.getParent());
        return Files.writeString(file, content);
    }

    @Test
    void start_removes_upload_copies_export_buffers_and_staging_trees_a_killed_server_left() throws IOException {
        TestServer.start(dataDir).close();
        Path upload = write("artifacts/.upload-8731562.tmp", "half an upload");
        Path stored = write("artifacts/" + "a".repeat(64) + ".tar.gz", "a stored archive");
        Path buffer = write("projects/prj_killed/jgit_4471.buf", "half an export");
        Path repoFile = write("projects/prj_killed/repo.git/HEAD", "ref: refs/heads/main\n");
        Path staging = write("trees/.staging/stg_killed/CLAUDE.md", "half a tree");

        try (TestServer server = TestServer.start(TestServer.config(dataDir, null))) {
            assertThat(upload).doesNotExist();
            assertThat(buffer).doesNotExist();
            assertThat(staging).doesNotExist();
            assertThat(stored).exists();
            assertThat(repoFile).exists();
        }
    }
}
