package dev.karta.server.ingest.git;

import static org.assertj.core.api.Assertions.assertThat;

import dev.karta.server.testkit.GitRunner;
import dev.karta.server.testkit.TestServer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Base64;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Key auth for git over HTTP: Basic auth with the key as password; fetch needs read, push needs
 * write; 401 carries a Basic challenge so git asks for credentials; another org's project is 404.
 */
class GitAuthTest {
    private static final String UPLOAD = "git-upload-pack";
    private static final String RECEIVE = "git-receive-pack";

    @TempDir
    static Path shared;
    static GitFixture karta;
    static GitFixture.Key reader;
    static GitFixture.Key writer;
    static String pushed;

    @TempDir
    Path work;

    @BeforeAll
    static void start() {
        karta = GitFixture.start(shared);
        reader = karta.createKey("reader", "read");
        writer = karta.createKey("writer", "write");
        Path app = karta.newApp(shared.resolve("seed"));
        karta.git(app, "push", karta.remote("shop", writer.secret()), "main").ok();
        pushed = karta.head(app);
    }

    @AfterAll
    static void stop() {
        karta.close();
    }

    /** The ref advertisement a git client asks for first, with Basic credentials when key is not null. */
    private TestServer.Response advertisement(String project, String service, String key) {
        var request = karta.request("/git/" + project + ".git/info/refs?service=" + service, null).GET();
        if (key != null) {
            request.header("Authorization", "Basic " + Base64.getEncoder()
                    .encodeToString(("anyone:" + key).getBytes(StandardCharsets.UTF_8)));
        }
        return karta.send(request);
    }

    @Test
    void clone_with_a_read_key_gets_the_pushed_commit_checked_out() {
        karta.git(work, "clone", "-q", karta.remote("shop", reader.secret()), "copy").ok();

        assertThat(karta.head(work.resolve("copy"))).isEqualTo(pushed);
        assertThat(work.resolve("copy/CLAUDE.md")).exists();
        assertThat(advertisement("shop", UPLOAD, reader.secret()).status()).isEqualTo(200);
    }

    @Test
    void a_credential_helper_can_supply_the_key_as_karta_init_sets_it_up() throws IOException {
        Path helper = work.resolve("fake-karta");
        Files.writeString(helper, "#!/bin/sh\n[ \"$2\" = get ] || exit 0\ncat >/dev/null\n"
                + "echo username=karta\necho password=" + writer.secret() + "\n");
        Files.setPosixFilePermissions(helper, PosixFilePermissions.fromString("rwx------"));
        Path app = karta.newApp(work.resolve("app"));
        String origin = karta.base();
        karta.git(app, "remote", "add", "karta", karta.remote("shop", null)).ok();
        karta.git(app, "config", "--local", "--replace-all", "credential." + origin + ".helper", "").ok();
        karta.git(app, "config", "--local", "--add", "credential." + origin + ".helper",
                "!\"" + helper + "\" git-credential").ok();

        karta.git(app, "push", "karta", "main:via-helper").ok();

        assertThat(karta.git(app, "ls-remote", "karta").ok().out()).contains("refs/heads/via-helper");
        assertThat(Files.readString(app.resolve(".git/config"))).doesNotContain(writer.secret());
    }

    @Test
    void push_with_a_read_key_is_refused_with_403() {
        Path app = karta.newApp(work.resolve("app"));

        GitRunner.Run push = karta.git(app, "push", karta.remote("shop", reader.secret()), "main:read-try").failed();

        assertThat(push.err()).contains("pushing to shop needs a key with 'write' scope; key " + reader.id()
                + " has 'read'");
        TestServer.Response raw = advertisement("shop", RECEIVE, reader.secret());
        assertThat(raw.status()).isEqualTo(403);
        assertThat(raw.header("Content-Type")).startsWith("text/plain");
        assertThat(karta.git(work, "ls-remote", karta.remote("shop", reader.secret())).ok().out())
                .doesNotContain("read-try");
    }

