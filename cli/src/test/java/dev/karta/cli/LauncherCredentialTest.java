package dev.karta.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.karta.server.testkit.GitRunner;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The repository's {@code karta} launcher, and the installed CLI's ({@code cli/src/dist/tar/karta}
 * laid out as its tar.gz installs it, sourcing the same {@code cli/src/dist/credential.sh}), answer git's credential helper protocol
 * ({@code karta git-credential get|store|erase}, git-credential(1)) in the shell, without Java: run
 * here with a {@code PATH} that holds {@code bash} and {@code git} only, so a JVM could not start.
 * Its answers are the Java helper's ({@link GitCredentialCommand}), checked case by case against it.
 */
class LauncherCredentialTest {
    private static final String KEY = "kt_live_LauncherFastPathKey0123456789abcd";
    private static final Path LAUNCHER = Path.of("..", "karta").toAbsolutePath().normalize();
    private static final Path DIST = Path.of("src", "dist").toAbsolutePath();

    @RegisterExtension
    static final CliServer cli = new CliServer();

    @TempDir
    Path home;
    Path noJava;
    /** The installed CLI's launcher, in the layout of its tar.gz (bin/karta, lib/karta-credential.sh). */
    Path installed;

    /** What one launcher run printed. */
    record Result(int exitCode, String stdout, String stderr) {
    }

    @BeforeEach
    void pathWithoutJava() throws IOException {
        noJava = Files.createDirectories(home.resolve("no-java-bin"));
        for (String tool : new String[] {"bash", "git"}) {
            Files.createSymbolicLink(noJava.resolve(tool), which(tool));
        }
        Path install = home.resolve("karta-cli");
        installed = Files.createDirectories(install.resolve("bin")).resolve("karta");
        Files.copy(DIST.resolve("tar/karta"), installed);
        installed.toFile().setExecutable(true);
        Files.copy(DIST.resolve("credential.sh"), Files.createDirectories(install.resolve("lib")).resolve("karta-credential.sh"));
    }

    @Test
    void get_for_the_logged_in_server_answers_the_saved_key_without_java() {
        loggedInTo("http://127.0.0.1:7070");

        Result get = launcher(Map.of(), "protocol=http\nhost=127.0.0.1:7070\n\n", "git-credential", "get");

        assertThat(get).isEqualTo(new Result(0, "username=karta\npassword=" + KEY + "\n", ""));
    }

    @Test
    void get_for_another_server_prints_nothing_without_java() {
        loggedInTo("http://127.0.0.1:7070");

        for (String request : List.of("protocol=http\nhost=127.0.0.1:7071\n\n", "protocol=https\nhost=127.0.0.1:7070\n\n",
                "protocol=http\nhost=github.com\n\n", "protocol=http\n\n")) {
            assertThat(launcher(Map.of(), request, "git-credential", "get")).as(request).isEqualTo(new Result(0, "", ""));
        }
    }

    @Test
    void store_and_erase_answer_without_java_and_change_nothing() throws IOException {
        loggedInTo("http://127.0.0.1:7070");
        String config = Files.readString(configFile());

        for (String action : List.of("store", "erase")) {
            Result result = launcher(Map.of(), "protocol=http\nhost=127.0.0.1:7070\nusername=karta\npassword=x\n\n",
                    "git-credential", action);

            assertThat(result).as(action).isEqualTo(new Result(0, "", ""));
        }
        assertThat(Files.readString(configFile())).isEqualTo(config);
    }

