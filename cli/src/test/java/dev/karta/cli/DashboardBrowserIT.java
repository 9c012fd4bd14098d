package dev.karta.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.api.Json;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.Keys;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.logging.LogEntry;
import org.openqa.selenium.logging.LogType;
import org.openqa.selenium.logging.LoggingPreferences;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The dashboard in a real browser: Debian's headless Chromium through its chromedriver, against a
 * real server, with deploys and changes made by the real CLI (in process) while the page is open.
 * The server's image builder is a small script that prints a line, waits for a gate file, then
 * prints another: a deploy that can be watched while it builds.
 */
class DashboardBrowserIT {
    private static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    private static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");
    private static final String XSS_LINE = "<script>window.__xss = 'script'</script><img src=x onerror=\"window.__xss = 'img'\">";

    private static final com.fasterxml.jackson.databind.ObjectMapper JSON = Json.newMapper();

    @TempDir
    static Path dir;
    static Path gate;
    static TestServer server;
    static WebDriver browser;
    static Path home;

    @BeforeAll
    static void start() throws IOException {
        if (!Files.isExecutable(CHROMIUM) || !Files.isExecutable(CHROMEDRIVER)) {
            throw new AssertionError("the dashboard's browser tests need Chromium and its driver: apt-get install -y "
                    + "chromium chromium-driver (CI's .ci/run installs them)");
        }
        gate = dir.resolve("gate");
        server = TestServer.startWithBuilder(dir.resolve("data"), List.of("sh", "-c",
                "echo 'step 1/2: " + XSS_LINE.replace("'", "'\\''") + "'; "
                        + "while [ ! -e \"$0\" ]; do sleep 0.05; done; echo 'step 2/2: image built'", gate.toString()));
        home = Files.createDirectories(dir.resolve("home"));
        ChromeOptions options = new ChromeOptions();
        options.setBinary(CHROMIUM.toFile());
        options.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--window-size=1440,900", "--user-data-dir=" + dir.resolve("chromium"));
        LoggingPreferences logs = new LoggingPreferences();
        logs.enable(LogType.BROWSER, Level.ALL);
        options.setCapability("goog:loggingPrefs", logs);
        ChromeDriverService service = new ChromeDriverService.Builder()
                .usingDriverExecutable(new File(CHROMEDRIVER.toString())).usingAnyFreePort().build();
        browser = new ChromeDriver(service, options);
        browser.manage().timeouts().pageLoadTimeout(Duration.ofSeconds(30));
    }

    @AfterAll
    static void stop() {
        if (browser != null) {
            browser.quit();
        }
        if (server != null) {
            server.close();
        }
    }

    @BeforeEach
    void signedOut() throws IOException {
        browser.manage().window().setSize(new Dimension(1440, 900));
        browser.get(server.url() + "/sign-in");
        browser.manage().deleteAllCookies();
        Files.deleteIfExists(gate);
    }

    @AfterEach
    void noConsoleErrors() {
        List<LogEntry> errors = browser.manage().logs().get(LogType.BROWSER).getAll().stream()
                .filter(e -> e.getLevel().intValue() >= Level.SEVERE.intValue())
                // Pages that answer 403/404 on purpose are reported as failed loads: not errors of ours.
                .filter(e -> !e.getMessage().matches(".*status of 40[34] .*"))
                .toList();
        assertThat(errors).as("console errors").isEmpty();
    }

    private static Run karta() {
        return new Run(home).env("KARTA_SERVER", server.url()).env("KARTA_API_KEY", TestServer.ADMIN_KEY);
    }

    private static Run.Result ok(Run.Result result) {
        assertThat(result.exitCode()).as(result.toString()).isZero();
        return result;
    }