    @Test
    void a_read_key_cannot_create_a_project_by_pushing() {
        Path app = karta.newApp(work.resolve("app"));

        karta.git(app, "push", karta.remote("not-made", reader.secret()), "main").failed();

        assertThat(karta.get("/agent_projects/not-made", karta.adminKey).status()).isEqualTo(404);
    }

    @ParameterizedTest
    @ValueSource(strings = {UPLOAD, RECEIVE})
    void no_key_is_401_with_a_basic_challenge(String service) {
        TestServer.Response raw = advertisement("shop", service, null);

        assertThat(raw.status()).isEqualTo(401);
        assertThat(raw.header("WWW-Authenticate")).isEqualTo("Basic realm=\"karta\"");
        assertThat(raw.body()).contains("Karta needs an API key");
    }

    @Test
    void push_without_a_key_fails_asking_for_credentials() {
        Path app = karta.newApp(work.resolve("app"));

        GitRunner.Run push = karta.git(app, "push", karta.remote("shop", null), "main:anonymous").failed();

        assertThat(push.err()).contains("could not read Username");
    }

    @Test
    void push_with_a_revoked_key_is_refused_with_401() {
        GitFixture.Key soon = karta.createKey("soon-revoked", "write");
        Path app = karta.newApp(work.resolve("app"));
        karta.git(app, "push", karta.remote("shop", soon.secret()), "main:before-revoke").ok();
        assertThat(karta.delete("/api_keys/" + soon.id(), karta.adminKey).status()).isEqualTo(204);

        GitRunner.Run push = karta.git(app, "push", karta.remote("shop", soon.secret()), "main:after-revoke").failed();

        assertThat(push.err()).contains("API key " + soon.id() + " has been revoked");
        TestServer.Response raw = advertisement("shop", RECEIVE, soon.secret());
        assertThat(raw.status()).isEqualTo(401);
        assertThat(raw.header("WWW-Authenticate")).isEqualTo("Basic realm=\"karta\"");
    }

    @Test
    void an_unknown_key_is_401() {
        GitRunner.Run fetch = karta.git(work, "ls-remote", karta.remote("shop", TestServer.randomKey())).failed();

        assertThat(fetch.err()).contains("invalid API key");
        assertThat(advertisement("shop", UPLOAD, TestServer.randomKey()).status()).isEqualTo(401);
    }

    @Test
    void fetching_an_unknown_project_is_404_and_creates_nothing() {
        GitRunner.Run fetch = karta.git(work, "ls-remote", karta.remote("nowhere", writer.secret())).failed();

        assertThat(fetch.err()).contains("project 'nowhere' not found");
        assertThat(advertisement("nowhere", UPLOAD, writer.secret()).status()).isEqualTo(404);
        assertThat(karta.get("/agent_projects/nowhere", karta.adminKey).status()).isEqualTo(404);
    }

    @Test
    void another_orgs_project_is_404_for_fetch_and_push() {
        String stranger = karta.createOrg("strangers");
        Path app = karta.newApp(work.resolve("app"));

        GitRunner.Run fetch = karta.git(work, "ls-remote", karta.remote("shop", stranger)).failed();
        GitRunner.Run push = karta.git(app, "push", "--force", karta.remote("shop", stranger), "main").failed();

        assertThat(fetch.err()).contains("project 'shop' not found");
        assertThat(push.err()).contains("project 'shop' not found");
        assertThat(advertisement("shop", RECEIVE, stranger).status()).isEqualTo(404);
        assertThat(karta.project("shop").get("current_release").get("commit_sha").asText()).isEqualTo(pushed);
    }

    @Test
    void a_push_to_an_impossible_name_explains_the_naming_rule() {
        Path app = karta.newApp(work.resolve("app"));

        GitRunner.Run push = karta.git(app, "push", karta.remote("Bad_Name", writer.secret()), "main").failed();

        assertThat(push.err()).contains("invalid project name 'Bad_Name'");
    }

    @Test
    void a_url_that_names_no_project_is_404() {
        TestServer.Response raw = karta.send(karta.request("/git/shop/info/refs?service=" + UPLOAD, writer.secret())
                .GET());

        assertThat(raw.status()).isEqualTo(404);
        assertThat(raw.body()).contains("/git/{project}.git");
    }
}
