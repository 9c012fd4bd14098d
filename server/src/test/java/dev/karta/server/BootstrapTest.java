package dev.karta.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.karta.server.orgs.Tenants;
import dev.karta.server.store.Database;
import dev.karta.server.testkit.TestServer.Response;
import dev.karta.server.testkit.TestServer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The first start of an empty server creates org {@code default} with an admin key
 * (preset or generated), later starts do not, and {@code karta server create-org} adds tenants.
 */
class BootstrapTest {
    private static final String SHAPE = "kt_live_[A-Za-z0-9]{32}";

    @TempDir
    Path dataDir;

    @Test
    void preset_key_becomes_the_default_orgs_admin_key() {
        String preset = TestServer.randomKey();
        try (TestServer server = TestServer.start(TestServer.config(dataDir, preset))) {
            Tenants.NewOrg org = server.server().bootstrapped().orElseThrow();
            assertThat(org.name()).isEqualTo("default");
            assertThat(org.adminSecret()).isEqualTo(preset);

            Response whoami = server.get("/whoami", preset);
            assertThat(whoami.status()).isEqualTo(200);
            assertThat(whoami.json().get("org").asText()).isEqualTo("default");
            assertThat(whoami.json().at("/key/id").asText()).isEqualTo(org.adminKeyId());
            assertThat(whoami.json().at("/key/scopes/0").asText()).isEqualTo("admin");
        }
    }

    @Test
    void without_a_preset_a_key_is_generated_once() {
        String generated;
        try (TestServer first = TestServer.start(TestServer.config(dataDir, null))) {
            generated = first.server().bootstrapped().orElseThrow().adminSecret();
            assertThat(generated).matches(SHAPE);
            assertThat(first.get("/whoami", generated).status()).isEqualTo(200);
        }

        try (TestServer second = TestServer.start(TestServer.config(dataDir, null))) {
            assertThat(second.server().bootstrapped()).isEmpty();
            assertThat(second.adminKey()).isNull();
            assertThat(second.get("/whoami", generated).status()).isEqualTo(200);
            assertThat(second.get("/api_keys", generated).json().get("api_keys")).hasSize(1);
        }
    }

    @Test
    void malformed_preset_key_fails_the_start_and_leaves_the_database_empty() {
        assertThatThrownBy(() -> KartaServer.start(TestServer.config(dataDir, "kt_live_tooShort")))
                .hasMessageContaining("kt_live_");

        String preset = TestServer.randomKey();
        try (TestServer server = TestServer.start(TestServer.config(dataDir, preset))) {
            assertThat(server.server().bootstrapped()).isPresent();
            assertThat(server.get("/whoami", preset).status()).isEqualTo(200);
        }
    }

    @Test
    void failed_start_releases_the_database() {
        long before = poolThreads();

        assertThatThrownBy(() -> KartaServer.start(TestServer.config(dataDir, "kt_live_tooShort")))
                .isInstanceOf(IllegalArgumentException.class);

        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(poolThreads()).isLessThanOrEqualTo(before));
    }

    @Test
    void create_org_makes_a_tenant_whose_key_works_and_sees_none_of_defaults_projects() throws Exception {
        try (TestServer server = TestServer.start(dataDir)) {
            assertThat(server.post("/agent_projects", server.adminKey(), "{\"name\":\"default-app\"}").status())
                    .isEqualTo(201);

            Command created = createOrg("acme");

            assertThat(created.exit()).as(created.stderr()).isZero();
            List<String> lines = created.stdout().lines().filter(line -> line.matches(SHAPE)).toList();
            assertThat(lines).as(created.stdout()).hasSize(1);
            String acme = lines.get(0);

            Response whoami = server.get("/whoami", acme);
            assertThat(whoami.status()).isEqualTo(200);
            assertThat(whoami.json().get("org").asText()).isEqualTo("acme");
            assertThat(whoami.json().at("/key/scopes/0").asText()).isEqualTo("admin");
            assertThat(server.get("/agent_projects", acme).json().get("projects")).isEmpty();
            assertThat(server.get("/agent_projects/default-app", acme).status()).isEqualTo(404);
            assertThat(server.get("/audit_events", acme).body()).contains("org:acme").doesNotContain("default-app");
            assertThat(server.get("/agent_projects", server.adminKey()).body()).contains("default-app");
        }
    }

    @Test
    void create_org_takes_the_data_dir_after_the_subcommand_too() throws Exception {
        try (TestServer server = TestServer.start(dataDir)) {
            Command created = karta("create-org", "after", "--data-dir", dataDir.toString());

            assertThat(created.exit()).as(created.stderr()).isZero();
            String key = created.stdout().lines().filter(line -> line.matches(SHAPE)).findFirst().orElseThrow();
            assertThat(server.get("/whoami", key).json().get("org").asText()).isEqualTo("after");
        }
    }

    @Test
    void create_org_refuses_a_taken_or_invalid_name() throws Exception {
        try (TestServer server = TestServer.start(dataDir)) {
            assertThat(createOrg("twice").exit()).isZero();

            Command again = createOrg("twice");
            assertThat(again.exit()).isEqualTo(1);
            assertThat(again.stderr()).contains("already exists");
            assertThat(again.stdout()).doesNotContainPattern(SHAPE);

            Command invalid = createOrg("Not_Valid");
            assertThat(invalid.exit()).isEqualTo(2);
            assertThat(invalid.stderr()).contains("invalid org name");

            try (Database db = server.openDatabase()) {
                Long orgs = db.withHandle(h -> h.createQuery("SELECT COUNT(*) FROM orgs").mapTo(Long.class).one());
                assertThat(orgs).isEqualTo(2);
            }
        }
    }

    /** Live housekeeper threads of connection pools named "karta-db": one per open Database. */
    private static long poolThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(thread -> thread.isAlive() && thread.getName().equals("karta-db:housekeeper"))
                .count();
    }

    record Command(int exit, String stdout, String stderr) {
    }

    /** Runs {@code karta server --data-dir DIR create-org NAME} as its own JVM, as an operator would. */
    private Command createOrg(String name) throws IOException, InterruptedException {
        return karta("--data-dir", dataDir.toString(), "create-org", name);
    }

    /** Runs {@code karta server ARGS} as its own JVM. */
    private Command karta(String... args) throws IOException, InterruptedException {
        String classpath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<String> argv = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", classpath, Main.class.getName()));
        argv.addAll(List.of(args));
        Path out = Files.createTempFile(dataDir, "create-org", ".out");
        Path err = Files.createTempFile(dataDir, "create-org", ".err");
        Process process = new ProcessBuilder(argv).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new AssertionError("create-org did not finish within 60 s");
        }
        return new Command(process.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                Files.readString(err, StandardCharsets.UTF_8));
    }
}
