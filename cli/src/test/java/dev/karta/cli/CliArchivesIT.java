package dev.karta.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.api.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The CLI as people install it without Maven or a Karta checkout, from what {@code mvn package}
 * made: the npm package installed with the real {@code npm}, the tar.gz unpacked and installed with
 * its {@code install.sh}, each then run as a child process against a real server.
 */
class CliArchivesIT {
    @RegisterExtension
    static final CliServer cli = new CliServer();

    static final String VERSION = System.getProperty("karta.version");
    static final Path TARGET = Path.of("target").toAbsolutePath();
    static final Path NPM_PACKAGE = TARGET.resolve("npm/karta-cli-" + VERSION + ".tgz");
    static final Path ARCHIVE = TARGET.resolve("karta-cli-" + VERSION + ".tar.gz");

    @TempDir
    Path tmp;

    private static boolean projectMade;

    @BeforeEach
    void aProject() {
        assertThat(VERSION).as("failsafe sets karta.version").isNotBlank();
        if (!projectMade) {
            assertThat(cli.karta().run("projects", "create", "shop").exitCode()).isZero();
            projectMade = true;
        }
    }

    private Processes processes() {
        return new Processes(tmp).env("HOME", tmp.resolve("home").toString());
    }

    /** {@code karta} as a user with the admin key would run it. */
    private Processes user() {
        return processes().env("KARTA_SERVER", cli.server().url()).env("KARTA_API_KEY", TestServer.ADMIN_KEY);
    }

    @Test
    void npm_package_installs_globally_and_answers_version_and_projects_list() throws IOException {
        assumeTrue(Processes.onPath("npm"), "npm is not installed on this machine: the npm package is not tried");
        Path prefix = tmp.resolve("global");

        Processes.Result install = processes().env("npm_config_cache", tmp.resolve("npm-cache").toString())
                .run(tmp, "npm", "install", "--global", "--prefix", prefix.toString(), "--offline", "--no-audit",
                        "--no-fund", "--no-update-notifier", NPM_PACKAGE.toString()).ok();

        assertThat(install.stdout()).contains("added 1 package");
        Path karta = prefix.resolve("bin/karta");
        JsonNode manifest = Json.newMapper().readTree(prefix.resolve("lib/node_modules/@karta/cli/package.json").toFile());
        assertThat(manifest.get("name").asText()).isEqualTo("@karta/cli");
        assertThat(manifest.get("version").asText()).isEqualTo(VERSION);
        assertThat(user().run(tmp, karta.toString(), "--version").ok().stdout()).isEqualTo("karta " + VERSION + "\n");
        Processes.Result list = user().run(tmp, karta.toString(), "projects", "list").ok();
        assertThat(list.stdout()).contains("shop");
        assertThat(list.stderr()).isEmpty();
        Processes.Result missing = user().run(tmp, karta.toString(), "projects", "info", "nope");
        assertThat(missing.exitCode()).as(missing.toString()).isEqualTo(4);
    }

    @Test
    void npm_shim_says_java_is_needed_when_there_is_none() throws IOException {
        assumeTrue(Processes.onPath("node"), "node is not installed on this machine: the npm shim is not tried");
        Path shim = unpackNpmPackage().resolve("package/bin/karta.js");

        Processes.Result run = processes().env("PATH", tmp.resolve("empty").toString())
                .run(tmp, nodePath(), shim.toString(), "--version");

        assertThat(run.exitCode()).isEqualTo(1);
        assertThat(run.stderr()).startsWith("karta: Java 17 or newer is needed and none was found").contains("JAVA_HOME");
    }

    @Test
    void archive_install_puts_karta_on_the_prefix_and_answers_version_and_projects_list() {
        Path unpacked = unpackArchive();
        Path prefix = tmp.resolve("prefix");

        Processes.Result install = processes().run(tmp, "sh", unpacked.resolve("install.sh").toString(),
                "--prefix", prefix.toString()).ok();

        Path karta = prefix.resolve("bin/karta");
        assertThat(install.stdout()).startsWith("Installed karta " + VERSION + ": " + karta + " -> "
                + prefix.resolve("lib/karta-cli/bin/karta") + "\n")
                .contains("Note: " + prefix.resolve("bin") + " is not on your PATH");
        assertThat(Files.isSymbolicLink(karta)).isTrue();
        assertThat(user().run(tmp, karta.toString(), "--version").ok().stdout()).isEqualTo("karta " + VERSION + "\n");
        Processes.Result list = user().run(tmp, karta.toString(), "projects", "list").ok();
        assertThat(list.stdout()).contains("shop");
        assertThat(list.stderr()).isEmpty();
        assertThat(tmp.resolve("home/.cache/karta")).as("the class-data archive is in the user's cache").isDirectory();
    }

