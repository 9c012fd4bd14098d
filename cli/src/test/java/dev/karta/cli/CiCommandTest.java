package dev.karta.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import dev.karta.server.Config;
import dev.karta.server.testkit.LocalOidcIssuer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code karta ci} against a real server that trusts a stand-in GitHub OIDC issuer, with a stand-in
 * for the Actions runner's token service: trusts are added, listed and removed, and {@code karta ci
 * token} turns the job's token into a key that deploys the project.
 */
class CiCommandTest {
    private static final Pattern SECRET = Pattern.compile("kt_live_[A-Za-z0-9]{32}");
    private static final String RUNNER_TOKEN = "runner-request-token";

    @TempDir
    static Path temp;
    static LocalOidcIssuer issuer;
    static dev.karta.server.testkit.TestServer server;
    static HttpServer runner;
    static final List<String> audiences = new CopyOnWriteArrayList<>();
    @TempDir
    Path home;

    @BeforeAll
    static void start() throws IOException {
        issuer = new LocalOidcIssuer();
        server = dev.karta.server.testkit.TestServer.start(dev.karta.server.testkit.TestServer
                .config(temp.resolve("data"), TestServer.ADMIN_KEY).toBuilder()
                .oidc(Config.Oidc.DEFAULTS.withGithubIssuer(issuer.url())).build());
        runner = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        runner.createContext("/token", exchange -> {
            String query = exchange.getRequestURI().getRawQuery();
            String audience = null;
            for (String pair : query.split("&")) {
                if (pair.startsWith("audience=")) {
                    audience = URLDecoder.decode(pair.substring(9), StandardCharsets.UTF_8);
                }
            }
            audiences.add(audience);
            boolean authorized = ("Bearer " + RUNNER_TOKEN).equals(exchange.getRequestHeaders().getFirst("Authorization"));
            byte[] body = authorized ? ("{\"count\":1,\"value\":\"" + issuer.token(audience, c -> { }) + "\"}")
                    .getBytes(StandardCharsets.UTF_8) : new byte[0];
            exchange.sendResponseHeaders(authorized ? 200 : 403, authorized ? body.length : -1);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        });
        runner.start();
    }

    @AfterAll
    static void stop() {
        runner.stop(0);
        server.close();
        issuer.close();
    }

    String url() {
        return "http://127.0.0.1:" + server.port();
    }

    Run admin() {
        return new Run(home).env("KARTA_SERVER", url()).env("KARTA_API_KEY", TestServer.ADMIN_KEY);
    }

    /** A GitHub Actions job: no Karta key, the runner's token service in the environment. */
    Run job(String requestToken) {
        return new Run(home).env("KARTA_SERVER", url())
                .env("ACTIONS_ID_TOKEN_REQUEST_URL", "http://127.0.0.1:" + runner.getAddress().getPort()
                        + "/token?api-version=2.0")
                .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", requestToken);
    }

    @Test
    void trust_then_token_gives_a_key_of_the_project_and_untrust_ends_it() {
        assertThat(admin().run("projects", "create", "shop").exitCode()).isZero();
        Run.Result trust = admin().run("ci", "trust", "shop", "--github", "acme/shop-agent", "--ref", "refs/heads/main");
        assertThat(trust.exitCode()).as(trust.toString()).isZero();
        assertThat(trust.stdout()).startsWith("Project shop now trusts GitHub repository acme/shop-agent on "
                + "refs/heads/main (any environment) (cit_");

        Run.Result list = admin().run("ci", "list", "shop");
        assertThat(list.stdout()).startsWith("ID").containsPattern("github +acme/shop-agent +refs/heads/main +\\(any\\)");
        Run.Result json = admin().run("--json", "ci", "list", "shop");
        assertThat(json.stdout()).contains("\"ci_trusts\"", "\"repository\": \"acme/shop-agent\"");

        Run.Result token = job(RUNNER_TOKEN).run("ci", "token", "shop");
        assertThat(token.exitCode()).as(token.toString()).isZero();
        assertThat(token.stdout()).matches("kt_live_[A-Za-z0-9]{32}\n");
        assertThat(token.stderr()).contains("may deploy project shop until");
        assertThat(audiences).contains(url());
        String key = token.stdout().trim();
        Run.Result info = new Run(home).env("KARTA_SERVER", url()).env("KARTA_API_KEY", key).run("projects", "info",
                "shop");
        assertThat(info.exitCode()).as(info.toString()).isZero();

        String id = json.stdout().replaceAll("(?s).*\"id\": \"(cit_[a-z0-9]+)\".*", "$1");
        Run.Result untrust = admin().run("ci", "untrust", "shop", id);
        assertThat(untrust.exitCode()).as(untrust.toString()).isZero();
        Run.Result refused = job(RUNNER_TOKEN).run("ci", "token", "shop");
        assertThat(refused.exitCode()).as("refused is an auth error").isEqualTo(3);
        assertThat(refused.stderr()).contains("no CI trust of project 'shop' accepts repository acme/shop-agent")
                .doesNotContain("kt_live_");
    }

    @Test
    void mistakes_get_usage_and_not_found_exit_codes() {
        assertThat(admin().run("projects", "create", "tidy").exitCode()).isZero();
        Run.Result shortRef = admin().run("ci", "trust", "tidy", "--github", "acme/tidy", "--ref", "main");
        assertThat(shortRef.exitCode()).isEqualTo(2);
        assertThat(shortRef.stderr()).contains("full git ref such as refs/heads/main");
        assertThat(admin().run("ci", "trust", "nope", "--github", "acme/tidy", "--ref", "refs/heads/main").exitCode())
                .isEqualTo(4);
        assertThat(admin().run("ci", "untrust", "tidy", "cit_nothing").exitCode()).isEqualTo(4);

        Run.Result outside = new Run(home).env("KARTA_SERVER", url()).run("ci", "token", "tidy");
        assertThat(outside.exitCode()).isEqualTo(2);
        assertThat(outside.stderr()).contains("permissions: id-token: write");
        Run.Result denied = job("wrong").run("ci", "token", "tidy");
        assertThat(denied.exitCode()).isEqualTo(1);
        assertThat(denied.stderr()).contains("answered 403");
    }
}
