package dev.karta.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.karta.server.datadir.DataDir;
import dev.karta.server.testkit.TestServer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;

/**
 * The server's secrets stay the server's: the data dir is 0700, the database (with its SQLite
 * files) and the secrets key 0600, corrected at start; secrets are passed in files, not in the
 * environment every child process can read.
 */
class SecretFilesTest {
    @TempDir
    Path tmp;

    private static String mode(Path path) throws IOException {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(path));
    }

    private static void chmod(Path path, String mode) throws IOException {
        Files.setPosixFilePermissions(path, PosixFilePermissions.fromString(mode));
    }

    @Test
    void a_fresh_start_makes_the_data_dir_and_the_database_owner_only() throws IOException {
        Path dataDir = tmp.resolve("fresh/data");
        try (TestServer server = TestServer.start(dataDir)) {
            assertThat(server.get("/whoami", server.adminKey()).status()).isEqualTo(200);

            assertThat(mode(dataDir)).isEqualTo("rwx------");
            assertThat(mode(dataDir.resolve("karta.db"))).isEqualTo("rw-------");
            assertThat(dataDir.resolve("karta.db-wal")).exists();
            assertThat(mode(dataDir.resolve("karta.db-wal"))).isEqualTo("rw-------");
            assertThat(mode(dataDir.resolve("karta.db-shm"))).isEqualTo("rw-------");
        }
    }

    @Test
    void start_narrows_a_readable_data_dir_database_and_secrets_key_with_a_warning() throws IOException {
        Path dataDir = tmp.resolve("data");
        TestServer.start(dataDir).close();
        chmod(dataDir, "rwxr-xr-x");
        chmod(dataDir.resolve("karta.db"), "rw-r--r--");
        chmod(dataDir.resolve("secrets.key"), "rw-r--r--");
        Logger logger = (Logger) LoggerFactory.getLogger(DataDir.class);
        ListAppender<ILoggingEvent> log = new ListAppender<>();
        log.start();
        logger.addAppender(log);

        try (TestServer server = TestServer.start(TestServer.config(dataDir, null))) {
            assertThat(mode(dataDir)).isEqualTo("rwx------");
            assertThat(mode(dataDir.resolve("karta.db"))).isEqualTo("rw-------");
            assertThat(mode(dataDir.resolve("karta.db-wal"))).isEqualTo("rw-------");
            assertThat(mode(dataDir.resolve("karta.db-shm"))).isEqualTo("rw-------");
            assertThat(mode(dataDir.resolve("secrets.key"))).isEqualTo("rw-------");
        } finally {
            logger.detachAppender(log);
        }
        assertThat(log.list).extracting(ILoggingEvent::getFormattedMessage)
                .anySatisfy(m -> assertThat(m).contains(dataDir.toString(), "rwxr-xr-x", "rwx------"))
                .anySatisfy(m -> assertThat(m).contains("karta.db had mode rw-r--r--", "rw-------"))
                .anySatisfy(m -> assertThat(m).contains("secrets.key had mode rw-r--r--"));
    }

    @Test
    void create_org_also_narrows_the_data_dir() throws IOException {
        Path dataDir = Files.createDirectories(tmp.resolve("data"));
        chmod(dataDir, "rwxr-xr-x");

        int exit = new CommandLine(new Main()).execute("--data-dir", dataDir.toString(), "create-org", "acme");

        assertThat(exit).isZero();
        assertThat(mode(dataDir)).isEqualTo("rwx------");
        assertThat(mode(dataDir.resolve("karta.db"))).isEqualTo("rw-------");
    }

    private static Main parse(String... args) {
        Main main = new Main();
        new CommandLine(main).parseArgs(args);
        return main;
    }

    @Test
    void bootstrap_key_and_github_token_are_read_from_files_without_their_line_break() throws IOException {
        String key = TestServer.randomKey();
        Path keyFile = Files.writeString(tmp.resolve("bootstrap.key"), key + "\n");
        Path tokenFile = Files.writeString(tmp.resolve("github.token"), "ghp_secret\r\n");

        Main main = parse("--data-dir", tmp.toString(), "--bootstrap-key-file", keyFile.toString(),
                "--github-token-file", tokenFile.toString());

        Config config = main.config();
        assertThat(config.bootstrapKey()).isEqualTo(key);
        assertThat(config.repos().githubToken()).isEqualTo("ghp_secret");
        assertThat(main.secretWarnings()).isEmpty();
    }

    @Test
    void a_secret_given_both_as_a_value_and_as_a_file_is_refused() throws IOException {
        Path keyFile = Files.writeString(tmp.resolve("bootstrap.key"), TestServer.randomKey());
        Path tokenFile = Files.writeString(tmp.resolve("github.token"), "ghp_a");

        assertThatThrownBy(() -> parse("--data-dir", tmp.toString(), "--bootstrap-key", TestServer.randomKey(),
                "--bootstrap-key-file", keyFile.toString()).config())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("KARTA_BOOTSTRAP_KEY and KARTA_BOOTSTRAP_KEY_FILE (--bootstrap-key-file) are both set");
        assertThatThrownBy(() -> parse("--data-dir", tmp.toString(), "--github-token", "ghp_b",
                "--github-token-file", tokenFile.toString()).config())
                .hasMessageContaining("KARTA_GITHUB_TOKEN and KARTA_GITHUB_TOKEN_FILE (--github-token-file) are both set");
    }

    @Test
    void a_missing_or_empty_secret_file_is_refused() throws IOException {
        Path empty = Files.writeString(tmp.resolve("empty.key"), "\n");

        assertThatThrownBy(() -> parse("--data-dir", tmp.toString(), "--bootstrap-key-file",
                tmp.resolve("missing.key").toString()).config())
                .hasMessageContaining("cannot read KARTA_BOOTSTRAP_KEY_FILE (--bootstrap-key-file)")
                .hasMessageContaining("missing.key: no such file");
        assertThatThrownBy(() -> parse("--data-dir", tmp.toString(), "--github-token-file", empty.toString()).config())
                .hasMessageContaining("KARTA_GITHUB_TOKEN_FILE (--github-token-file) " + empty + " is empty");
    }

    @Test
    void plain_secrets_still_work_with_a_warning_that_children_can_read_them() {
        String key = TestServer.randomKey();

        Main main = parse("--data-dir", tmp.toString(), "--bootstrap-key", key, "--github-token", "ghp_plain");

        assertThat(main.config().bootstrapKey()).isEqualTo(key);
        assertThat(main.config().repos().githubToken()).isEqualTo("ghp_plain");
        assertThat(main.secretWarnings()).hasSize(2)
                .anySatisfy(w -> assertThat(w).contains("KARTA_BOOTSTRAP_KEY is set in the server's environment",
                        "processes the server starts can read it", "KARTA_BOOTSTRAP_KEY_FILE"))
                .anySatisfy(w -> assertThat(w).contains("KARTA_GITHUB_TOKEN is set", "KARTA_GITHUB_TOKEN_FILE"));
    }
}
