package dev.karta.server.dashboard;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.karta.server.Config;
import dev.karta.server.store.Database;
import dev.karta.server.store.Digests;
import dev.karta.server.testkit.TarBuilder;
import dev.karta.server.testkit.TestServer;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The dashboard over plain HTTP: sign-in and its cookie, CSRF on every form, the security headers,
 * escaping, scopes and project restriction, and API clients that never get a page. What only a
 * browser can show (live updates, dialogs, scripts not running) is in the CLI module's
 * {@code DashboardBrowserIT}.
 */
class DashboardTest {
    private static final Pattern CSRF = Pattern.compile("name=\"csrf\" value=\"([^\"]+)\"");
    private static final Pattern COOKIE = Pattern.compile("karta_session=([^;]*)");

    @TempDir
    static Path dir;
    static TestServer server;

    @BeforeAll
    static void start() {
        server = TestServer.start(dir.resolve("data"));
        assertThat(server.post("/agent_projects", server.adminKey(), "{\"name\":\"shop\"}").status()).isEqualTo(201);
        upload("shop", TarBuilder.app("shop"));
        upload("shop", TarBuilder.app("shop-two"));
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    private static void upload(String project, byte[] archive) {
        TestServer.Response accepted = server.send(server.request("/agent_projects/" + project + "/releases",
                server.adminKey()).header("Content-Type", "application/gzip")
                .POST(HttpRequest.BodyPublishers.ofByteArray(archive)));
        assertThat(accepted.status()).as(accepted.body()).isEqualTo(202);
        String id = accepted.json().get("id").asText();
        await().atMost(Duration.ofSeconds(30)).until(() -> server.get("/agent_projects/" + project + "/deploys/" + id,
                server.adminKey()).json().get("status").asText().equals("succeeded"));
    }

    /** A browser's cookie jar of one: the session cookie, once signed in. */
    private static final class Browser {
        String session;

        TestServer.Response get(String path) {
            HttpRequest.Builder request = server.request(path, null).header("Accept", "text/html");
            if (session != null) {
                request.header("Cookie", "karta_session=" + session);
            }
            return server.send(request.GET());
        }

        TestServer.Response post(String path, String form) {
            HttpRequest.Builder request = server.request(path, null).header("Accept", "text/html")
                    .header("Content-Type", "application/x-www-form-urlencoded");
            if (session != null) {
                request.header("Cookie", "karta_session=" + session);
            }
            return server.send(request.POST(HttpRequest.BodyPublishers.ofString(form)));
        }

        /** Signs in with {@code key} from a sign-in form fetched as if signed out (another tab's, say). */
        TestServer.Response signIn(String key) {
            String held = session;
            session = null;
            TestServer.Response form = get("/sign-in");
            session = held;
            String token = csrf(form);
            String signInCookie = form.headers().allValues("Set-Cookie").stream()
                    .filter(c -> c.startsWith(DashboardRoutes.SIGN_IN_COOKIE + "=")).findFirst().orElseThrow();
            TestServer.Response answer = server.send(server.request("/sign-in", null)
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .header("Cookie", signInCookie.substring(0, signInCookie.indexOf(';'))
                            + (session == null ? "" : "; karta_session=" + session))
                    .POST(HttpRequest.BodyPublishers.ofString("csrf=" + token + "&key=" + encode(key))));
            answer.headers().allValues("Set-Cookie").stream().map(COOKIE::matcher).filter(Matcher::find)
                    .map(m -> m.group(1)).filter(v -> !v.isEmpty()).findFirst().ifPresent(v -> session = v);
            return answer;
        }

        String csrfOfPage(String path) {
            return csrf(get(path));
        }
    }

    private static String csrf(TestServer.Response page) {
        Matcher m = CSRF.matcher(page.body());
        assertThat(m.find()).as(page.body()).isTrue();
        return m.group(1);
    }

    private static String encode(String value) {
        return URLEncoder.encode(value, StandardCharsets.UTF_8);
    }

    private static Browser signedIn(String key) {
        Browser browser = new Browser();
        TestServer.Response answer = browser.signIn(key);
        assertThat(answer.status()).as(answer.body()).isEqualTo(303);
        assertThat(answer.header("Location")).isEqualTo("/");
        return browser;
    }

    @Test
    void pages_redirect_to_the_sign_in_form_until_a_key_is_exchanged_for_an_http_only_strict_cookie() {
        Browser browser = new Browser();
        TestServer.Response page = browser.get("/projects/shop");
        assertThat(page.status()).isEqualTo(303);
        assertThat(page.header("Location")).isEqualTo("/sign-in?next=%2Fprojects%2Fshop");
        assertThat(browser.get("/").header("Location")).isEqualTo("/sign-in");

        TestServer.Response answer = browser.signIn(server.adminKey());
        String cookie = answer.headers().allValues("Set-Cookie").stream()
                .filter(c -> c.startsWith("karta_session=") && !c.startsWith("karta_session=;")).findFirst().orElseThrow();
        assertThat(cookie).contains("; HttpOnly").contains("; SameSite=Strict").contains("; Path=/")
                .doesNotContain("Secure").doesNotContain(server.adminKey());
        assertThat(answer.header("Location")).isEqualTo("/").doesNotContain("kt_live_");

        TestServer.Response projects = browser.get("/");
        assertThat(projects.status()).isEqualTo(200);
        assertThat(projects.header("Content-Type")).startsWith("text/html");
        assertThat(projects.body()).contains("href=\"/projects/shop\"").contains(">v2<")
                .contains("<span class=\"status succeeded\">succeeded</span>")
                .doesNotContain(server.adminKey());
    }

    @Test
    void after_signing_in_the_browser_returns_to_the_page_it_asked_for_on_this_site_only() {
        Browser browser = new Browser();
        TestServer.Response form = browser.get("/sign-in?next=%2Fprojects%2Fshop%3Fsource%3Dbuild");
        assertThat(form.body()).contains("name=\"next\" value=\"/projects/shop?source=build\"");
        assertThat(DashboardRoutes.next("/projects/shop?source=build")).isEqualTo("/projects/shop?source=build");
        for (String elsewhere : new String[] {"//evil.example/", "/\\evil.example", "https://evil.example/",
                "evil", "/x\r\nSet-Cookie: a=b", null}) {
            assertThat(DashboardRoutes.next(elsewhere)).as(elsewhere).isEqualTo("/");
        }
    }

    @Test
    void every_page_sends_a_strict_content_security_policy_and_no_inline_script_or_style() {
        Browser browser = signedIn(server.adminKey());
        for (String path : new String[] {"/", "/projects/shop", "/keys", "/audit", "/sign-in",
                "/projects/shop/rollback?to=v1"}) {
            TestServer.Response page = browser.get(path);
            assertThat(page.header("Content-Security-Policy")).as(path)
                    .startsWith("default-src 'self'; script-src 'self'; style-src 'self'");
            assertThat(page.header("X-Content-Type-Options")).isEqualTo("nosniff");
            assertThat(page.body()).as(path).doesNotContain(" style=").doesNotContain("<style")
                    .doesNotContainPattern("<script(?! src=\"/assets/dashboard.js\" defer></script>)")
                    .doesNotContainPattern(" on[a-z]+=");
        }
    }

    @Test
    void a_deploy_page_shows_the_deploy_and_streams_its_build_log_and_an_unknown_deploy_is_404() {
        Browser browser = signedIn(server.adminKey());
        String id = server.get("/agent_projects/shop/deploys", server.adminKey()).json().at("/deploys/0/id").asText();
        TestServer.Response page = browser.get("/projects/shop/deploys/" + id);
        assertThat(page.status()).isEqualTo(200);
        assertThat(page.header("Content-Security-Policy")).startsWith("default-src 'self'");
        assertThat(page.body()).contains("Deploy " + id).contains("id=\"deploy-status\">succeeded<")
                .contains("data-stream=\"/agent_projects/shop/deploys/" + id + "/logs\"");
        TestServer.Response unknown = browser.get("/projects/shop/deploys/dep_nope");
        assertThat(unknown.status()).isEqualTo(404);
        assertThat(unknown.header("Content-Type")).startsWith("text/html");
    }

    @Test
    void a_wrong_key_is_answered_on_the_form_and_signs_nobody_in() {
        Browser browser = new Browser();
        TestServer.Response answer = browser.signIn(TestServer.randomKey());
        assertThat(answer.status()).isEqualTo(401);
        assertThat(answer.body()).contains("invalid API key");
        assertThat(browser.session).isNull();
    }

    @Test
    void the_sign_in_form_needs_its_own_csrf_cookie() {
        TestServer.Response answer = server.send(server.request("/sign-in", null)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString("csrf=made-up&key=" + encode(server.adminKey()))));
        assertThat(answer.status()).isEqualTo(403);
        assertThat(answer.headers().allValues("Set-Cookie")).noneMatch(c -> c.startsWith("karta_session="));
    }

