package dev.karta.server.repos;

import static dev.karta.server.ingest.webhooks.Hooks.awaitDeployEnded;
import static dev.karta.server.ingest.webhooks.Hooks.deployCommit;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import dev.karta.server.Config;
import dev.karta.server.ingest.webhooks.Hooks;
import dev.karta.server.store.Database;
import dev.karta.server.testkit.TestServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A tenant's binding cannot make the server reach into its own network: refused URLs at bind
 * time (one case per form), and at connect time on the address actually connected to and on
 * every redirect. Only the local listeners below are allowed, as an operator would allow an
 * internal host with {@code --allow-repo-url}.
 */
class OutboundGuardsTest {
    @TempDir
    static Path dataDir;
    static TestServer server;
    /** Counts connections; it must see none from refused fetches. */
    static ServerSocket bystander;
    static AtomicInteger bystanderAccepts = new AtomicInteger();
    /** An allowed host that redirects every request to the bystander on another host name. */
    static HttpServer redirector;
    static int closedPort;
    static ServerSocket slammer;

    @BeforeAll
    static void start() throws IOException {
        bystander = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread accepting = new Thread(() -> {
            while (!bystander.isClosed()) {
                try (Socket ignored = bystander.accept()) {
                    bystanderAccepts.incrementAndGet();
                } catch (IOException e) {
                    return;
                }
            }
        });
        accepting.setDaemon(true);
        accepting.start();
        redirector = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        redirector.createContext("/", exchange -> {
            exchange.getResponseHeaders().add("Location", "http://localhost:" + bystander.getLocalPort() + "/x.git"
                    + "/info/refs?service=git-upload-pack");
            exchange.sendResponseHeaders(302, -1);
            exchange.close();
        });
        redirector.start();
        try (ServerSocket socket = new ServerSocket(0)) {
            closedPort = socket.getLocalPort();
        }
        // Accepts and closes at once: an open port that does not speak HTTP.
        slammer = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread slamming = new Thread(() -> {
            while (!slammer.isClosed()) {
                try (Socket ignored = slammer.accept()) {
                    // closed at once
                } catch (IOException e) {
                    return;
                }
            }
        });
        slamming.setDaemon(true);
        slamming.start();
        server = Hooks.start(dataDir, Config.Repos.DEFAULTS.withAllowed(Set.of(), List.of(
                "http://127.0.0.1:" + redirector.getAddress().getPort() + "/",
                "http://127.0.0.1:" + closedPort + "/",
                "http://127.0.0.1:" + slammer.getLocalPort() + "/")));
    }

    @AfterAll
    static void stop() throws IOException {
        server.close();
        redirector.stop(0);
        bystander.close();
        slammer.close();
    }