    @Test
    void archive_install_twice_replaces_the_first_and_runs_from_the_path() {
        Path unpacked = unpackArchive();
        Path prefix = tmp.resolve("prefix");
        Processes installer = processes().env("PATH", prefix.resolve("bin") + ":" + System.getenv("PATH"));

        Processes.Result first = installer.run(tmp, "sh", unpacked.resolve("install.sh").toString(), "--prefix", prefix.toString()).ok();
        Processes.Result second = installer.run(tmp, "sh", unpacked.resolve("install.sh").toString(), "--prefix", prefix.toString()).ok();

        assertThat(second.stdout()).isEqualTo(first.stdout()).doesNotContain("not on your PATH");
        assertThat(prefix.resolve("lib").toFile().list()).containsExactly("karta-cli");
        Processes.Result version = user().env("PATH", prefix.resolve("bin") + ":" + System.getenv("PATH"))
                .run(tmp, "sh", "-c", "karta --version").ok();
        assertThat(version.stdout()).isEqualTo("karta " + VERSION + "\n");
    }

    @Test
    void archive_install_never_overwrites_a_karta_it_did_not_put_there() throws IOException {
        Path unpacked = unpackArchive();
        Path prefix = tmp.resolve("prefix");
        TestGit.write(prefix.resolve("bin/karta"), "#!/bin/sh\necho someone else's karta\n");

        Processes.Result refused = processes().run(tmp, "sh", unpacked.resolve("install.sh").toString(),
                "--prefix", prefix.toString());

        assertThat(refused.exitCode()).isEqualTo(1);
        assertThat(refused.stderr()).contains(prefix.resolve("bin/karta") + " exists and is not this CLI's link")
                .contains("--force");
        assertThat(Files.readString(prefix.resolve("bin/karta"))).contains("someone else's karta");
        processes().run(tmp, "sh", unpacked.resolve("install.sh").toString(), "--prefix", prefix.toString(), "--force").ok();
        assertThat(Files.isSymbolicLink(prefix.resolve("bin/karta"))).isTrue();
    }

    @Test
    void installed_launcher_says_java_is_needed_when_there_is_none() {
        Path unpacked = unpackArchive();
        Path path = Processes.pathWithoutJava(tmp.resolve("tools"), "bash", "dirname", "readlink", "cksum", "cut",
                "head", "mkdir", "touch", "rm", "mv");

        Processes.Result run = processes().env("PATH", path.toString())
                .run(tmp, "/bin/bash", unpacked.resolve("bin/karta").toString(), "--version");

        assertThat(run.exitCode()).isEqualTo(1);
        assertThat(run.stderr()).startsWith("karta: Java 17 or newer is needed and none was found").contains("JAVA_HOME");
    }

    @Test
    void installed_launcher_refuses_a_java_older_than_17() throws IOException {
        Path unpacked = unpackArchive();
        Path oldJava = tmp.resolve("old-jdk/bin/java");
        TestGit.write(oldJava, "#!/bin/sh\necho 'openjdk version \"11.0.21\" 2023-10-17' >&2\n");
        oldJava.toFile().setExecutable(true);

        Processes.Result run = processes().env("JAVA_HOME", tmp.resolve("old-jdk").toString())
                .run(tmp, unpacked.resolve("bin/karta").toString(), "--version");

        assertThat(run.exitCode()).isEqualTo(1);
        assertThat(run.stderr()).isEqualTo("karta: Java 17 or newer is needed, but " + oldJava
                + " is version 11: install a newer one or point JAVA_HOME at it\n");
    }

    @Test
    void installed_launcher_answers_git_credential_get_store_erase_with_no_java_on_path() throws IOException {
        Path unpacked = unpackArchive();
        Path prefix = tmp.resolve("prefix");
        processes().run(tmp, "sh", unpacked.resolve("install.sh").toString(), "--prefix", prefix.toString()).ok();
        // What `karta init` puts in git's config: the launcher's real path (KARTA_LAUNCHER).
        Path launcher = prefix.resolve("lib/karta-cli/bin/karta");
        assertThat(prefix.resolve("lib/karta-cli/lib/karta-credential.sh")).isRegularFile();

        assertCredentialAnswersWithoutJava(Processes.pathWithoutJava(tmp.resolve("tools"), "bash"), launcher.toString());
    }