    @Test
    void every_form_needs_the_sessions_csrf_token() {
        Browser browser = signedIn(server.adminKey());
        TestServer.Response forged = browser.post("/keys", "name=forged&scope=admin");
        assertThat(forged.status()).isEqualTo(403);
        assertThat(forged.body()).contains("CSRF");
        TestServer.Response wrong = browser.post("/projects/shop/rollback", "to=v1&csrf=not-the-token");
        assertThat(wrong.status()).isEqualTo(403);
        assertThat(server.get("/agent_projects/shop", server.adminKey()).json().at("/current_release/version").asText())
                .isEqualTo("v2");
        assertThat(server.get("/api_keys", server.adminKey()).body()).doesNotContain("forged");
    }

    @Test
    void signing_out_ends_the_session_on_the_server() {
        Browser browser = signedIn(server.adminKey());
        String stolen = browser.session;
        TestServer.Response out = browser.post("/sign-out", "csrf=" + browser.csrfOfPage("/"));
        assertThat(out.status()).isEqualTo(303);
        assertThat(out.header("Location")).isEqualTo("/sign-in");
        browser.session = stolen; // a copy of the cookie made before signing out
        assertThat(browser.get("/").status()).isEqualTo(303);
        assertThat(server.send(server.request("/agent_projects", null).header("Cookie", "karta_session=" + stolen)
                .GET()).status()).isEqualTo(401);
    }

