package dev.karta.server.sessions;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.karta.server.Config;
import dev.karta.server.testkit.TestServer;
import dev.karta.server.testkit.TestServer.Response;
import dev.karta.server.build.Materializer;
import dev.karta.server.store.Database;
import dev.karta.server.store.Digests;
import dev.karta.server.testkit.TarBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every session works in a workspace and HOME of its own, made from its pinned release after it
 * is created; the release tree is never written; the harness's state is saved in the store after
 * every turn and restored wherever the next one runs; quotas bound what a session keeps on disk.
 * The harness is {@link WorkspaceHarness}, which keeps a transcript under HOME and refuses to
 * resume a conversation it has none of, as Claude Code does.
 */
class WorkspaceTest {
    @TempDir
    Path dir;
    SessionFixture f;

    @AfterEach
    void stop() {
        if (f != null) {
            f.close();
        }
    }

    /** Copies (their files are on the host to look at) and no sandbox (host paths); overlays are tested apart. */
    private static final Config.Workspaces COPIES = limits(Config.Workspaces.DEFAULTS.maxWorkspaceBytes(),
            Config.Workspaces.DEFAULTS.maxWorkspaces(), Config.Workspaces.DEFAULTS.maxStateBytes());

    private Config config(UnaryOperator<Config.Workspaces> tweak) {
        Path claude = WorkspaceHarness.claude(dir.resolve("bin"));
        Config.SessionSettings sessions = new Config.SessionSettings(claude.toString(), "opencode",
                Duration.ofMinutes(10), Duration.ofSeconds(20), 16, 100_000, 1L << 20,
                Config.SessionSettings.inheritedEnvironment(List.of()));
        return TestServer.config(dir.resolve("data"), TestServer.randomKey()).toBuilder()
                .sessions(sessions).workspaces(tweak.apply(COPIES)).sandbox(SessionFixture.UNSANDBOXED).build();
    }

    private SessionFixture start(UnaryOperator<Config.Workspaces> tweak) {
        f = SessionFixture.start(config(tweak), dir.resolve("spy"));
        return f;
    }

    private static Config.Workspaces limits(long maxWorkspaceBytes, int maxWorkspaces, long maxStateBytes) {
        return new Config.Workspaces(null, maxWorkspaceBytes, maxWorkspaces, maxStateBytes, true);
    }

    private static byte[] app() {
        return new TarBuilder()
                .file("CLAUDE.md", "# workspace app\n")
                .file("answer.txt", "from the release\n")
                .file("run.sh", "#!/bin/sh\necho hi\n", 0755)
                .dir("docs")
                .file("docs/guide.md", "original")
                .symlink("guide-link", "docs/guide.md")
                .build();
    }

    private Path workspace(String session) {
        return dir.resolve("data/workspaces").resolve(session);
    }

    private Path releaseTree(String project) {
        String digest = f.server.get("/agent_projects/" + project + "/releases/v1", f.reader).json()
                .get("content_digest").asText();
        return Materializer.treeFolder(dir.resolve("data/trees"), digest);
    }

