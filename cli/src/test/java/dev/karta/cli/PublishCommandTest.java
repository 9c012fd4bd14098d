package dev.karta.cli;

import static dev.karta.cli.FakeKarta.endEvent;
import static dev.karta.cli.FakeKarta.event;
import static dev.karta.cli.FakeKarta.logEvent;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorInputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code karta publish} against the server's contract ({@code POST …/releases}, then the build
 * log), checked request by request on a scripted server: the headers and archive sent, and how
 * each outcome is printed. {@link ReleaseFlowTest} runs the same against a real server.
 */
class PublishCommandTest {
    @TempDir
    Path home;
    FakeKarta fake;
    Run karta;

    @BeforeEach
    void start() throws IOException {
        fake = new FakeKarta();
        karta = new Run(home).env("KARTA_SERVER", fake.url()).env("KARTA_API_KEY", TestServer.ADMIN_KEY);
        fake.on("GET", "/agent_projects/shop", (exchange, request) -> FakeKarta.json(exchange, 200,
                "{\"name\":\"shop\",\"url\":\"" + fake.url() + "/v1/projects/shop\"}"));
    }

    @AfterEach
    void stop() {
        fake.close();
    }

    private Path app(String folderName) throws IOException {
        Path dir = home.resolve(folderName);
        Files.createDirectories(dir.resolve(".git"));
        Files.writeString(dir.resolve("CLAUDE.md"), "# shop");
        Files.writeString(dir.resolve(".gitignore"), "*.log\n");
        Files.writeString(dir.resolve("debug.log"), "noise");
        Files.writeString(dir.resolve(".git/HEAD"), "ref: refs/heads/main");
        return dir;
    }

    private void buildEndsWith(String endEvent) {
        fake.on("POST", "/agent_projects/shop/releases", (exchange, request) ->
                FakeKarta.json(exchange, 202, FakeKarta.deployJson("queued", null, null)));
        fake.on("GET", "/agent_projects/shop/deploys/dep_1/logs", (exchange, request) -> {
            OutputStream out = FakeKarta.sse(exchange);
            event(out, logEvent(1, "Detected harness claude"));
            event(out, endEvent);
        });
    }

    @Test
    void publish_uploads_the_folder_streams_the_log_and_prints_the_release() throws IOException {
        buildEndsWith(endEvent("succeeded", "v1", null));
        Path dir = app("shop");

        Run.Result publish = karta.workingDir(dir).run("publish", "--commit", "0123456789abcdef");

        assertThat(publish.exitCode()).as(publish.toString()).isZero();
        assertThat(publish.stdout()).isEqualTo("  Detected harness claude\nReleased v1 — " + fake.url() + "/v1/projects/shop\n");
        assertThat(publish.stderr()).contains("Packed 2 files").contains("Uploading").contains("Building shop (dep_1)");
        FakeKarta.Request upload = fake.requests("POST", "/agent_projects/shop/releases").get(0);
        assertThat(upload.header("Content-Type")).isEqualTo("application/gzip");
        assertThat(upload.header("X-Karta-Commit")).isEqualTo("0123456789abcdef");
        assertThat(upload.header("Authorization")).isEqualTo("Bearer " + TestServer.ADMIN_KEY);
        assertThat(upload.header("User-Agent")).startsWith("karta-cli/");
        assertThat(UUID.fromString(upload.header("Idempotency-Key"))).isNotNull();
        assertThat(names(upload.body())).containsExactly("shop/.gitignore", "shop/CLAUDE.md");
    }

    @Test
    void publish_takes_the_name_and_folder_from_flags() throws IOException {
        buildEndsWith(endEvent("succeeded", "v1", null));
        app("elsewhere");

        Run.Result publish = karta.run("publish", "shop", "--dir", "elsewhere");

        assertThat(publish.exitCode()).as(publish.toString()).isZero();
        assertThat(fake.requests("POST", "/agent_projects/shop/releases")).hasSize(1);
        assertThat(fake.requests("POST", "/agent_projects/shop/releases").get(0).header("X-Karta-Commit")).isNull();
    }

    @Test
    void a_failed_build_exits_1_with_the_reason() throws IOException {
        buildEndsWith(endEvent("failed", null, "karta.toml line 2: entry_point must be a string"));

        Run.Result publish = karta.workingDir(app("shop")).run("publish");

        assertThat(publish.exitCode()).isEqualTo(1);
        assertThat(publish.stderr()).endsWith("karta: build failed: karta.toml line 2: entry_point must be a string\n");
        assertThat(publish.stdout()).doesNotContain("Released");
    }

    @Test
    void a_folder_name_that_is_no_project_name_asks_for_one() throws IOException {
        Path dir = app("My App!");

        Run.Result publish = karta.workingDir(dir).run("publish");

        assertThat(publish.exitCode()).isEqualTo(2);
        assertThat(publish.stderr()).contains("'My App!' is not a valid project name").contains("karta publish my-app");
        assertThat(fake.requests("POST", "/agent_projects/my app!/releases")).isEmpty();
    }

    @Test
    void a_folder_name_is_lowercased() throws IOException {
        Path dir = app("Shop");
        buildEndsWith(endEvent("succeeded", "v1", null));

        Run.Result publish = karta.workingDir(dir).run("publish");

        assertThat(publish.exitCode()).as(publish.toString()).isZero();
    }

    @Test
    void a_folder_with_nothing_to_publish_is_an_error() throws IOException {
        Path dir = home.resolve("shop");
        Files.createDirectories(dir);
        Files.writeString(dir.resolve(".gitignore"), "*\n");

        Run.Result publish = karta.workingDir(dir).run("publish");

        assertThat(publish.exitCode()).isEqualTo(1);
        assertThat(publish.stderr()).contains("nothing to publish");
    }

    @Test
    void with_json_the_log_goes_to_stderr_and_the_deploy_to_stdout() throws IOException {
        buildEndsWith(endEvent("succeeded", "v1", null));

        Run.Result publish = karta.workingDir(app("shop")).run("publish", "--json");

        assertThat(publish.exitCode()).isZero();
        assertThat(publish.stdout()).startsWith("{").contains("\"release\": \"v1\"");
        assertThat(publish.stderr()).contains("  Detected harness claude");
    }

    private static List<String> names(byte[] tarGz) throws IOException {
        List<String> names = new ArrayList<>();
        try (TarArchiveInputStream tar = new TarArchiveInputStream(
                new GzipCompressorInputStream(new ByteArrayInputStream(tarGz)))) {
            for (TarArchiveEntry entry; (entry = tar.getNextEntry()) != null; ) {
                names.add(entry.getName());
            }
        }
        return names;
    }
}