    /** A log stream the browser follows with its cookie, as the project page's EventSource does; its lines once it ends. */
    private static CompletableFuture<List<String>> followLogs(Browser browser) throws Exception {
        HttpResponse<Stream<String>> answer = HttpClient.newHttpClient().send(
                server.request("/agent_projects/shop/logs?tail=true", null).header("Accept", "text/event-stream")
                        .header("Cookie", "karta_session=" + browser.session).GET().build(),
                HttpResponse.BodyHandlers.ofLines());
        assertThat(answer.statusCode()).isEqualTo(200);
        return CompletableFuture.supplyAsync(() -> answer.body().toList());
    }

    private static void assertEndedBecauseTheSessionEnded(List<String> lines) {
        int error = lines.indexOf("event: error");
        assertThat(error).as(String.join("\n", lines)).isPositive();
        assertThat(lines.get(error + 1)).startsWith("data: ").contains("\"unauthorized\"")
                .contains("the dashboard session ended (signed out or expired)");
    }

    @Test
    void signing_out_ends_the_log_streams_the_browser_follows_with_its_session_at_once() throws Exception {
        Browser browser = signedIn(server.adminKey());
        CompletableFuture<List<String>> stream = followLogs(browser);
        Browser other = signedIn(server.adminKey()); // another browser of the same key keeps its stream
        CompletableFuture<List<String>> otherStream = followLogs(other);

        browser.post("/sign-out", "csrf=" + browser.csrfOfPage("/"));

        assertEndedBecauseTheSessionEnded(stream.get(1, TimeUnit.SECONDS));
        assertThat(otherStream).isNotDone();
        other.post("/sign-out", "csrf=" + other.csrfOfPage("/"));
        assertEndedBecauseTheSessionEnded(otherStream.get(1, TimeUnit.SECONDS));
    }

    @Test
    void a_session_ended_by_another_server_or_its_expiry_ends_its_log_streams_within_seconds() throws Exception {
        Browser browser = signedIn(server.adminKey());
        CompletableFuture<List<String>> stream = followLogs(browser);
        try (Database db = server.openDatabase()) {
            // What another replica's sign-out leaves in the shared database, or the clock passing its expiry.
            db.execute("UPDATE dashboard_sessions SET expires_at = 0 WHERE token_hash = ?",
                    Digests.sha256Hex(browser.session));
        }
        assertEndedBecauseTheSessionEnded(stream.get(5, TimeUnit.SECONDS));
    }

    @Test
    void revoking_the_key_ends_its_dashboard_sessions_on_the_next_request() {
        String key = server.createKey("short-lived", "read");
        Browser browser = signedIn(key);
        assertThat(browser.get("/").status()).isEqualTo(200);
        String id = server.get("/api_keys", server.adminKey()).json().get("api_keys").findValues("id").stream()
                .map(n -> n.asText()).reduce((a, b) -> b).orElseThrow();
        assertThat(server.delete("/api_keys/" + id, server.adminKey()).status()).isEqualTo(204);
        assertThat(browser.get("/").status()).isEqualTo(303);
    }