    @Test
    void each_session_writes_its_own_copy_and_the_release_tree_stays_byte_identical() throws IOException {
        start(w -> w);
        f.publish("own", app());
        Path tree = releaseTree("own");
        String before = snapshot(tree);
        String a = f.open("own");
        String b = f.open("own");

        assertThat(f.ask("own", a, "write new.txt hello; write guide-link through the link; delete answer.txt; "
                + "chmod run.sh 600; chmod CLAUDE.md 777")).isEqualTo("ok | ok | ok | ok | ok");
        assertThat(f.ask("own", a, "read new.txt; read answer.txt; read docs/guide.md"))
                .as("a later turn of the same session sees its writes")
                .isEqualTo("hello | missing | through the link");
        assertThat(f.ask("own", b, "read new.txt; read answer.txt; read docs/guide.md"))
                .as("another session sees none of them")
                .isEqualTo("missing | from the release\n | original");

        assertThat(snapshot(tree)).as("the release tree, byte for byte, with modes and links").isEqualTo(before);
        Path copy = workspace(b).resolve("files");
        assertThat(Files.isSymbolicLink(copy.resolve("guide-link"))).isTrue();
        assertThat(Files.readSymbolicLink(copy.resolve("guide-link")).toString()).isEqualTo("docs/guide.md");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(copy.resolve("run.sh"))))
                .isEqualTo("rwxr-xr-x");
    }

    @Test
    void each_session_has_its_own_home_with_the_xdg_folders() {
        start(w -> w);
        f.publish("homes", app());
        String a = f.open("homes");
        String b = f.open("homes");

        String[] first = f.ask("homes", a, "home; xdg").split(" \\| ");
        String[] second = f.ask("homes", b, "home").split(" \\| ");

        assertThat(first[0]).isEqualTo(workspace(a).resolve("home").toString());
        assertThat(first[1]).isEqualTo(first[0] + "/.config");
        assertThat(Path.of(first[1])).isDirectory();
        assertThat(second[0]).isEqualTo(workspace(b).resolve("home").toString()).isNotEqualTo(first[0]);
    }

    @Test
    void the_workspace_is_prepared_after_creation_without_a_message() {
        start(w -> w);
        f.publish("soon", app());
        Response created = f.createSession("soon", f.writer);
        String id = created.json().get("id").asText();

        await().atMost(SessionFixture.PATIENCE).until(() -> Files.exists(workspace(id).resolve("files/answer.txt")));
        await().atMost(SessionFixture.PATIENCE).until(() -> f.session("soon", id).json().get("workspace_bytes").isNumber());
        assertThat(f.session("soon", id).json().get("workspace_bytes").asLong()).isPositive();
    }

    @Test
    void a_first_message_right_after_creation_gets_the_one_workspace_being_prepared() throws IOException {
        start(w -> w);
        TarBuilder many = new TarBuilder().file("CLAUDE.md", "# many\n").file("answer.txt", "many\n");
        for (int i = 0; i < 500; i++) {
            many.file("src/f" + i + ".txt", "x".repeat(2000));
        }
        f.publish("race", many.build());

        for (int i = 0; i < 4; i++) {
            String id = f.open("race");
            assertThat(f.ask("race", id, "read answer.txt; write mine.txt " + i + "; read mine.txt"))
                    .isEqualTo("many\n | ok | " + i);
            try (Stream<Path> left = Files.list(workspace(id))) {
                assertThat(left.map(p -> p.getFileName().toString()))
                        .as("one copy, nothing staged left behind").containsExactlyInAnyOrder("files", "home", "state.digest");
            }
        }
    }

    @Test
    void a_turn_makes_a_missing_workspace_itself() throws IOException {
        start(w -> w);
        f.publish("remade", app());
        String id = f.open("remade");
        await().atMost(SessionFixture.PATIENCE).until(() -> Files.exists(workspace(id).resolve("files")));
        deleteTree(workspace(id)); // a wiped cache

        assertThat(f.ask("remade", id, "read answer.txt")).isEqualTo("from the release\n");
    }

    @Test
    void a_session_resumes_its_harness_state_after_a_restart_with_an_empty_workspace_cache() throws IOException {
        Config config = config(w -> w);
        f = SessionFixture.start(config, dir.resolve("spy"));
        f.publish("resume", app());
        String id = f.open("resume");
        String other = f.open("resume");
        assertThat(f.ask("resume", id, "turns")).isEqualTo("1");
        String conversation = f.ask("resume", id, "conversation");
        assertThat(f.ask("resume", other, "turns")).isEqualTo("1");
        f.close();
        deleteTree(dir.resolve("data/workspaces"));
        try (Database db = Database.open(config.databaseUrl())) {
            db.withHandle(h -> h.createUpdate("DELETE FROM session_state WHERE session_id = :s")
                    .bind("s", other).execute());
        }

        f = SessionFixture.start(config, dir.resolve("spy"));

        assertThat(f.ask("resume", id, "turns; conversation"))
                .as("the harness resumed its conversation from the state saved in the store")
                .isEqualTo("3 | " + conversation);
        Response lost = f.message("resume", other, "turns");
        assertThat(lost.status()).as("without its saved state the harness refuses, as the real ones do")
                .isEqualTo(409);
        assertThat(lost.json().get("error").asText()).isEqualTo("session_state_lost");
        assertThat(lost.json().get("message").asText()).contains("No conversation found");
    }

    @Test
    void a_restart_keeps_the_workspaces_of_live_sessions_and_releases_the_others() throws IOException {
        Config config = config(w -> w);
        f = SessionFixture.start(config, dir.resolve("spy"));
        f.publish("kept", app());
        String id = f.open("kept");
        assertThat(f.ask("kept", id, "write mine.txt still here")).isEqualTo("ok");
        f.close();
        Files.createDirectories(workspace("sess_ended_long_ago").resolve("files"));

        f = SessionFixture.start(config, dir.resolve("spy"));

        assertThat(workspace("sess_ended_long_ago")).doesNotExist();
        await().atMost(SessionFixture.PATIENCE).until(() -> f.session("kept", id).json().get("workspace_bytes").isNumber());
        assertThat(f.ask("kept", id, "read mine.txt; turns")).isEqualTo("still here | 2");
    }

    @Test
    void state_over_its_limit_is_not_saved_and_the_session_goes_on_here() {
        start(w -> limits(w.maxWorkspaceBytes(), w.maxWorkspaces(), 16 * 1024));
        f.publish("heavy", app());
        String id = f.open("heavy");
        assertThat(f.ask("heavy", id, "turns")).isEqualTo("1");
        Optional<String> saved = savedDigest(id);
        assertThat(saved).isPresent();

        assertThat(f.ask("heavy", id, "homebig junk.bin 100000; turns")).isEqualTo("ok | 2");

        assertThat(savedDigest(id)).as("the last state that fitted stays").isEqualTo(saved);
        assertThat(f.sessionLog("heavy")).anyMatch(line -> line.contains("Harness state of session " + id
                + " not saved") && line.contains("--max-session-state-bytes 16384"));
        assertThat(f.ask("heavy", id, "turns")).as("the local HOME goes on").isEqualTo("3");
    }

    @Test
    void the_saved_state_keeps_links_and_leaves_out_fifos_and_the_cache() throws IOException {
        start(w -> w);
        f.publish("kinds", app());
        String id = f.open("kinds");
        assertThat(f.ask("kinds", id, "homelink notes.lnk .claude; homefifo pipe; homewrite .cache/big.bin x; "
                + "homewrite keep.txt kept")).isEqualTo("ok | ok | ok | ok");
        deleteTree(workspace(id)); // the next turn restores the HOME from the store

        assertThat(f.ask("kinds", id, "turns")).isEqualTo("2");
        Path home = workspace(id).resolve("home");
        assertThat(Files.readSymbolicLink(home.resolve("notes.lnk")).toString()).isEqualTo(".claude");
        assertThat(home.resolve("keep.txt")).hasContent("kept");
        assertThat(Files.exists(home.resolve("pipe"), LinkOption.NOFOLLOW_LINKS)).isFalse();
        assertThat(home.resolve(".cache")).isDirectory().isEmptyDirectory();
    }

    @Test
    void ending_a_session_releases_its_workspace_and_forgets_its_state() {
        start(w -> w);
        f.publish("ended", app());
        String id = f.open("ended");
        f.ask("ended", id, "write x.txt y");
        assertThat(savedDigest(id)).isPresent();
        assertThat(workspace(id)).isDirectory();

        Response end = f.server.delete("/v1/projects/ended/sessions/" + id, f.writer);

        assertThat(end.status()).isEqualTo(204);
        assertThat(workspace(id)).doesNotExist();
        assertThat(savedDigest(id)).isEmpty();
        assertThat(f.session("ended", id).json().get("workspace_bytes").isNull()).isTrue();
    }

    @Test
    void a_workspace_left_over_its_quota_refuses_the_next_turn() {
        start(w -> limits(200_000, w.maxWorkspaces(), w.maxStateBytes()));
        f.publish("full", app());
        String id = f.open("full");

        assertThat(f.ask("full", id, "big blob.bin 300000")).as("the turn that fills it still answers").isEqualTo("ok");
        Response next = f.message("full", id, "read answer.txt");

        assertThat(next.status()).as(next.body()).isEqualTo(409);
        assertThat(next.json().get("error").asText()).isEqualTo("workspace_quota_exceeded");
        assertThat(next.json().get("message").asText()).contains("200000 bytes (--max-workspace-bytes)");
        assertThat(f.session("full", id).json().get("workspace_bytes").asLong()).isGreaterThan(300_000);
        assertThat(f.sessionLog("full")).anyMatch(line -> line.contains("over the limit of 200000"));
    }

    @Test
    void workspaces_beyond_the_cap_are_released_least_recently_used_first_and_made_again() {
        start(w -> limits(w.maxWorkspaceBytes(), 2, w.maxStateBytes()));
        f.publish("capped", app());
        String first = f.open("capped");
        assertThat(f.ask("capped", first, "write mine.txt 1; turns")).isEqualTo("ok | 1");
        String second = f.open("capped");
        f.ask("capped", second, "turns");
        String third = f.open("capped");
        f.ask("capped", third, "turns");

        await().atMost(SessionFixture.PATIENCE).until(() -> !Files.exists(workspace(first)));
        assertThat(workspace(second)).isDirectory();
        assertThat(workspace(third)).isDirectory();
        assertThat(f.session("capped", first).json().get("workspace_bytes").isNull()).isTrue();

        assertThat(f.ask("capped", first, "turns; read mine.txt"))
                .as("its HOME comes back from the store; its working files from the release")
                .isEqualTo("2 | missing");
        await().atMost(SessionFixture.PATIENCE).until(() -> !Files.exists(workspace(second)));
    }

    @Test
    void overlay_workspaces_keep_every_write_in_the_upper_folder() throws IOException {
        start(w -> new Config.Workspaces(w.dir(), w.maxWorkspaceBytes(), w.maxWorkspaces(), w.maxStateBytes(), false));
        f.publish("layered", app());
        Path tree = releaseTree("layered");
        String before = snapshot(tree);
        String id = f.open("layered");
        await().atMost(SessionFixture.PATIENCE).until(() -> Files.exists(workspace(id).resolve("files")));
        assumeTrue(Files.isDirectory(workspace(id).resolve("upper")), "the sandbox mounts no overlays here");

        assertThat(f.ask("layered", id, "write new.txt hello; delete answer.txt; read docs/guide.md"))
                .isEqualTo("ok | ok | original");
        assertThat(f.ask("layered", id, "read new.txt; read answer.txt")).isEqualTo("hello | missing");

        assertThat(workspace(id).resolve("upper/new.txt")).hasContent("hello");
        assertThat(snapshot(tree)).isEqualTo(before);
    }

    private Optional<String> savedDigest(String session) {
        try (Database db = f.server.openDatabase()) {
            return db.withHandle(h -> h.createQuery("SELECT digest FROM session_state WHERE session_id = :s")
                    .bind("s", session).mapTo(String.class).findOne());
        }
    }

    /**
     * Every path of a tree with its type, mode, modification time and content (or link text): two
     * snapshots are equal only if the tree is byte for byte the same.
     */
    static String snapshot(Path tree) throws IOException {
        StringBuilder out = new StringBuilder();
        try (Stream<Path> walk = Files.walk(tree)) {
            for (Path path : walk.sorted().toList()) {
                BasicFileAttributes attrs = Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                out.append(tree.relativize(path)).append(' ');
                if (attrs.isSymbolicLink()) {
                    out.append("link ").append(Files.readSymbolicLink(path));
                } else {
                    out.append(PosixFilePermissions.toString(Files.getPosixFilePermissions(path, LinkOption.NOFOLLOW_LINKS)))
                            .append(' ').append(attrs.lastModifiedTime().toMillis());
                    if (attrs.isRegularFile()) {
                        MessageDigest sha = Digests.sha256();
                        out.append(' ').append(Digests.hex(sha.digest(Files.readAllBytes(path))));
                    }
                }
                out.append('\n');
            }
        }
        return out.toString();
    }

    private static void deleteTree(Path path) {
        try {
            Materializer.deleteRecursively(path);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
