package dev.karta.server.ingest.git;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.server.Config;
import dev.karta.server.build.Materializer;
import dev.karta.server.build.Tree;
import dev.karta.server.store.Database;
import dev.karta.server.testkit.GitRunner;
import dev.karta.server.testkit.TestServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Git push deploys (docs/git-push.md) with the real git client: a push to the deploy branch builds and releases during the push. */
class GitPushTest {
    @TempDir
    static Path shared;
    static GitFixture karta;
    static GitFixture.Key writer;

    @TempDir
    Path work;

    @BeforeAll
    static void start() {
        karta = GitFixture.start(shared);
        writer = karta.createKey("pusher", "write");
    }

    @AfterAll
    static void stop() {
        karta.close();
    }

    private String remoteMain(String project) {
        return karta.git(work, "ls-remote", karta.remote(project, writer.secret()), "refs/heads/main").ok().out()
                .split("\\s")[0];
    }

    @Test
    void push_to_main_releases_v1_and_streams_the_build_log_as_remote_lines() {
        Path app = karta.newApp(work.resolve("app"));
        String sha = karta.head(app);

        GitRunner.Run push = karta.git(app, "push", karta.remote("hello", writer.secret()), "main").ok();

        String err = push.err();
        assertThat(err).contains("remote: Build started", "remote: Detected harness claude, build kind file_copy",
                "remote: Release v1 activated");
        assertThat(err).contains("remote: Released v1 — " + karta.base() + "/v1/projects/hello");
        assertThat(err.indexOf("remote: Build started")).isLessThan(err.indexOf("remote: Released v1"));
        assertThat(err).contains("* [new branch]      main -> main");
        JsonNode project = karta.project("hello");
        assertThat(project.get("current_release").get("version").asText()).isEqualTo("v1");
        assertThat(project.get("current_release").get("commit_sha").asText()).isEqualTo(sha);
        JsonNode release = karta.releases("hello").get(0);
        assertThat(release.get("source").asText()).isEqualTo("git_push");
        assertThat(release.get("trigger").asText()).isEqualTo("git_push");
        assertThat(release.get("idempotency_key").isNull()).isTrue();
        assertThat(release.get("commit_sha").asText()).hasSize(40).isEqualTo(sha);
        assertThat(remoteMain("hello")).isEqualTo(sha);
    }