    @Test
    void an_admin_rolls_back_from_the_confirm_page_and_the_project_is_pinned() {
        Browser browser = signedIn(server.adminKey());
        TestServer.Response confirm = browser.get("/projects/shop/rollback?to=v1");
        assertThat(confirm.status()).isEqualTo(200);
        assertThat(confirm.body()).contains("Roll back shop to v1?").contains("Files:");
        TestServer.Response done = browser.post("/projects/shop/rollback", "to=v1&csrf=" + csrf(confirm));
        assertThat(done.status()).as(done.body()).isEqualTo(303);
        assertThat(done.header("Location")).isEqualTo("/projects/shop");
        assertThat(browser.get("/projects/shop").body()).contains("id=\"active-version\">v1<").contains("pinned to v1");
        assertThat(server.get("/audit_events", server.adminKey()).body()).contains("release.rollback");

        TestServer.Response unpinned = browser.post("/projects/shop/unpin", "csrf=" + browser.csrfOfPage("/projects/shop"));
        assertThat(unpinned.status()).as(unpinned.body()).isEqualTo(303);
        assertThat(browser.get("/projects/shop").body()).contains("id=\"active-version\">v2<").doesNotContain("pinned to");
    }

    @Test
    void read_and_write_keys_see_no_rollback_button_and_cannot_roll_back_or_see_keys() {
        Browser reader = signedIn(server.createKey("reader", "read"));
        String page = reader.get("/projects/shop").body();
        assertThat(page).contains("Releases").doesNotContain("Roll back to this release").doesNotContain("href=\"/keys\"");
        assertThat(reader.get("/projects/shop/rollback?to=v1").status()).isEqualTo(403);
        assertThat(reader.post("/projects/shop/rollback", "to=v1&csrf=" + reader.csrfOfPage("/")).status())
                .isEqualTo(403);
        assertThat(reader.post("/projects/shop/unpin", "csrf=" + reader.csrfOfPage("/")).status()).isEqualTo(403);
        assertThat(reader.get("/keys").status()).isEqualTo(403);
        assertThat(reader.get("/audit").status()).isEqualTo(403);

        Browser writer = signedIn(server.createKey("writer", "write"));
        assertThat(writer.get("/projects/shop").body()).doesNotContain("Roll back to this release");
    }

    @Test
    void a_key_restricted_to_one_project_sees_only_that_project() {
        server.post("/agent_projects", server.adminKey(), "{\"name\":\"other\"}");
        String restricted = server.post("/api_keys", server.adminKey(),
                "{\"name\":\"shop-only\",\"scopes\":[\"read\"],\"project\":\"shop\"}").json().get("secret").asText();
        Browser browser = signedIn(restricted);
        assertThat(browser.get("/").body()).contains("/projects/shop").doesNotContain("/projects/other");
        TestServer.Response other = browser.get("/projects/other");
        assertThat(other.status()).isEqualTo(404);
        assertThat(browser.get("/projects/no-such").body()).isEqualTo(other.body().replace("other", "no-such"));
    }

    @Test
    void a_restricted_admin_key_cannot_touch_another_project_from_the_dashboard() {
        server.post("/agent_projects", server.adminKey(), "{\"name\":\"guarded\"}");
        upload("guarded", TarBuilder.app("guarded-one"));
        upload("guarded", TarBuilder.app("guarded-two"));
        String restricted = server.post("/api_keys", server.adminKey(),
                "{\"name\":\"shop-admin\",\"scopes\":[\"admin\"],\"project\":\"shop\"}").json().get("secret").asText();
        Browser browser = signedIn(restricted);
        String csrf = browser.csrfOfPage("/");
        for (String path : new String[] {"/projects/guarded/rollback", "/projects/guarded/unpin"}) {
            TestServer.Response answer = browser.post(path, "to=v1&csrf=" + csrf);
            assertThat(answer.status()).as(path).isEqualTo(404);
        }
        assertThat(server.get("/agent_projects/guarded", server.adminKey()).json().at("/current_release/version")
                .asText()).isEqualTo("v2");
        assertThat(server.get("/agent_projects/guarded", server.adminKey()).json().get("pinned").isNull()).isTrue();
        // Nor does it learn the org's key names, which only org-wide keys may list.
        String adminKeyId = server.get("/whoami", server.adminKey()).json().at("/key/id").asText();
        String adminKeyName = server.get("/whoami", server.adminKey()).json().at("/key/name").asText();
        String timeline = browser.get("/projects/shop").body();
        assertThat(timeline).contains("<td>" + adminKeyId + "</td>").doesNotContain("<td>" + adminKeyName + "</td>");
    }

