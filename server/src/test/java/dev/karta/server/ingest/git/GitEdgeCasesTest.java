package dev.karta.server.ingest.git;

import static org.assertj.core.api.Assertions.assertThat;

import dev.karta.server.testkit.GitRunner;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Pushes git makes in less common ways, with the real git client. */
class GitEdgeCasesTest {
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

    /** A repository of three commits on main, as a CI runner's upstream would hold it. */
    private Path upstream() {
        Path app = karta.newApp(work.resolve("upstream"));
        GitFixture.write(app.resolve("CLAUDE.md"), "# two\n");
        karta.commitAll(app, "two");
        GitFixture.write(app.resolve("CLAUDE.md"), "# three\n");
        karta.commitAll(app, "three");
        return app;
    }

    @Test
    void a_push_from_a_shallow_clone_gets_one_line_saying_how_to_unshallow() {
        Path upstream = upstream();
        karta.git(work, "clone", "-q", "--depth", "1", "file://" + upstream, "shallow").ok();
        Path shallow = work.resolve("shallow");

        GitRunner.Run push = karta.git(shallow, "push", karta.remote("shallow", writer.secret()), "main").failed();

        assertThat(push.err()).contains(" ! [remote rejected] main -> main (shallow clone: run git fetch --unshallow, "
                + "or use actions/checkout with fetch-depth: 0)");
        assertThat(push.err()).doesNotContain("unpack", "Missing", "Exception", "remote: ");
        assertThat(karta.deploys("shallow")).isEmpty();
        assertThat(karta.git(work, "ls-remote", karta.remote("shallow", writer.secret())).ok().out()).isEmpty();

        karta.git(shallow, "fetch", "-q", "--unshallow").ok();
        GitRunner.Run again = karta.git(shallow, "push", karta.remote("shallow", writer.secret()), "main").ok();

        assertThat(again.err()).contains("remote: Released v1");
    }

    @Test
    void an_atomic_push_that_aborts_says_nothing_was_stored() {
        Path app = upstream();
        karta.git(app, "push", karta.remote("atomic", writer.secret()), "main").ok();
        karta.git(app, "checkout", "-q", "-b", "feature").ok();
        GitFixture.write(app.resolve("notes.md"), "feature\n");
        karta.commitAll(app, "feature");
        karta.git(app, "checkout", "-q", "main").ok();
        GitFixture.write(app.resolve("karta.toml"), "entry_point = [\n");
        karta.commitAll(app, "break karta.toml");

        GitRunner.Run push = karta.git(app, "push", "--atomic", karta.remote("atomic", writer.secret()), "main",
                "feature").failed();

        assertThat(push.err()).contains("remote: Build failed", " ! [remote rejected] feature -> feature (transaction aborted)")
                .doesNotContain("Stored branch");
        assertThat(karta.git(work, "ls-remote", karta.remote("atomic", writer.secret()), "refs/heads/feature").ok()
                .out()).isEmpty();
    }

    @Test
    void a_push_whose_deploy_fails_still_stores_and_names_its_other_branches_without_atomic() {
        Path app = upstream();
        karta.git(app, "push", karta.remote("mixed", writer.secret()), "main").ok();
        karta.git(app, "checkout", "-q", "-b", "feature").ok();
        GitFixture.write(app.resolve("notes.md"), "feature\n");
        String feature = karta.commitAll(app, "feature");
        karta.git(app, "checkout", "-q", "main").ok();
        GitFixture.write(app.resolve("karta.toml"), "entry_point = [\n");
        karta.commitAll(app, "break karta.toml");

        GitRunner.Run push = karta.git(app, "push", karta.remote("mixed", writer.secret()), "main", "feature").failed();

        assertThat(push.err()).contains("remote: Stored branch 'feature', not deployed", " * [new branch]      feature -> feature");
        assertThat(karta.git(work, "ls-remote", karta.remote("mixed", writer.secret()), "refs/heads/feature").ok()
                .out()).startsWith(feature);
    }

    @Test
    void clone_and_fetch_speak_git_protocol_v2() {
        Path app = upstream();
        karta.git(app, "push", karta.remote("protocol", writer.secret()), "main").ok();

        GitRunner.Run clone = karta.gitTracingPackets(work, "-c", "protocol.version=2", "clone",
                karta.remote("protocol", writer.secret()), "copy").ok();
        GitRunner.Run fetch = karta.gitTracingPackets(work.resolve("copy"), "-c", "protocol.version=2", "fetch",
                "origin").ok();

        assertThat(clone.err()).contains("clone< version 2", "> command=fetch");
        assertThat(fetch.err()).contains("fetch< version 2", "> command=ls-refs");
        assertThat(work.resolve("copy/CLAUDE.md")).hasContent("# three");
    }
}