    @Test
    void a_pushed_release_keeps_its_archive_recorded_on_its_deploy() throws Exception {
        TestServer.assumeDataDirStorage();
        Path app = karta.newApp(work.resolve("app"));

        karta.git(app, "push", karta.remote("archived", writer.secret()), "main").ok();

        String digest = karta.releases("archived").get(0).get("content_digest").asText();
        Path data = shared.resolve("data");
        String artifact;
        try (Database db = Database.open(Config.sqliteUrl(data))) {
            artifact = db.withHandle(h -> h.select("SELECT d.artifact FROM deploys d JOIN projects p "
                    + "ON p.id = d.project_id WHERE p.name = 'archived'").mapTo(String.class).one());
        }
        assertThat(artifact).as("the deploy records its archive, as an upload's does").isNotNull();
        Path archive = data.resolve("artifacts").resolve(artifact + ".tar.gz");
        assertThat(archive).isRegularFile();
        assertThat(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(archive))))
                .isEqualTo(artifact);
        try (InputStream in = Files.newInputStream(archive)) {
            Tree tree = new Materializer(Config.ArchiveLimits.DEFAULTS).materialize(in, work.resolve("check"));
            assertThat(tree.contentDigest()).as("the archive holds the release's tree").isEqualTo(digest);
        }
    }

    @Test
    void a_push_to_a_new_project_name_creates_the_project() {
        assertThat(karta.get("/agent_projects/fresh-name", karta.adminKey).status()).isEqualTo(404);
        Path app = karta.newApp(work.resolve("app"));

        karta.git(app, "push", karta.remote("fresh-name", writer.secret()), "main").ok();

        JsonNode project = karta.project("fresh-name");
        assertThat(project.get("git_url").asText()).isEqualTo(karta.base() + "/git/fresh-name.git");
        JsonNode events = karta.get("/audit_events", karta.adminKey).json().get("events");
        assertThat(events).anySatisfy(e -> {
            assertThat(e.get("action").asText()).isEqualTo("project.create");
            assertThat(e.get("resource").asText()).isEqualTo("project:fresh-name");
            assertThat(e.get("actor_key_id").asText()).isEqualTo(writer.id());
        });
    }

    @Test
    void a_failing_build_rejects_the_push_and_leaves_the_release_and_the_branch_alone() {
        Path app = karta.newApp(work.resolve("app"));
        String good = karta.head(app);
        karta.git(app, "push", karta.remote("broken", writer.secret()), "main").ok();
        GitFixture.write(app.resolve("karta.toml"), "entry_point = [\n");
        String bad = karta.commitAll(app, "break karta.toml");

        GitRunner.Run push = karta.git(app, "push", karta.remote("broken", writer.secret()), "main").failed();

        assertThat(push.err()).contains("! [remote rejected] main -> main (build failed: karta.toml:");
        assertThat(push.err()).contains("remote: Push rejected: 'main' was not moved; broken still serves v1");
        assertThat(karta.project("broken").get("current_release").get("commit_sha").asText()).isEqualTo(good);
        assertThat(karta.releases("broken")).hasSize(1);
        assertThat(karta.deploys("broken").get(0).get("status").asText()).isEqualTo("failed");
        assertThat(karta.deploys("broken").get(0).get("commit_sha").asText()).isEqualTo(bad);
        assertThat(remoteMain("broken")).isEqualTo(good);
    }

    @Test
    void pushes_to_other_branches_are_stored_not_deployed() {
        Path app = karta.newApp(work.resolve("app"));
        String live = karta.head(app);
        karta.git(app, "push", karta.remote("branches", writer.secret()), "main").ok();
        karta.git(app, "checkout", "-q", "-b", "feature").ok();
        GitFixture.write(app.resolve("CLAUDE.md"), "# Feature work\n");
        String feature = karta.commitAll(app, "feature");

        GitRunner.Run push = karta.git(app, "push", karta.remote("branches", writer.secret()), "feature").ok();

        assertThat(push.err()).contains("remote: Stored branch 'feature', not deployed: pushes to 'main' deploy branches");
        assertThat(push.err()).doesNotContain("Build started");
        assertThat(karta.git(work, "ls-remote", karta.remote("branches", writer.secret()), "refs/heads/feature").ok()
                .out()).startsWith(feature);
        assertThat(karta.deploys("branches")).hasSize(1);
        assertThat(karta.project("branches").get("current_release").get("commit_sha").asText()).isEqualTo(live);
    }

    @Test
    void a_force_push_to_main_deploys() {
        Path app = karta.newApp(work.resolve("app"));
        karta.git(app, "push", karta.remote("forced", writer.secret()), "main").ok();
        GitFixture.write(app.resolve("CLAUDE.md"), "# Rewritten history\n");
        karta.git(app, "add", "-A").ok();
        karta.git(app, "commit", "-q", "--amend", "-m", "rewritten").ok();
        String rewritten = karta.head(app);

        karta.git(app, "push", karta.remote("forced", writer.secret()), "main").failed(); // git refuses a non-fast-forward
        GitRunner.Run push = karta.git(app, "push", "--force", karta.remote("forced", writer.secret()), "main").ok();

        assertThat(push.err()).contains("remote: Released v2", "(forced update)");
        assertThat(karta.project("forced").get("current_release").get("commit_sha").asText()).isEqualTo(rewritten);
        assertThat(remoteMain("forced")).isEqualTo(rewritten);
    }

    @Test
    void deleting_the_deploy_branch_is_refused_but_other_branches_may_go() {
        Path app = karta.newApp(work.resolve("app"));
        String live = karta.head(app);
        karta.git(app, "push", karta.remote("keeper", writer.secret()), "main", "main:other").ok();

        GitRunner.Run refused = karta.git(app, "push", karta.remote("keeper", writer.secret()), ":main").failed();
        karta.git(app, "push", karta.remote("keeper", writer.secret()), ":other").ok();

        assertThat(refused.err()).contains("'main' is the deploy branch of keeper and cannot be deleted");
        assertThat(remoteMain("keeper")).isEqualTo(live);
        assertThat(karta.git(work, "ls-remote", karta.remote("keeper", writer.secret())).ok().out())
                .doesNotContain("refs/heads/other");
        assertThat(karta.project("keeper").get("current_release").get("version").asText()).isEqualTo("v1");
    }

    @Test
    void the_release_tree_is_the_commit_tree_with_executable_bits_and_symlinks() throws IOException {
        Path app = karta.newApp(work.resolve("app"));
        GitFixture.write(app.resolve("bin/run.sh"), "#!/bin/sh\necho hi\n");
        Files.setPosixFilePermissions(app.resolve("bin/run.sh"), PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.createSymbolicLink(app.resolve("README.md"), Path.of("CLAUDE.md"));
        karta.commitAll(app, "script and link");

        karta.git(app, "push", karta.remote("modes", writer.secret()), "main").ok();

        Path tree = releaseTree("modes");
        assertThat(Files.getPosixFilePermissions(tree.resolve("bin/run.sh"))).contains(PosixFilePermission.OWNER_EXECUTE);
        assertThat(Files.getPosixFilePermissions(tree.resolve("CLAUDE.md"))).doesNotContain(PosixFilePermission.OWNER_EXECUTE);
        assertThat(Files.isSymbolicLink(tree.resolve("README.md"))).isTrue();
        assertThat(Files.readSymbolicLink(tree.resolve("README.md"))).isEqualTo(Path.of("CLAUDE.md"));
        assertThat(Files.exists(tree.resolve(".git"), LinkOption.NOFOLLOW_LINKS)).isFalse();
    }

    @Test
    void a_commit_whose_files_sit_in_one_folder_keeps_that_folder() {
        Path app = work.resolve("app");
        GitFixture.write(app.resolve("agent/CLAUDE.md"), "# Nested\n");
        karta.git(app, "init", "-q").ok();
        karta.commitAll(app, "nested");

        karta.git(app, "push", karta.remote("nested", writer.secret()), "main").ok();

        Path tree = releaseTree("nested");
        assertThat(tree.resolve("agent/CLAUDE.md")).exists();
        assertThat(tree.resolve("CLAUDE.md")).doesNotExist();
    }

    @Test
    void a_commit_too_big_to_export_in_memory_spills_to_disk_and_deploys() throws IOException {
        TestServer.assumeDataDirStorage();
        Path app = karta.newApp(work.resolve("app"));
        byte[] noise = new byte[6 << 20];
        new Random(4).nextBytes(noise);
        Files.write(app.resolve("model.bin"), noise);
        karta.commitAll(app, "big");

        karta.git(app, "push", karta.remote("bulky", writer.secret()), "main").ok();

        assertThat(releaseTree("bulky").resolve("model.bin")).hasBinaryContent(noise);
        String id = karta.query("SELECT id FROM projects WHERE name = 'bulky'").get(0);
        try (var left = Files.list(karta.server.config().dataDir().resolve("projects").resolve(id))) {
            assertThat(left.map(p -> p.getFileName().toString())).containsExactly("repo.git");
        }
    }

    @Test
    void a_commit_without_files_is_rejected() {
        Path app = mkdirs(work.resolve("app"));
        karta.git(app, "init", "-q").ok();
        karta.commitAll(app, "nothing here");

        GitRunner.Run push = karta.git(app, "push", karta.remote("empty-app", writer.secret()), "main").failed();

        assertThat(push.err()).contains("(build failed: commit ", "has no files to deploy)");
        assertThat(karta.project("empty-app").get("current_release").isNull()).isTrue();
    }

    @Test
    void each_push_is_audited_with_the_pushers_key_and_written_to_the_project_log() {
        Path app = karta.newApp(work.resolve("app"));
        String sha = karta.head(app);

        karta.git(app, "push", karta.remote("audited", writer.secret()), "main", "main:side").ok();

        JsonNode events = karta.get("/audit_events", karta.adminKey).json().get("events");
        for (String ref : List.of("refs/heads/main", "refs/heads/side")) {
            assertThat(events).anySatisfy(e -> {
                assertThat(e.get("action").asText()).isEqualTo("git.push");
                assertThat(e.get("actor_key_id").asText()).isEqualTo(writer.id());
                assertThat(e.get("resource").asText()).isEqualTo("project:audited/" + ref + "@" + sha.substring(0, 12));
            });
        }
        assertThat(events).anySatisfy(e -> {
            assertThat(e.get("action").asText()).isEqualTo("deploy.create");
            assertThat(e.get("actor_key_id").asText()).isEqualTo(writer.id());
        });
        List<String> log = karta.query("SELECT l.message FROM log_entries l JOIN projects p ON p.id = l.project_id "
                + "WHERE p.name = 'audited' AND l.source = 'system' AND l.message LIKE 'git push%'");
        assertThat(log).containsExactly("git push by key " + writer.id() + ": main new at " + sha.substring(0, 7)
                + " (deploying), side new at " + sha.substring(0, 7) + " (stored)");
    }

    @Test
    void concurrent_pushes_to_two_projects_both_release() throws Exception {
        List<Path> apps = new ArrayList<>();
        for (String name : List.of("left", "right")) {
            Path app = karta.newApp(work.resolve(name));
            GitFixture.write(app.resolve("CLAUDE.md"), "# " + name + "\n");
            karta.commitAll(app, name);
            apps.add(app);
        }
        CountDownLatch go = new CountDownLatch(1);
        List<CompletableFuture<GitRunner.Run>> pushes = new ArrayList<>();
        for (Path app : apps) {
            pushes.add(CompletableFuture.supplyAsync(() -> {
                try {
                    go.await();
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
                return karta.git(app, "push", karta.remote("twin-" + app.getFileName(), writer.secret()), "main");
            }));
        }
        go.countDown();

        for (int i = 0; i < apps.size(); i++) {
            GitRunner.Run run = pushes.get(i).get();
            run.ok();
            assertThat(run.err()).contains("remote: Released v1");
            String name = "twin-" + apps.get(i).getFileName();
            assertThat(karta.project(name).get("current_release").get("commit_sha").asText())
                    .isEqualTo(karta.head(apps.get(i)));
        }
    }

    @Test
    void deleting_a_project_deletes_its_repository() {
        TestServer.assumeDataDirStorage();
        Path app = karta.newApp(work.resolve("app"));
        karta.git(app, "push", karta.remote("doomed", writer.secret()), "main").ok();
        String id = karta.query("SELECT id FROM projects WHERE name = 'doomed'").get(0);
        Path repo = karta.server.config().dataDir().resolve("projects").resolve(id).resolve("repo.git");
        assertThat(repo.resolve("HEAD")).exists();

        assertThat(karta.delete("/agent_projects/doomed", karta.adminKey).status()).isEqualTo(204);

        assertThat(repo).doesNotExist();
        GitRunner.Run fetch = karta.git(work, "ls-remote", karta.remote("doomed", writer.secret())).failed();
        assertThat(fetch.err()).contains("project 'doomed' not found");
    }

    @Test
    void a_push_whose_commit_links_out_of_its_tree_is_rejected_and_lands_nothing() throws IOException {
        // git exports put the commit under one top folder; once stripped, "x -> .." would name trees/.
        Path app = karta.newApp(work.resolve("app"));
        Files.createSymbolicLink(app.resolve("x"), Path.of(".."));
        Files.createDirectories(app.resolve("a"));
        Files.createSymbolicLink(app.resolve("a/b"), Path.of("../.."));
        karta.commitAll(app, "links out of the release tree");
        List<String> treesBefore = treeStore();

        GitRunner.Run push = karta.git(app, "push", karta.remote("escape", writer.secret()), "main").failed();

        assertThat(push.err()).contains("! [remote rejected] main -> main (build failed: symlink '",
                "' points outside the tree ('..", "(link_escapes_tree)");
        assertThat(push.err()).contains("remote: Push rejected: 'main' was not moved; escape has no release yet");
        assertThat(karta.project("escape").get("current_release").isNull()).isTrue();
        assertThat(treeStore()).as("nothing landed in the shared tree store").isEqualTo(treesBefore);
    }

    @Test
    void a_rejected_push_takes_back_the_objects_it_brought() throws IOException {
        TestServer.assumeDataDirStorage();
        Path app = karta.newApp(work.resolve("app"));
        karta.git(app, "push", karta.remote("takeback", writer.secret()), "main").ok();
        Path objects = karta.server.config().dataDir().resolve("projects")
                .resolve(karta.query("SELECT id FROM projects WHERE name = 'takeback'").get(0)).resolve("repo.git/objects");
        List<String> before = objectFiles(objects);
        byte[] noise = new byte[256 << 10];
        new Random(7).nextBytes(noise);
        Files.write(app.resolve("weights.bin"), noise);
        GitFixture.write(app.resolve("karta.toml"), "entry_point = [\n");
        karta.commitAll(app, "big and broken");

        karta.git(app, "push", karta.remote("takeback", writer.secret()), "main").failed();

        assertThat(objectFiles(objects)).as("pack and loose objects after the rejected push").isEqualTo(before);
        GitFixture.write(app.resolve("karta.toml"), "entry_point = \"CLAUDE.md\"\n");
        String fixed = karta.commitAll(app, "fixed");
        karta.git(app, "push", karta.remote("takeback", writer.secret()), "main").ok();
        assertThat(remoteMain("takeback")).isEqualTo(fixed);
        assertThat(releaseTree("takeback").resolve("weights.bin")).hasBinaryContent(noise);
    }

    @Test
    void many_pushes_are_compacted_into_few_packs_and_the_history_stays_whole() throws IOException {
        TestServer.assumeDataDirStorage();
        Path app = karta.newApp(work.resolve("app"));
        String remote = karta.remote("packed", writer.secret());
        karta.git(app, "push", remote, "main").ok();
        for (int i = 1; i <= 10; i++) {
            GitFixture.write(app.resolve("CLAUDE.md"), "You are version " + i + ".\n");
            karta.commitAll(app, "version " + i);
            karta.git(app, "push", remote, "main").ok();
        }
        Path repo = karta.server.config().dataDir().resolve("projects")
                .resolve(karta.query("SELECT id FROM projects WHERE name = 'packed'").get(0)).resolve("repo.git");

        // Eleven pushes stored eleven packs; past eight they are compacted in the background.
        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(packs(repo)).hasSizeLessThanOrEqualTo(4));
        assertThat(repo.resolve("gc.log.lock")).as("JGit's own repacking in the push is off").doesNotExist();
        karta.git(work, "--git-dir=" + repo, "fsck", "--strict", "--no-dangling").ok();
        karta.git(work, "clone", "-q", remote, "copy").ok();
        assertThat(karta.git(work.resolve("copy"), "rev-list", "--count", "HEAD").ok().out().trim()).isEqualTo("11");
        assertThat(karta.head(work.resolve("copy"))).isEqualTo(karta.head(app));
    }

    private static List<Path> packs(Path repo) throws IOException {
        try (var packs = Files.newDirectoryStream(repo.resolve("objects/pack"), "*.pack")) {
            List<Path> found = new ArrayList<>();
            packs.forEach(found::add);
            return found;
        }
    }

    /** Every file of a repository's object store (packs, indexes, loose objects) with its size. */
    private static List<String> objectFiles(Path objects) throws IOException {
        try (var walk = Files.walk(objects)) {
            return walk.filter(Files::isRegularFile).map(p -> {
                try {
                    return objects.relativize(p) + " " + Files.size(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }).sorted().toList();
        }
    }

    /** The names in the shared tree store, staging folders aside. */
    private static List<String> treeStore() throws IOException {
        Path dir = karta.server.config().dataDir().resolve("trees");
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (var trees = Files.list(dir)) {
            return trees.map(p -> p.getFileName().toString()).filter(n -> !n.startsWith(".")).sorted().toList();
        }
    }

    private Path releaseTree(String project) {
        String digest = karta.releases(project).get(0).get("content_digest").asText();
        return karta.server.config().dataDir().resolve("trees").resolve(digest.substring("sha256:".length()));
    }

    private static Path mkdirs(Path dir) {
        try {
            return Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