    @Test
    void npm_shim_answers_git_credential_get_store_erase_with_bash_and_no_java() throws IOException {
        assumeTrue(Processes.onPath("node"), "node is not installed on this machine: the npm shim is not tried");
        Path shim = unpackNpmPackage().resolve("package/bin/karta.js");

        assertCredentialAnswersWithoutJava(Processes.pathWithoutJava(tmp.resolve("tools"), "bash"), nodePath(),
                shim.toString());
    }

    /** {@code launcher} answers git-credential get, store and erase as the Java helper would, with no java on PATH. */
    private void assertCredentialAnswersWithoutJava(Path path, String... launcher) throws IOException {
        String server = cli.server().url();
        String host = java.net.URI.create(server).getAuthority();
        String key = "kt_live_InstalledFastPath0123456789abcdef";
        TestGit.write(tmp.resolve("home/.config/karta/config.toml"),
                "server = \"" + server + "\"\napi_key = \"" + key + "\"\n");
        Path ours = tmp.resolve("ours.txt");
        TestGit.write(ours, "protocol=http\nhost=" + host + "\npath=git/shop.git\n\n");
        Path theirs = tmp.resolve("theirs.txt");
        TestGit.write(theirs, "protocol=https\nhost=github.com\n\n");
        Path stored = tmp.resolve("stored.txt");
        TestGit.write(stored, "protocol=http\nhost=" + host + "\nusername=karta\npassword=" + key + "\n\n");
        Processes noJava = processes().env("PATH", path.toString());

        assertThat(noJava.copy().stdin(ours).run(tmp, credential(launcher, "get")))
                .isEqualTo(new Processes.Result(0, "username=karta\npassword=" + key + "\n", ""));
        assertThat(noJava.copy().stdin(theirs).run(tmp, credential(launcher, "get")))
                .isEqualTo(new Processes.Result(0, "", ""));
        for (String action : new String[] {"store", "erase"}) {
            assertThat(noJava.copy().stdin(stored).run(tmp, credential(launcher, action))).as(action)
                    .isEqualTo(new Processes.Result(0, "", ""));
        }
        // The Java helper's answers, for comparison (in process, with the same home).
        Run.Result java = new Run(tmp.resolve("home")).stdin(Files.readString(ours)).run("git-credential", "get");
        assertThat(new Processes.Result(java.exitCode(), java.stdout(), java.stderr()))
                .isEqualTo(new Processes.Result(0, "username=karta\npassword=" + key + "\n", ""));
        // What the shell leaves to Java (a server URL beyond plain http(s)://host) reaches Java, here missing.
        Processes.Result unusual = noJava.copy().env("KARTA_SERVER", "http://under_score.example").stdin(ours)
                .run(tmp, credential(launcher, "get"));
        assertThat(unusual.exitCode()).as(unusual.toString()).isEqualTo(1);
        assertThat(unusual.stderr()).startsWith("karta: Java 17 or newer is needed and none was found");
    }

    private static String[] credential(String[] launcher, String action) {
        String[] argv = java.util.Arrays.copyOf(launcher, launcher.length + 2);
        argv[launcher.length] = "git-credential";
        argv[launcher.length + 1] = action;
        return argv;
    }

    private Path unpackArchive() {
        Path into = tmp.resolve("unpacked");
        into.toFile().mkdirs();
        processes().run(into, "tar", "-xzf", ARCHIVE.toString()).ok();
        return into.resolve("karta-cli-" + VERSION);
    }

    private Path unpackNpmPackage() {
        Path into = tmp.resolve("npm-unpacked");
        into.toFile().mkdirs();
        processes().run(into, "tar", "-xzf", NPM_PACKAGE.toString()).ok();
        return into;
    }

    private static String nodePath() {
        for (String dir : System.getenv("PATH").split(":")) {
            if (Files.isExecutable(Path.of(dir, "node"))) {
                return Path.of(dir, "node").toString();
            }
        }
        throw new AssertionError("no node on PATH");
    }
}