    @Test
    void signing_in_again_ends_the_previous_session() {
        Browser browser = signedIn(server.adminKey());
        String first = browser.session;
        browser.signIn(server.adminKey());
        assertThat(browser.session).isNotEqualTo(first);
        assertThat(browser.get("/").status()).isEqualTo(200);
        browser.session = first;
        assertThat(browser.get("/").status()).isEqualTo(303);
    }

    @Test
    void the_audit_pages_hold_every_event_once_newest_first() {
        for (int i = 0; i < DashboardViews.AUDIT_PAGE; i++) {
            server.createKey("audit-filler-" + i, "read");
        }
        int total = server.get("/audit_events?limit=1000", server.adminKey()).json().get("events").size();
        Browser browser = signedIn(server.adminKey());
        Pattern row = Pattern.compile("<tr><td class=\"num\">(\\d+)</td>");
        String path = "/audit";
        long previous = Long.MAX_VALUE;
        int seen = 0;
        while (path != null) {
            String page = browser.get(path).body();
            Matcher m = row.matcher(page);
            while (m.find()) {
                long id = Long.parseLong(m.group(1));
                assertThat(id).isLessThan(previous);
                previous = id;
                seen++;
            }
            Matcher older = Pattern.compile("href=\"(/audit\\?before=\\d+)\" rel=\"next\"").matcher(page);
            path = older.find() ? older.group(1) : null;
        }
        // Signing in added one event after the count.
        assertThat(seen).isBetween(total, total + 1);
    }

    @Test
    void values_from_users_are_escaped() {
        Browser browser = signedIn(server.adminKey());
        String name = "<img src=x onerror=alert(1)><script>alert(2)</script>";
        TestServer.Response created = browser.post("/keys", "name=" + encode(name) + "&scope=read&expires=30&csrf="
                + browser.csrfOfPage("/keys"));
        assertThat(created.status()).isEqualTo(201);
        assertThat(created.body()).contains("&lt;img src=x onerror=alert(1)&gt;&lt;script&gt;alert(2)&lt;/script&gt;")
                .doesNotContain("<img src=x").doesNotContain("<script>alert");
        assertThat(created.body()).containsPattern("<code id=\"new-secret\">kt_live_[A-Za-z0-9]{32}</code>");
        assertThat(browser.get("/keys").body()).doesNotContainPattern("kt_live_[A-Za-z0-9]{32}");
    }

    @Test
    void api_clients_never_get_a_page_or_a_redirect() {
        TestServer.Response withKey = server.get("/", server.adminKey());
        assertThat(withKey.status()).isEqualTo(404);
        assertThat(withKey.json().get("error").asText()).isEqualTo("not_found");
        TestServer.Response json = server.send(server.request("/projects/shop", null).header("Accept", "application/json").GET());
        assertThat(json.status()).isEqualTo(404);
        assertThat(json.header("Content-Type")).startsWith("application/json");
        assertThat(server.get("/agent_projects", server.adminKey()).status()).isEqualTo(200);
    }

    @Test
    void the_session_cookie_reads_the_api_but_never_changes_anything() {
        Browser browser = signedIn(server.adminKey());
        TestServer.Response read = server.send(server.request("/agent_projects/shop/logs", null)
                .header("Cookie", "karta_session=" + browser.session).GET());
        assertThat(read.status()).isEqualTo(200);
        TestServer.Response write = server.send(server.request("/agent_projects", null)
                .header("Cookie", "karta_session=" + browser.session).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"name\":\"by-cookie\"}")));
        assertThat(write.status()).isEqualTo(401);
    }

    @Test
    void the_cookie_is_secure_when_the_public_url_is_https() throws Exception {
        Config config = TestServer.config(dir.resolve("https-data"), TestServer.randomKey()).toBuilder()
                .publicUrl("https://karta.example.com").build();
        try (TestServer https = TestServer.start(config)) {
            TestServer previous = server;
            server = https;
            try {
                Browser browser = new Browser();
                TestServer.Response answer = browser.signIn(https.adminKey());
                assertThat(answer.headers().allValues("Set-Cookie"))
                        .anyMatch(c -> c.startsWith("karta_session=") && c.endsWith("; Secure"));
            } finally {
                server = previous;
            }
        }
    }
}