    /** A Claude Code app folder; with a Dockerfile, its build runs the gated image builder. */
    private static Path app(String name, boolean docker) {
        try {
            Path app = Files.createDirectories(home.resolve(name + (docker ? "-docker" : "")));
            Files.createDirectories(app.resolve(".claude"));
            Files.writeString(app.resolve("CLAUDE.md"), "# " + name + " " + System.nanoTime() + "\n");
            Files.writeString(app.resolve(".claude/settings.json"), "{}\n");
            if (docker) {
                Files.writeString(app.resolve("Dockerfile"), "FROM scratch\n");
            }
            return app;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void publish(String project, Path app) {
        ok(karta().workingDir(app).run("publish", project));
    }

    private static String createKey(String name, String scope) {
        JsonNode created = json(ok(karta().run("keys", "create", name, "--scope", scope, "--json")).stdout());
        return created.get("secret").asText();
    }

    private static JsonNode json(String text) {
        try {
            return JSON.readTree(text);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void signIn(String key) {
        browser.get(server.url() + "/sign-in");
        browser.findElement(By.id("key")).sendKeys(key);
        browser.findElement(By.cssSelector("form button[type=submit]")).click();
        waitFor(ExpectedConditions.urlToBe(server.url() + "/"));
    }

    private static <T> T waitFor(org.openqa.selenium.support.ui.ExpectedCondition<T> condition) {
        return new WebDriverWait(browser, Duration.ofSeconds(20)).until(condition);
    }

    private static String text(String css) {
        return browser.findElement(By.cssSelector(css)).getText();
    }

    private static Object script(String code, Object... args) {
        return ((JavascriptExecutor) browser).executeScript(code, args);
    }

    @Test
    void sign_in_lists_the_projects_and_the_filter_narrows_them() {
        ok(karta().run("projects", "create", "filter-alpha"));
        ok(karta().run("projects", "create", "filter-beta"));
        signIn(TestServer.ADMIN_KEY);

        assertThat(browser.findElements(By.cssSelector("#projects tbody tr[data-name^='filter-']"))).hasSize(2);
        browser.findElement(By.id("filter")).sendKeys("beta");
        waitFor(d -> !d.findElement(By.cssSelector("tr[data-name='filter-alpha']")).isDisplayed());
        assertThat(browser.findElement(By.cssSelector("tr[data-name='filter-beta']")).isDisplayed()).isTrue();
        assertThat(browser.getPageSource()).doesNotContain(TestServer.ADMIN_KEY);
        assertThat(browser.getCurrentUrl()).doesNotContain("kt_live_");
    }

    @Test
    void a_deploy_from_the_cli_appears_builds_and_goes_live_without_a_reload() throws Exception {
        ok(karta().run("projects", "create", "live-shop"));
        signIn(TestServer.ADMIN_KEY);
        browser.get(server.url() + "/projects/live-shop");
        script("window.__samePage = true");

        CompletableFuture<Run.Result> publishing = CompletableFuture.supplyAsync(() ->
                karta().workingDir(app("live-shop", true)).run("publish", "live-shop"));
        waitFor(d -> text("#current-deploy").contains("building"));
        waitFor(d -> text("#build-log").contains("step 1/2"));
        Files.writeString(gate, "go");

        waitFor(d -> text("#current-deploy").contains("succeeded"));
        waitFor(d -> d.findElements(By.id("active-version")).size() == 1 && text("#active-version").equals("v1"));
        waitFor(d -> text("#build-log").contains("step 2/2: image built"));
        assertThat(text("#timeline tr[data-version='v1']")).contains("active");
        assertThat(text("#current-deploy time")).as("ages are written by the page's script").matches("just now|\\d+ s ago");
        ok(publishing.get(30, TimeUnit.SECONDS));
        assertThat(script("return window.__samePage")).isEqualTo(true);
    }

    @Test
    void an_admin_rolls_back_from_the_dialog_and_the_active_badge_moves() {
        ok(karta().run("projects", "create", "roll-shop"));
        publish("roll-shop", app("roll-one", false));
        publish("roll-shop", app("roll-two", false));
        signIn(TestServer.ADMIN_KEY);
        browser.get(server.url() + "/projects/roll-shop");
        assertThat(text("#active-version")).isEqualTo("v2");

        WebElement rollBack = browser.findElement(By.cssSelector("#timeline tr[data-version='v1'] a[data-dialog]"));
        script("arguments[0].focus(); document.querySelector('#timeline table').dataset.old = 'yes'", rollBack);
        // A change redraws the timeline while the link has the keyboard's focus: the focus stays on it.
        ok(karta().run("config", "set", "roll-shop", "REDRAW=1"));
        waitFor(d -> script("return document.querySelector('#timeline table').dataset.old === undefined")
                .equals(true));
        assertThat(text("#timeline tr[data-version='v3']")).contains("active");
        WebElement focused = browser.switchTo().activeElement();
        assertThat(focused.getAttribute("href")).endsWith("/projects/roll-shop/rollback?to=v1");
        focused.sendKeys(Keys.ENTER); // with the keyboard
        WebElement dialog = waitFor(ExpectedConditions.visibilityOfElementLocated(By.cssSelector("dialog[open]")));
        assertThat(dialog.getText()).contains("Roll back roll-shop to v1?").contains("Files:");
        WebElement confirm = dialog.findElement(By.cssSelector("[data-confirm-button]"));
        assertThat(browser.switchTo().activeElement()).isEqualTo(confirm);
        confirm.sendKeys(Keys.ENTER);

        waitFor(d -> d.findElements(By.id("active-version")).size() == 1 && text("#active-version").equals("v1"));
        assertThat(text("#summary")).contains("pinned to v1");
        assertThat(text("#timeline tr[data-version='v3']")).contains("superseded");
        JsonNode project = json(ok(karta().run("projects", "info", "roll-shop", "--json")).stdout());
        assertThat(project.at("/current_release/version").asText()).isEqualTo("v1");
    }

    @Test
    void a_read_key_sees_no_rollback_button_and_no_keys_or_audit() {
        ok(karta().run("projects", "create", "read-shop"));
        publish("read-shop", app("read-one", false));
        publish("read-shop", app("read-two", false));
        signIn(createKey("browser-reader", "read"));
        browser.get(server.url() + "/projects/read-shop");

        assertThat(text("#timeline")).contains("v1").contains("v2");
        assertThat(browser.findElements(By.cssSelector("a[data-dialog]"))).isEmpty();
        assertThat(browser.getPageSource()).doesNotContain("Roll back to this release");
        assertThat(browser.findElements(By.cssSelector("nav a[href='/keys']"))).isEmpty();
    }

    @Test
    void the_logs_follow_live_with_a_source_filter() {
        ok(karta().run("projects", "create", "log-shop"));
        publish("log-shop", app("log-one", false));
        signIn(TestServer.ADMIN_KEY);
        browser.get(server.url() + "/projects/log-shop?source=release&window=15m");
        waitFor(d -> text("#logs").contains("v1"));
        assertThat(text("#logs")).doesNotContain("build  ");

        ok(karta().run("config", "set", "log-shop", "LIVE_MARKER=1"));
        waitFor(d -> text("#logs").contains("v2"));
        assertThat(text("#logs")).contains("release");
    }

    @Test
    void keys_are_created_with_the_secret_shown_once_and_revoked() {
        signIn(TestServer.ADMIN_KEY);
        browser.get(server.url() + "/keys");
        browser.findElement(By.id("key-name")).sendKeys("browser-ci");
        browser.findElement(By.cssSelector("#key-scope option[value='write']")).click();
        browser.findElement(By.cssSelector("form.create-key button[type=submit]")).click();

        String secret = waitFor(ExpectedConditions.visibilityOfElementLocated(By.id("new-secret"))).getText();
        assertThat(secret).matches("kt_live_[A-Za-z0-9]{32}");
        assertThat(browser.findElement(By.cssSelector("button[data-copy='#new-secret']")).isDisplayed()).isTrue();
        assertThat(browser.getCurrentUrl()).doesNotContain(secret);
        browser.get(server.url() + "/keys");
        assertThat(browser.getPageSource()).doesNotContain(secret);

        WebElement row = browser.findElement(By.xpath("//table[@id='keys']//tr[th[text()='browser-ci']]"));
        row.findElement(By.cssSelector("button.danger")).click();
        browser.switchTo().alert().accept();
        waitFor(d -> d.findElement(By.xpath("//table[@id='keys']//tr[th[text()='browser-ci']]")).getText()
                .contains("revoked"));
        assertThat(karta().env("KARTA_API_KEY", secret).run("whoami").exitCode()).isNotZero();
    }

    @Test
    void revoking_a_key_ends_the_browser_sessions_made_with_it() {
        String key = createKey("browser-temp", "admin");
        signIn(key);
        String id = null;
        for (JsonNode k : json(ok(karta().run("keys", "list", "--json")).stdout()).get("api_keys")) {
            if (k.get("name").asText().equals("browser-temp")) {
                id = k.get("id").asText();
            }
        }
        ok(karta().run("keys", "revoke", id));
        browser.navigate().refresh();
        waitFor(ExpectedConditions.urlToBe(server.url() + "/sign-in"));
    }

    @Test
    void nothing_users_wrote_runs_as_script() throws Exception {
        ok(karta().run("projects", "create", "xss-shop"));
        ok(karta().run("keys", "create", XSS_LINE, "--scope", "read"));
        Files.writeString(gate, "go");
        publish("xss-shop", app("xss-shop", true));
        signIn(TestServer.ADMIN_KEY);

        browser.get(server.url() + "/projects/xss-shop");
        waitFor(d -> text("#build-log").contains("<script>window.__xss"));
        browser.get(server.url() + "/projects/xss-shop?source=build&window=15m");
        waitFor(d -> text("#logs").contains("<img src=x onerror="));
        assertThat(script("return window.__xss === undefined")).isEqualTo(true);
        assertThat(browser.findElements(By.cssSelector("img[src='x']"))).isEmpty();

        browser.get(server.url() + "/keys");
        assertThat(text("#keys")).contains(XSS_LINE);
        assertThat(script("return window.__xss === undefined")).isEqualTo(true);
        assertThat(browser.findElements(By.cssSelector("img[src='x'], #keys script"))).isEmpty();
    }

    @Test
    void pages_fit_a_360_pixel_screen_and_a_1440_pixel_one() {
        ok(karta().run("projects", "create", "narrow-shop"));
        publish("narrow-shop", app("narrow-one", false));
        signIn(TestServer.ADMIN_KEY);
        for (int width : new int[] {360, 1440}) {
            browser.manage().window().setSize(new Dimension(width, 800));
            for (String path : List.of("/", "/projects/narrow-shop", "/keys", "/audit")) {
                browser.get(server.url() + path);
                // The elements sticking out of the window, outside the tables' own scrolling boxes.
                Object wider = script("return Array.from(document.querySelectorAll('body *'))"
                        + ".filter(e => !e.closest('.scroll') && e.getBoundingClientRect().right > window.innerWidth + 1)"
                        + ".map(e => e.tagName + (e.id ? '#' + e.id : '') + '.' + e.className + ' '"
                        + " + Math.round(e.getBoundingClientRect().right))");
                assertThat((List<?>) wider).as(path + " at " + width + " px").isEmpty();
                Map<?, ?> size = (Map<?, ?>) script("return {page: document.documentElement.scrollWidth, "
                        + "view: window.innerWidth}");
                assertThat(((Number) size.get("page")).intValue()).as(path + " at " + width + " px")
                        .isLessThanOrEqualTo(((Number) size.get("view")).intValue());
            }
        }
    }
}