    private static String project(String name) {
        TestServer.Response created = server.post("/agent_projects", server.adminKey(), "{\"name\":\"" + name + "\"}");
        assertThat(created.status()).as(created.body()).isIn(201, 409);
        return name;
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "http://127.0.0.1/team/app.git",
            "http://localhost/team/app.git",
            "http://[::1]/team/app.git",
            "http://0.0.0.0/team/app.git",
            "http://2130706433/team/app.git",
            "http://0x7f000001/team/app.git",
            "http://169.254.169.254/latest/meta-data",
            "https://10.1.2.3/team/app.git",
            "https://172.16.5.4/team/app.git",
            "https://192.168.1.10/team/app.git",
            "https://100.64.0.1/team/app.git",
            "https://[fc00::1]/team/app.git",
            "https://[fe80::1]/team/app.git",
            "https://[::ffff:127.0.0.1]/team/app.git",
            "https://[::ffff:169.254.169.254]/team/app.git",
            "https://[2002:7f00:1::]/team/app.git",
            "https://[2002:a9fe:a9fe::]/team/app.git",
            "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/team/app.git",
            "https://224.0.0.1/team/app.git",
            "git://git.example.com/team/app.git",
            "ssh://git@git.example.com/team/app.git",
            "git@git.example.com:team/app.git",
            "file:///etc",
    })
    void a_binding_the_server_must_not_fetch_for_a_tenant_is_refused_with_422(String url) {
        String name = project("refused-" + Integer.toHexString(url.hashCode()));

        TestServer.Response refused = Hooks.bind(server, server.adminKey(), name, "{\"url\":\"" + url + "\"}");

        assertThat(refused.status()).as(refused.body()).isEqualTo(422);
        assertThat(refused.json().get("error").asText()).isEqualTo("repo_url_refused");
        assertThat(refused.json().get("message").asText()).startsWith("this repository URL is not allowed: ");
        assertThat(server.get("/agent_projects/" + name + "/repo", server.adminKey()).status()).isEqualTo(404);
    }

    @Test
    void an_allowed_prefix_lets_the_operator_bind_an_internal_host() {
        String name = project("allowed-internal");

        TestServer.Response bound = Hooks.bind(server, server.adminKey(), name,
                "{\"url\":\"http://127.0.0.1:" + closedPort + "/team/app.git\"}");

        assertThat(bound.status()).as(bound.body()).isEqualTo(200);
    }

    @Test
    void a_redirect_to_a_host_that_is_not_allowed_is_refused_before_connecting() {
        String name = project("redirected");
        Hooks.createAndBind(server, name, "http://127.0.0.1:" + redirector.getAddress().getPort() + "/x.git", null);
        int before = bystanderAccepts.get();

        JsonNode failed = deployAndFail(name);

        assertThat(failed.get("error").asText()).contains("could not fetch the repository (no answer from its host)");
        assertThat(bystanderAccepts.get()).as("connections to the redirect target").isEqualTo(before);
    }

    @Test
    void a_stored_binding_to_a_private_address_is_refused_at_connect_time() {
        String name = project("rebound");
        Hooks.createAndBind(server, name, "https://git.example.com/team/app.git", null);
        // As if DNS now answered with a loopback address, or the row predates the bind-time check.
        setFetchUrl(name, "http://127.0.0.1:" + bystander.getLocalPort() + "/x.git");
        int before = bystanderAccepts.get();

        JsonNode failed = deployAndFail(name);

        assertThat(failed.get("error").asText()).contains("could not fetch the repository (no answer from its host)");
        assertThat(bystanderAccepts.get()).as("connections to the private address").isEqualTo(before);
    }

    @Test
    void every_network_failure_reads_the_same_so_ports_cannot_be_told_apart() {
        String closed = project("closed-port");
        String slammed = project("open-port");
        String refused = project("private-port");
        Hooks.createAndBind(server, closed, "http://127.0.0.1:" + closedPort + "/x.git", null);
        Hooks.createAndBind(server, slammed, "http://127.0.0.1:" + slammer.getLocalPort() + "/x.git", null);
        Hooks.createAndBind(server, refused, "https://git.example.com/x.git", null);
        setFetchUrl(refused, "http://127.0.0.1:" + bystander.getLocalPort() + "/x.git");

        List<String> errors = List.of(closed, slammed, refused).stream()
                .map(name -> deployAndFail(name).get("error").asText().replaceAll("127\\.0\\.0\\.1:\\d+", "HOST"))
                .toList();

        assertThat(errors).containsOnly("could not fetch http://HOST/x.git after 3 attempts: could not fetch the "
                + "repository (no answer from its host)");
    }

    private static JsonNode deployAndFail(String name) {
        TestServer.Response accepted = deployCommit(server, name, Hooks.sha(7));
        assertThat(accepted.status()).as(accepted.body()).isEqualTo(202);
        JsonNode ended = awaitDeployEnded(server, name, accepted.json().get("deploy_id").asText());
        assertThat(ended.get("status").asText()).as(ended.toString()).isEqualTo("failed");
        return ended;
    }

    private static void setFetchUrl(String project, String url) {
        try (Database db = server.openDatabase()) {
            db.withHandle(h -> h.execute("UPDATE repo_bindings SET fetch_url = ? WHERE project_id = "
                    + "(SELECT id FROM projects WHERE name = ?)", url, project));
        }
    }
}
