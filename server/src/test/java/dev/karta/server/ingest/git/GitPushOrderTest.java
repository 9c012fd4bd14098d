package dev.karta.server.ingest.git;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.karta.server.testkit.GitRunner;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two pushes to one project cross: the second waits for the first, then finds the branch moved
 * and is rejected before it deploys, so the deploy branch and the live release never disagree.
 * The image builder (run because the app has a Dockerfile) holds the first build until a gate
 * file exists.
 */
class GitPushOrderTest {
    @TempDir
    Path dir;
    GitFixture karta;
    GitFixture.Key writer;
    Path gate;

    @BeforeEach
    void start() {
        gate = dir.resolve("gate");
        karta = GitFixture.start(dir, List.of("sh", "-c", "while [ ! -e '" + gate + "' ]; do sleep 0.05; done"));
        writer = karta.createKey("pusher", "write");
    }

    @AfterEach
    void stop() throws IOException {
        Files.writeString(gate, "open");
        karta.close();
    }

    @Test
    void a_push_that_waited_for_another_is_rejected_if_the_branch_moved_meanwhile() throws IOException {
        Path first = karta.newApp(dir.resolve("first"));
        GitFixture.write(first.resolve("Dockerfile"), "FROM scratch\n");
        karta.commitAll(first, "base");
        Files.writeString(gate, "open");
        karta.git(first, "push", karta.remote("crossed", writer.secret()), "main").ok();
        Files.delete(gate);
        karta.git(dir, "clone", "-q", karta.remote("crossed", writer.secret()), "second").ok();
        Path second = dir.resolve("second");
        GitFixture.write(first.resolve("CLAUDE.md"), "# first\n");
        String winner = karta.commitAll(first, "first");
        GitFixture.write(second.resolve("CLAUDE.md"), "# second\n");
        String loser = karta.commitAll(second, "second");

        GitRunner.Running pushA = karta.gitAsync(first, "push", karta.remote("crossed", writer.secret()), "main");
        await().atMost(Duration.ofSeconds(30)).until(() -> karta.deploys("crossed").get(0).get("status").asText()
                .equals("building"));
        GitRunner.Running pushB = karta.gitAsync(second, "push", karta.remote("crossed", writer.secret()), "main");
        await().atMost(Duration.ofSeconds(30)).until(() -> pushB.errSoFar()
                .contains("remote: Waiting for another push to crossed to finish"));
        Files.writeString(gate, "open");

        GitRunner.Run a = pushA.await().ok();
        GitRunner.Run b = pushB.await().failed();
        assertThat(a.err()).contains("remote: Released v2");
        assertThat(b.err()).contains("! [remote rejected] main -> main (another push updated it meanwhile; fetch and "
                + "push again)");
        assertThat(karta.project("crossed").get("current_release").get("commit_sha").asText()).isEqualTo(winner);
        assertThat(karta.git(dir, "ls-remote", karta.remote("crossed", writer.secret()), "refs/heads/main").ok().out())
                .startsWith(winner);
        assertThat(karta.deploys("crossed")).noneSatisfy(d -> assertThat(d.get("commit_sha").asText()).isEqualTo(loser));
    }
}
