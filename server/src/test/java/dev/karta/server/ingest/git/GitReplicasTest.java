package dev.karta.server.ingest.git;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.karta.server.build.Materializer;
import dev.karta.server.store.Database;
import dev.karta.server.testkit.GitRunner;
import dev.karta.server.testkit.PostgresDatabase;
import dev.karta.server.testkit.PostgresExtension;
import dev.karta.server.testkit.TestServer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two servers on one PostgreSQL database with {@code --storage database}, each with a data dir of
 * its own, and the real git client over HTTP: a repository pushed through one is cloned through the
 * other, concurrent pushes through both serialise, a push whose client dies leaves the branch
 * alone, compaction keeps history whole, and the repository lives on without the first server's
 * data dir. The image builder (run because the apps have a Dockerfile) holds builds until a gate
 * file exists.
 */
@ExtendWith(PostgresExtension.class)
class GitReplicasTest {
    @TempDir
    Path dir;
    Path gate;
    String url;
    String adminKey;
    GitFixture one;
    GitFixture two;
    GitFixture.Key writer;
    Database db;

    @BeforeEach
    void start(PostgresDatabase postgres) throws IOException {
        gate = dir.resolve("gate");
        Files.writeString(gate, "open");
        url = postgres.url();
        adminKey = TestServer.randomKey();
        one = replica("one");
        two = replica("two");
        writer = one.createKey("pusher", "write");
        db = Database.open(url);
    }

    private List<String> query(String sql) {
        return db.withHandle(h -> h.select(sql).mapTo(String.class).list());
    }

    private GitFixture replica(String name) {
        return GitFixture.replica(dir, name, url, adminKey,
                List.of("sh", "-c", "while [ ! -e '" + gate + "' ]; do sleep 0.05; done"));
    }

    @AfterEach
    void stop() throws IOException {
        Files.writeString(gate, "open");
        if (one != null) {
            one.close();
        }
        two.close();
        db.close();
    }

    private Path app(String name) {
        Path app = one.newApp(dir.resolve(name));
        GitFixture.write(app.resolve("Dockerfile"), "FROM scratch\n");
        one.commitAll(app, "base");
        return app;
    }

    private String remoteMain(GitFixture server, String project) {
        return server.git(dir, "ls-remote", server.remote(project, writer.secret()), "refs/heads/main").ok().out()
                .split("\\s")[0];
    }

    @Test
    void a_push_through_one_server_deploys_and_clones_through_the_other() {
        Path app = app("app");
        String sha = one.head(app);

        GitRunner.Run push = one.git(app, "push", one.remote("hello", writer.secret()), "main").ok();

        assertThat(push.err()).contains("remote: Released v1");
        two.git(dir, "clone", "-q", two.remote("hello", writer.secret()), "cloned").ok();
        assertThat(two.head(dir.resolve("cloned"))).isEqualTo(sha);
        assertThat(two.project("hello").get("current_release").get("commit_sha").asText()).isEqualTo(sha);
        assertThat(remoteMain(two, "hello")).isEqualTo(sha);
    }

    @Test
    void pushes_through_two_servers_serialise_and_the_loser_pushes_again_after_a_rebase() throws IOException {
        Path first = app("first");
        one.git(first, "push", one.remote("crossed", writer.secret()), "main").ok();
        two.git(dir, "clone", "-q", two.remote("crossed", writer.secret()), "second").ok();
        Path second = dir.resolve("second");
        GitFixture.write(first.resolve("CLAUDE.md"), "# first\n");
        String winner = one.commitAll(first, "first");
        GitFixture.write(second.resolve("notes.md"), "# second\n");
        String loser = two.commitAll(second, "second");
        Files.delete(gate);

        GitRunner.Running pushA = one.gitAsync(first, "push", one.remote("crossed", writer.secret()), "main");
        await().atMost(Duration.ofSeconds(30)).until(() -> one.deploys("crossed").get(0).get("status").asText()
                .equals("building"));
        GitRunner.Running pushB = two.gitAsync(second, "push", two.remote("crossed", writer.secret()), "main");
        await().atMost(Duration.ofSeconds(30)).until(() -> pushB.errSoFar()
                .contains("remote: Waiting for another push to crossed to finish"));
        Files.writeString(gate, "open");

        GitRunner.Run a = pushA.await().ok();
        GitRunner.Run b = pushB.await().failed();
        assertThat(a.err()).contains("remote: Released v2");
        assertThat(b.err()).contains("! [remote rejected] main -> main (another push updated it meanwhile; fetch and "
                + "push again)");
        assertThat(remoteMain(two, "crossed")).isEqualTo(winner);
        assertThat(two.deploys("crossed")).noneSatisfy(d -> assertThat(d.get("commit_sha").asText()).isEqualTo(loser));

        two.git(second, "pull", "-q", "--rebase", two.remote("crossed", writer.secret()), "main").ok();
        String rebased = two.head(second);
        GitRunner.Run again = two.git(second, "push", two.remote("crossed", writer.secret()), "main").ok();
        assertThat(again.err()).contains("remote: Released v3");
        assertThat(remoteMain(one, "crossed")).isEqualTo(rebased);
    }

