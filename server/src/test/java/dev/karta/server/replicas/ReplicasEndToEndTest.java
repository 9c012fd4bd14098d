package dev.karta.server.replicas;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.server.sessions.FakeHarness;
import dev.karta.server.store.SecretBox;
import dev.karta.server.testkit.GitRunner;
import dev.karta.server.testkit.PostgresDatabase;
import dev.karta.server.testkit.PostgresExtension;
import dev.karta.server.testkit.TarBuilder;
import dev.karta.server.testkit.TestServer;
import java.io.IOException;
import java.net.http.HttpRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three real {@code karta server} processes with {@code --storage database} on one PostgreSQL,
 * each with a data dir of its own and one shared secrets key, behind a real haproxy that sends
 * every request to the next replica in turn. The steps run in order on one cluster; each names
 * what it proves, so a failing one says which cross-replica behaviour is missing. A step that
 * names a replica talks to it directly; every other request goes through the balancer.
 *
 * <p>Faults are real too: {@code kill -9} of the replica running a build (its lease runs out and
 * another replica finishes or fails the deploy), {@code kill -9} of the replica serving a push
 * (the branch does not move; the next push works), and a replica's data dir wiped while it runs
 * (it is only a cache).
 */
@ExtendWith(PostgresExtension.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ReplicasEndToEndTest {
    /** A building deploy whose replica died is taken over once its lease (30 s by default) has run out. */
    private static final Duration TAKEOVER = Duration.ofSeconds(100);
    private static final Duration PATIENCE = Duration.ofSeconds(30);
    /**
     * The image builder every replica runs for Dockerfile apps: the app's own {@code build.sh}, so
     * each test app decides how long its build takes and what it prints.
     */
    private static final String BUILDER = "[\"sh\",\"{context}/build.sh\"]";

    private Path root;

    private final List<Replica> replicas = new ArrayList<>();
    private Balancer balancer;
    private String key;
    private TestServer viaBalancer;
    private GitRunner git;
    private Path checkout;
    private String crashDeploy;
    private final Map<String, String> answers = new LinkedHashMap<>();

    @BeforeAll
    void start(PostgresDatabase postgres, @TempDir Path root) throws IOException {
        this.root = root;
        Balancer.executable(); // fails, saying how to install it, where there is none
        key = TestServer.randomKey();
        Path secretsKey = ownerOnlyFile(root.resolve("secrets.key"), SecretBox.newKeyText());
        Path bootstrapKey = ownerOnlyFile(root.resolve("bootstrap.key"), key);
        Path claude = FakeHarness.claude(root.resolve("bin"), root.resolve("spy"));
        int balancerPort = Replica.freePort();
        List<String> flags = List.of("--database", postgres.url(), "--storage", "database",
                "--public-url", "http://127.0.0.1:" + balancerPort,
                "--secrets-key-file", secretsKey.toString(), "--bootstrap-key-file", bootstrapKey.toString(),
                "--harness-claude", claude.toString(), "--sandbox", "bwrap", "--harness-network", "none",
                "--builder", BUILDER, "--build-workers", "2", "--max-builds-per-org", "4");
        Map<String, String> environment = Map.of("PATH", System.getenv("PATH"), "LANG", "C.UTF-8",
                "HOME", Files.createDirectories(root.resolve("home")).toString());
        for (String name : List.of("r1", "r2", "r3")) {
            replicas.add(new Replica(name, root, flags, environment));
        }
        // The first replica migrates the empty database and creates the first org; the others
        // find both done.
        replicas.get(0).start().awaitLive();
        replicas.subList(1, replicas.size()).forEach(Replica::start);
        replicas.subList(1, replicas.size()).forEach(Replica::awaitLive);
        balancer = Balancer.start(root.resolve("haproxy"), balancerPort, replicas);
        balancer.awaitAllUp(replicas, PATIENCE);
        viaBalancer = TestServer.attach(balancerPort, key);
        git = new GitRunner(Files.createDirectories(root.resolve("git-home")));
    }

    @AfterAll
    void stop() {
        if (balancer != null) {
            balancer.close();
        }
        replicas.forEach(Replica::kill);
    }

    @Test
    @Order(1)
    void every_replica_is_ready_and_the_balancer_spreads_requests_over_all_of_them() {
        for (Replica replica : replicas) {
            assertThat(replica.status(Balancer.READINESS)).as("GET %s on %s", Balancer.READINESS, replica).isEqualTo(200);
        }
        for (int i = 0; i < 3 * replicas.size(); i++) {
            TestServer.Response projects = viaBalancer.get("/agent_projects", key);
            assertThat(projects.status()).as(projects.body()).isEqualTo(200);
        }
        for (Replica replica : replicas) {
            assertThat(balancer.requestsTo(replica.name)).as("requests haproxy sent to %s", replica).isPositive();
        }
    }

    @Test
    @Order(2)
    void a_release_published_on_replica_1_is_active_on_every_replica() {
        String deploy = upload(replica(1).client(key), "shop", TarBuilder.files(claudeApp("one")));
        JsonNode done = awaitEnded("shop", deploy, PATIENCE);
        assertThat(done.get("status").asText()).as(done.toString()).isEqualTo("succeeded");
        assertThat(done.get("release").asText()).isEqualTo("v1");
        answers.put("v1", "one");
        for (Replica replica : replicas) {
            assertThat(currentVersion(replica.client(key), "shop")).as("active release on %s", replica).isEqualTo("v1");
        }
    }

    @Test
    @Order(3)
    void deploy_by_commit_on_replica_2_builds_a_commit_pushed_through_the_balancer() {
        checkout = root.resolve("shop-checkout");
        writeApp(checkout, claudeApp("two"));
        git.run(checkout, "init", "-q").ok();
        String two = git.commitAll(checkout, "two");
        // Another branch than the deploy branch: stored, not deployed.
        git.run(checkout, "push", balancerGitUrl("shop"), "HEAD:refs/heads/next").ok();

        TestServer.Response accepted = replica(2).client(key).post("/agent_projects/shop/deploys", key,
                "{\"commit_sha\":\"" + two + "\"}");
        assertThat(accepted.status()).as(accepted.body()).isEqualTo(202);
        JsonNode done = awaitEnded("shop", accepted.json().get("deploy_id").asText(), PATIENCE);
        assertThat(done.get("status").asText()).as(done.toString()).isEqualTo("succeeded");
        assertThat(done.get("commit_sha").asText()).isEqualTo(two);
        answers.put(done.get("release").asText(), "two");
        assertThat(currentVersion(viaBalancer, "shop")).isEqualTo(done.get("release").asText());
    }

    @Test
    @Order(4)
    void rollback_on_replica_1_points_every_replica_at_the_earlier_release() {
        // Not pinned: the push of a later step goes live again.
        TestServer.Response rolled = replica(1).client(key).post("/agent_projects/shop/rollback", key,
                "{\"to\":\"v1\",\"pin\":false}");
        assertThat(rolled.status()).as(rolled.body()).isEqualTo(200);
        assertThat(rolled.json().get("active").asText()).isEqualTo("v1");
        for (Replica replica : replicas) {
            assertThat(currentVersion(replica.client(key), "shop")).as("active release on %s", replica).isEqualTo("v1");
        }
    }

    @Test
    @Order(5)
    void a_new_session_on_replica_2_runs_the_rolled_back_release_and_its_turns_move_between_replicas() {
        TestServer client = replica(2).client(key);
        TestServer.Response created = client.post("/v1/projects/shop/sessions", key, "{}");
        assertThat(created.status()).as(created.body()).isEqualTo(201);
        assertThat(created.json().at("/project/version").asText()).isEqualTo("v1");
        String session = created.json().get("id").asText();
        assertThat(ask(client, "shop", session)).isEqualTo("one");

        // The next turns go through the balancer, each to another replica than the one before: each
        // resumes the conversation from the harness state the turn before saved in the database.
        for (int turn = 0; turn < replicas.size(); turn++) {
            assertThat(ask(viaBalancer, "shop", session)).isEqualTo("one");
        }
        TestServer.Response history = viaBalancer.post("/v1/projects/shop/sessions/" + session + "/messages", key,
                "{\"text\":\"history\"}");
        assertThat(history.status()).as(history.body()).isEqualTo(200);
        assertThat(history.json().at("/message/text").asText()).as("the user messages the harness remembers")
                .isEqualTo("[" + "\"which release?\", ".repeat(replicas.size()) + "\"which release?\"]");
    }

    @Test
    @Order(6)
    void a_push_through_the_balancer_deploys_and_every_replica_serves_the_branch_back() {
        writeApp(checkout, claudeApp("three"));
        String three = git.commitAll(checkout, "three");
        // Each request of the push (advertisement, pack) goes to the next replica in turn.
        GitRunner.Run pushed = git.run(checkout, "push", balancerGitUrl("shop"), "HEAD:refs/heads/main").ok();
        assertThat(pushed.err()).contains("Released v");
        answers.put(currentVersion(viaBalancer, "shop"), "three");

        for (Replica replica : replicas) {
            Path clone = root.resolve("clone-" + replica.name);
            git.run(root, "clone", "-q", replica.gitUrl("shop", key), clone.toString()).ok();
            assertThat(git.head(clone)).as("main cloned from %s", replica).isEqualTo(three);
            assertThat(clone.resolve("answer.txt")).content().isEqualTo("three\n");
        }
    }

    @Test
    @Order(7)
    void a_tail_on_one_replica_follows_a_build_running_on_another() {
        TestServer.Response created = viaBalancer.post("/agent_projects", key, "{\"name\":\"ticks\"}");
        assertThat(created.status()).as(created.body()).isEqualTo(201);
        List<Tail> tails = replicas.stream().map(r -> Tail.open(r, "ticks", key)).toList();
        try {
            await().atMost(PATIENCE).until(() -> tails.stream().allMatch(Tail::connected));
            String deploy = upload(replica(1).client(key), "ticks", buildApp("ticks", "karta-e2e-ticks", 20));
            Replica builder = awaitBuilderOf("karta-e2e-ticks");
            List<Tail> elsewhere = tails.stream().filter(t -> t.replica != builder).toList();

            await().atMost(PATIENCE).pollInterval(Duration.ofMillis(20))
                    .until(() -> elsewhere.stream().allMatch(t -> t.saw("builder: tick 3")));
            JsonNode meanwhile = deploy("ticks", deploy);
            assertThat(meanwhile.get("status").asText()).as("the build is still running on %s while the tails on %s "
                    + "show its lines", builder, elsewhere).isEqualTo("building");
            JsonNode done = awaitEnded("ticks", deploy, PATIENCE);
            assertThat(done.get("status").asText()).as(done.toString()).isEqualTo("succeeded");
            await().atMost(PATIENCE).untilAsserted(() -> assertThat(elsewhere)
                    .allMatch(t -> t.saw("builder: tick 20"), "saw the last line"));
        } finally {
            tails.forEach(Tail::close);
        }
    }

    /**
     * Kills the replica running a build and does not wait: its lease runs out while the next
     * steps run, and {@link #the_build_of_the_killed_replica_ended_and_versions_are_contiguous}
     * checks the outcome.
     */
    @Test
    @Order(8)
    void the_replica_running_a_build_is_killed() {
        crashDeploy = upload(viaBalancer, "crash", buildApp("crash", "karta-e2e-crash", 25));
        Replica builder = awaitBuilderOf("karta-e2e-crash");
        builder.kill();
        assertThat(deploy("crash", crashDeploy).get("status").asText()).isEqualTo("building");
    }

    @Test
    @Order(9)
    void a_push_cut_by_a_killed_replica_moves_no_ref_and_the_next_push_works() {
        Map<Replica, String> before = new LinkedHashMap<>();
        survivors().forEach(replica -> before.put(replica, remoteMain(replica.gitUrl("shop", key))));
        writeApp(checkout, buildAppFiles("four", "karta-e2e-push", 25));
        git.commitAll(checkout, "four, slow to build");
        Replica serving = survivors().get(0);
        GitRunner.Running push = git.start(checkout, "push", serving.gitUrl("shop", key), "HEAD:refs/heads/main");
        awaitBuilderOf("karta-e2e-push"); // the push is open, waiting for its build
        serving.kill();
        assertThat(push.await().exit()).as("git push to a killed replica").isNotZero();
        for (Replica replica : survivors()) {
            assertThat(remoteMain(replica.gitUrl("shop", key))).as("main on %s", replica).isEqualTo(before.get(replica));
        }

        git.run(checkout, "reset", "-q", "--hard", "HEAD~1").ok();
        writeApp(checkout, claudeApp("five"));
        String five = git.commitAll(checkout, "five");
        GitRunner.Run next = git.run(checkout, "push", balancerGitUrl("shop"), "HEAD:refs/heads/main").ok();
        assertThat(next.err()).contains("Released v");
        answers.put(currentVersion(viaBalancer, "shop"), "five");
        for (Replica replica : survivors()) {
            assertThat(remoteMain(replica.gitUrl("shop", key))).as("main on %s", replica).isEqualTo(five);
        }
    }

    @Test
    @Order(10)
    void a_replica_whose_cache_is_wiped_while_it_runs_materializes_what_the_next_session_needs() {
        Replica wiped = survivors().get(0);
        wiped.wipeDataDir();
        String current = currentVersion(wiped.client(key), "shop");
        TestServer client = wiped.client(key);
        TestServer.Response created = client.post("/v1/projects/shop/sessions", key, "{}");
        assertThat(created.status()).as(created.body()).isEqualTo(201);
        assertThat(created.json().at("/project/version").asText()).isEqualTo(current);
        assertThat(ask(client, "shop", created.json().get("id").asText())).isEqualTo(answers.get(current));
    }

    @Test
    @Order(11)
    void the_build_of_the_killed_replica_ended_and_versions_are_contiguous() {
        assertThat(crashDeploy).as("the build-killing step ran").isNotNull();
        JsonNode crashed = awaitEnded("crash", crashDeploy, TAKEOVER);
        assertThat(crashed.get("status").asText()).as(crashed.toString()).isIn("succeeded", "failed");
        System.out.println("the deploy whose replica was killed mid-build ended " + crashed.get("status").asText()
                + (crashed.hasNonNull("error") ? ": " + crashed.get("error").asText() : ""));
        for (String project : List.of("shop", "ticks", "crash")) {
            await().atMost(TAKEOVER).pollInterval(Duration.ofMillis(200)).untilAsserted(() ->
                    assertThat(viaBalancer.get("/agent_projects/" + project + "/deploys", key).json().get("deploys"))
                            .as("deploys of %s", project)
                            .noneMatch(d -> List.of("queued", "building").contains(d.get("status").asText())));
            JsonNode releases = viaBalancer.get("/agent_projects/" + project + "/releases", key).json().get("releases");
            List<Integer> numbers = new ArrayList<>();
            releases.forEach(r -> numbers.add(r.get("number").asInt()));
            assertThat(numbers).as("release numbers of %s, newest first", project)
                    .isEqualTo(IntStream.iterate(numbers.size(), n -> n - 1).limit(numbers.size()).boxed().toList());
        }
    }

    private Replica replica(int number) {
        return replicas.get(number - 1);
    }

    private List<Replica> survivors() {
        List<Replica> alive = replicas.stream().filter(Replica::alive).toList();
        assertThat(alive).as("replicas still running").isNotEmpty();
        return alive;
    }

    /** The replica whose child process (a builder) carries {@code marker}, once one does. */
    private Replica awaitBuilderOf(String marker) {
        AtomicReference<Replica> found = new AtomicReference<>();
        await().atMost(PATIENCE).pollInterval(Duration.ofMillis(20)).alias("a replica runs the builder " + marker)
                .until(() -> {
                    replicas.stream().filter(r -> r.runsChildWith(marker)).findFirst().ifPresent(found::set);
                    return found.get() != null;
                });
        return found.get();
    }

    private String balancerGitUrl(String project) {
        return "http://git:" + key + "@127.0.0.1:" + balancer.port + "/git/" + project + ".git";
    }

    private String remoteMain(String url) {
        String line = git.run(root, "ls-remote", url, "refs/heads/main").ok().line();
        return line.isEmpty() ? "" : line.split("\\s+")[0];
    }

    private String upload(TestServer via, String project, byte[] archive) {
        TestServer.Response accepted = via.send(via.request("/agent_projects/" + project + "/releases", key)
                .header("Content-Type", "application/gzip").POST(HttpRequest.BodyPublishers.ofByteArray(archive)));
        assertThat(accepted.status()).as(accepted.body()).isEqualTo(202);
        return accepted.json().get("id").asText();
    }

    private JsonNode deploy(String project, String id) {
        TestServer.Response answer = viaBalancer.get("/agent_projects/" + project + "/deploys/" + id, key);
        assertThat(answer.status()).as(answer.body()).isEqualTo(200);
        return answer.json();
    }

    private JsonNode awaitEnded(String project, String id, Duration patience) {
        AtomicReference<JsonNode> last = new AtomicReference<>();
        await().atMost(patience).pollInterval(Duration.ofMillis(50)).alias("deploy " + id + " of " + project + " ends")
                .until(() -> {
                    last.set(deploy(project, id));
                    return !List.of("queued", "building").contains(last.get().get("status").asText());
                });
        return last.get();
    }

    private String currentVersion(TestServer via, String project) {
        TestServer.Response answer = via.get("/agent_projects/" + project, key);
        assertThat(answer.status()).as(answer.body()).isEqualTo(200);
        JsonNode current = answer.json().get("current_release");
        return current.isNull() ? null : current.get("version").asText();
    }

    /** Sends one message to a session and returns the reply, failing on anything but 200. */
    private String ask(TestServer via, String project, String session) {
        TestServer.Response reply = via.post("/v1/projects/" + project + "/sessions/" + session + "/messages", key,
                "{\"text\":\"which release?\"}");
        assertThat(reply.status()).as(reply.body()).isEqualTo(200);
        return reply.json().at("/message/text").asText();
    }

    /** A Claude Code app whose fake harness answers {@code answer}. */
    private static Map<String, String> claudeApp(String answer) {
        return Map.of("CLAUDE.md", "# replicas test app\n", "answer.txt", answer + "\n");
    }

    /**
     * A Dockerfile app whose image build (its {@code build.sh}, see {@link #BUILDER}) prints
     * {@code tick 1} … {@code tick N} five times a second in a process whose command line carries
     * {@code marker}, so the test can find the replica running it.
     */
    private static Map<String, String> buildAppFiles(String answer, String marker, int ticks) {
        Map<String, String> files = new LinkedHashMap<>(claudeApp(answer));
        files.put("Dockerfile", "FROM scratch\n");
        files.put("build.sh", "exec sh -c 'i=0; while [ $i -lt " + ticks + " ]; do i=$((i+1)); echo \"tick $i\"; "
                + "sleep 0.2; done' " + marker + "\n");
        return files;
    }

    private static byte[] buildApp(String answer, String marker, int ticks) {
        return TarBuilder.files(buildAppFiles(answer, marker, ticks));
    }

    private static void writeApp(Path dir, Map<String, String> files) {
        try {
            for (Map.Entry<String, String> file : files.entrySet()) {
                Files.createDirectories(dir.resolve(file.getKey()).getParent());
                Files.writeString(dir.resolve(file.getKey()), file.getValue());
            }
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static Path ownerOnlyFile(Path file, String text) throws IOException {
        Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(file, text);
        return file;
    }
}