    @Test
    void the_shell_answers_as_the_java_helper_does() throws IOException {
        String[] requests = {
            "protocol=http\nhost=127.0.0.1:7070\npath=git/shop.git\n\n",
            "protocol=HTTP\nhost=127.0.0.1:7070\n",
            "protocol=http\nhost=127.0.0.1:7071\n\n",
            "protocol=https\nhost=karta.example.com\n\n",
            "protocol=https\nhost=KARTA.example.com:443\n\n",
            "protocol=https\nhost=karta.example.com:8443\n\n",
            "protocol=http\nhost=karta.example.com:80\n\n",
            "protocol=http\nhost=127.0.0.1:7070\nhost=evil.example.com\n\n",
            "protocol=http\nhost=evil.example.com\nhost=127.0.0.1:7070\n\n",
            "host=127.0.0.1:7070\n\n",
            "protocol=http\n\n",
            "protocol=http\nhost=127.0.0.1\n\n",
            "\n",
        };
        List<Map<String, String>> environments = List.of(
                Map.of(),
                Map.of("KARTA_SERVER", "https://karta.example.com/"),
                Map.of("KARTA_SERVER", " http://karta.example.com ", "KARTA_API_KEY", " kt_live_FromTheEnvironment "),
                Map.of("KARTA_SERVER", "http://127.0.0.1:7071"),
                Map.of("KARTA_API_KEY", "kt_live_FromTheEnvironment"),
                Map.of("KARTA_SERVER", "http://127.0.0.1:7070//", "XDG_CONFIG_HOME", "relative/is/ignored"));
        List<String> configs = List.of(
                "",
                "server = \"http://127.0.0.1:7070\"\napi_key = \"" + KEY + "\"\n",
                "# a comment\nserver = 'https://karta.example.com'   # mine\napi_key = '" + KEY + "'\n[later]\nx = 1\n",
                "api_key = \"" + KEY + "\"\n",
                "server = \"http://127.0.0.1:7070\"\napi_key = \"  \"\n");

        int compared = 0;
        for (String config : configs) {
            Files.createDirectories(configFile().getParent());
            if (config.isEmpty()) {
                Files.deleteIfExists(configFile());
            } else {
                Files.writeString(configFile(), config);
            }
            for (Map<String, String> env : environments) {
                for (String request : requests) {
                    Run.Result java = new Run(home).env(env).stdin(request).run("git-credential", "get");
                    Result shell = launcher(env, request, "git-credential", "get");

                    assertThat(shell).as("config %s, env %s, request %s", config, env, request)
                            .isEqualTo(new Result(java.exitCode(), java.stdout(), java.stderr()));
                    compared++;
                }
            }
        }
        assertThat(compared).isEqualTo(configs.size() * environments.size() * requests.length);
    }

    @Test
    void git_push_through_the_launcher_releases_v1_with_no_java_on_path() {
        TestGit git = new TestGit(cli.home());
        Path repo = git.newApp(cli.home().resolve("launched-shop"));
        Run loggedIn = new Run(cli.home()).env(git.env()).env("KARTA_LAUNCHER", LAUNCHER.toString())
                .stdin(TestServer.ADMIN_KEY + "\n");
        assertThat(loggedIn.run("login", "--server", cli.server().url()).exitCode()).isZero();
        assertThat(loggedIn.workingDir(repo).run("init").exitCode()).isZero();

        GitRunner.Run push = git.with("PATH", noJava.toString()).run(repo, "push", "karta", "main");

        push.ok();
        assertThat(push.err()).contains("remote: Released v1");
    }

    private void loggedInTo(String server) {
        new ConfigFile(configFile()).write(Map.of(ConfigFile.SERVER, server, ConfigFile.API_KEY, KEY));
    }

    private Path configFile() {
        return home.resolve(".config").resolve("karta").resolve("config.toml");
    }

    /**
     * Runs the repository's launcher and the installed one with HOME, a PATH without java, and
     * {@code env}; both must answer alike. Returns the answer.
     */
    private Result launcher(Map<String, String> env, String stdin, String... args) {
        Result repository = launcher(LAUNCHER, env, stdin, args);
        Result dist = launcher(installed, env, stdin, args);
        assertThat(dist).as("the installed launcher answers as the repository's").isEqualTo(repository);
        return repository;
    }

    /** Runs {@code launcher} with HOME, a PATH without java, and {@code env}; nothing else of this process. */
    private Result launcher(Path launcher, Map<String, String> env, String stdin, String... args) {
        List<String> argv = new ArrayList<>(List.of(launcher.toString()));
        argv.addAll(List.of(args));
        ProcessBuilder builder = new ProcessBuilder(argv).directory(home.toFile());
        Map<String, String> variables = new HashMap<>(Map.of("HOME", home.toString(), "PATH", noJava.toString()));
        variables.putAll(env);
        builder.environment().clear();
        builder.environment().putAll(variables);
        try {
            Process process = builder.start();
            process.getOutputStream().write(stdin.getBytes(StandardCharsets.UTF_8));
            process.getOutputStream().close();
            byte[] out = process.getInputStream().readAllBytes();
            byte[] err = process.getErrorStream().readAllBytes();
            assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();
            return new Result(process.exitValue(), new String(out, StandardCharsets.UTF_8),
                    new String(err, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static Path which(String tool) {
        for (String dir : System.getenv("PATH").split(":")) {
            Path candidate = Path.of(dir, tool);
            if (Files.isExecutable(candidate)) {
                return candidate;
            }
        }
        throw new IllegalStateException(tool + " is not on PATH");
    }
}