    @Test
    void a_push_whose_client_dies_mid_upload_leaves_the_branch_and_the_next_push_works() throws Exception {
        Path app = app("app");
        String before = one.head(app);
        one.git(app, "push", one.remote("dying", writer.secret()), "main").ok();
        byte[] noise = new byte[48 << 20];
        new Random(7).nextBytes(noise);
        Files.write(app.resolve("big.bin"), noise);
        one.commitAll(app, "big");

        GitRunner.Running push = one.gitAsync(app, "push", one.remote("dying", writer.secret()), "main");
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(20))
                .until(() -> !query("SELECT pack_name FROM git_pack_files WHERE size = -1").isEmpty());
        // git leaves the upload to its children (remote-http, pack-objects): they all die.
        push.process().descendants().forEach(ProcessHandle::destroyForcibly);
        push.process().destroyForcibly();
        push.process().waitFor();

        // The half-received pack never joins the list, and its chunks are deleted.
        await().atMost(Duration.ofSeconds(30)).until(() -> query("SELECT pack_name FROM git_pack_files "
                + "WHERE pack_name NOT IN (SELECT name FROM git_packs)").isEmpty());
        assertThat(remoteMain(two, "dying")).isEqualTo(before);
        assertThat(one.deploys("dying")).hasSize(1);
        Files.delete(app.resolve("big.bin"));
        String small = one.commitAll(app, "small instead");
        two.git(app, "push", two.remote("dying", writer.secret()), "main").ok();
        assertThat(remoteMain(one, "dying")).isEqualTo(small);
    }

    @Test
    void many_pushes_compact_in_the_background_and_a_clone_through_the_other_server_has_the_same_history()
            throws Exception {
        Path app = app("app");
        one.git(app, "push", one.remote("busy", writer.secret()), "main").ok();
        for (int i = 0; i < 10; i++) {
            GitFixture.write(app.resolve("notes/" + i + ".md"), "note " + i + "\n");
            one.commitAll(app, "note " + i);
            GitFixture server = i % 2 == 0 ? one : two;
            server.git(app, "push", "-q", server.remote("busy", writer.secret()), "main:side").ok();
        }
        await().atMost(Duration.ofSeconds(60)).until(() -> !query("SELECT name FROM git_packs "
                + "WHERE source = 'GC' AND dropped_at IS NULL").isEmpty());

        two.git(dir, "clone", "-q", "-b", "side", two.remote("busy", writer.secret()), "cloned").ok();
        Path cloned = dir.resolve("cloned");
        assertThat(two.git(cloned, "log", "--format=%H %T %s").ok().out())
                .isEqualTo(one.git(app, "log", "--format=%H %T %s").ok().out());
        two.git(cloned, "fsck", "--strict").ok();
        GitFixture.write(app.resolve("after.md"), "after\n");
        String after = one.commitAll(app, "after compaction");
        two.git(app, "push", "-q", two.remote("busy", writer.secret()), "main:side").ok();
        assertThat(two.git(dir, "ls-remote", one.remote("busy", writer.secret()), "refs/heads/side").ok().out())
                .startsWith(after);
    }

    @Test
    void a_rejected_push_takes_its_pack_back_out_of_the_list() throws IOException {
        Path app = app("app");
        one.git(app, "push", one.remote("takeback", writer.secret()), "main").ok();
        List<String> listed = query("SELECT name FROM git_packs WHERE dropped_at IS NULL ORDER BY name");
        byte[] noise = new byte[256 << 10];
        new Random(7).nextBytes(noise);
        Files.write(app.resolve("weights.bin"), noise);
        GitFixture.write(app.resolve("karta.toml"), "entry_point = [\n");
        one.commitAll(app, "big and broken");

        one.git(app, "push", one.remote("takeback", writer.secret()), "main").failed();

        assertThat(query("SELECT name FROM git_packs WHERE dropped_at IS NULL ORDER BY name")).isEqualTo(listed);
        assertThat(query("SELECT name FROM git_packs WHERE dropped_at IS NOT NULL AND source = 'RECEIVE'")).hasSize(1);
        GitFixture.write(app.resolve("karta.toml"), "entry_point = \"CLAUDE.md\"\n");
        String fixed = one.commitAll(app, "fixed");
        two.git(app, "push", two.remote("takeback", writer.secret()), "main").ok();
        assertThat(remoteMain(one, "takeback")).isEqualTo(fixed);
    }

    @Test
    void deleting_a_project_deletes_its_repository_and_its_bytes() {
        Path app = app("app");
        one.git(app, "push", one.remote("doomed", writer.secret()), "main").ok();
        assertThat(query("SELECT name FROM git_repositories")).containsExactly("repo");

        assertThat(two.delete("/agent_projects/doomed", adminKey).status()).isEqualTo(204);

        assertThat(query("SELECT name FROM git_repositories")).isEmpty();
        assertThat(query("SELECT pack_name FROM git_pack_chunks")).isEmpty();
        assertThat(one.git(dir, "ls-remote", one.remote("doomed", writer.secret())).failed().err())
                .contains("project 'doomed' not found");
    }

    @Test
    void a_repository_outlives_the_data_dir_of_the_server_it_was_pushed_to() throws IOException {
        Path app = app("app");
        String sha = one.head(app);
        one.git(app, "push", one.remote("kept", writer.secret()), "main").ok();
        one.close();
        one = null;
        Materializer.deleteRecursively(dir.resolve("one"));

        one = replica("one");
        one.git(dir, "clone", "-q", one.remote("kept", writer.secret()), "cloned").ok();
        assertThat(one.head(dir.resolve("cloned"))).isEqualTo(sha);
        assertThat(Files.exists(dir.resolve("one/projects"))).as("nothing of it came back into the data dir")
                .isFalse();
    }
}
