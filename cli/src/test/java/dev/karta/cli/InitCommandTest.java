package dev.karta.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.api.Json;
import dev.karta.server.testkit.GitRunner;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@code karta init} as docs/git-push.md specifies it, with the real {@code git} and a real
 * server: the project, the {@code karta} remote, the repository-local credential helper, and a
 * {@code git push karta main} that authenticates through {@code karta git-credential}.
 */
class InitCommandTest {
    @RegisterExtension
    static final CliServer cli = new CliServer();

    TestGit git;
    Path launcher;
    Run karta;

    @BeforeEach
    void setUp() {
        git = new TestGit(cli.home());
        launcher = git.launcher(cli.home().resolve("bin"));
        karta = cli.karta().env(git.env()).env("KARTA_LAUNCHER", launcher.toString());
    }

    private Run.Result init(Path repo, String... args) {
        String[] argv = new String[args.length + 1];
        argv[0] = "init";
        System.arraycopy(args, 0, argv, 1, args.length);
        return karta.workingDir(repo).run(argv);
    }

    private String helperKey() {
        return "credential." + cli.server().url() + ".helper";
    }

    private String gitUrl(String project) {
        return cli.server().url() + "/git/" + project + ".git";
    }

    @Test
    void init_in_a_fresh_repository_creates_the_project_adds_the_remote_and_the_credential_helper() {
        Path repo = git.newApp(cli.home().resolve("fresh-shop"));

        Run.Result init = init(repo);

        assertThat(init.exitCode()).as(init.toString()).isZero();
        assertThat(init.stdout()).isEqualTo("Created project fresh-shop\n"
                + "Added git remote karta: " + gitUrl("fresh-shop") + "\n"
                + "Git pushes to " + cli.server().url() + " use your Karta key (credential helper: " + launcher
                + " git-credential)\n");
        assertThat(init.stderr()).contains("Deploy with `git push karta main`");
        assertThat(git.run(repo, "remote", "get-url", "karta").ok().line()).isEqualTo(gitUrl("fresh-shop"));
        assertThat(git.run(repo, "config", "--local", "--get-all", helperKey()).ok().out())
                .isEqualTo("\n!\"" + launcher + "\" git-credential\n");
        assertThat(karta.run("projects", "info", "fresh-shop").exitCode()).isZero();
    }

    @Test
    void init_never_writes_the_key_into_the_repository_config() throws IOException {
        Path repo = git.newApp(cli.home().resolve("secret-shop"));

        assertThat(init(repo).exitCode()).isZero();

        assertThat(Files.readString(repo.resolve(".git/config")))
                .doesNotContain(TestServer.ADMIN_KEY).doesNotContain("kt_live_");
    }

    @Test
    void init_takes_the_name_from_the_argument_and_works_from_a_subfolder() {
        Path repo = git.newApp(cli.home().resolve("Some Folder"));
        Path sub = repo.resolve(".claude");

        Run.Result init = init(sub, "named-shop");

        assertThat(init.exitCode()).as(init.toString()).isZero();
        assertThat(git.run(repo, "remote", "get-url", "karta").ok().line()).isEqualTo(gitUrl("named-shop"));
    }

    @Test
    void init_keeps_the_repositorys_other_remotes() {
        Path repo = git.newApp(cli.home().resolve("remotes-shop"));
        git.run(repo, "remote", "add", "origin", "https://github.com/example/remotes-shop.git").ok();
        git.run(repo, "remote", "add", "upstream", "https://github.com/other/remotes-shop.git").ok();

        Run.Result init = init(repo);

        assertThat(init.exitCode()).as(init.toString()).isZero();
        assertThat(git.run(repo, "remote", "-v").ok().out()).isEqualTo(
                "karta\t" + gitUrl("remotes-shop") + " (fetch)\n"
                        + "karta\t" + gitUrl("remotes-shop") + " (push)\n"
                        + "origin\thttps://github.com/example/remotes-shop.git (fetch)\n"
                        + "origin\thttps://github.com/example/remotes-shop.git (push)\n"
                        + "upstream\thttps://github.com/other/remotes-shop.git (fetch)\n"
                        + "upstream\thttps://github.com/other/remotes-shop.git (push)\n");
    }

    @Test
    void init_twice_changes_nothing() throws IOException {
        Path repo = git.newApp(cli.home().resolve("twice-shop"));
        assertThat(init(repo).exitCode()).isZero();
        String config = Files.readString(repo.resolve(".git/config"));

        Run.Result again = init(repo);

        assertThat(again.exitCode()).as(again.toString()).isZero();
        assertThat(again.stdout()).startsWith("Using project twice-shop\n"
                + "Git remote karta already points to " + gitUrl("twice-shop") + "\n");
        assertThat(Files.readString(repo.resolve(".git/config"))).isEqualTo(config);
    }

    @Test
    void init_uses_a_project_that_already_exists() {
        assertThat(karta.run("projects", "create", "existing-shop").exitCode()).isZero();
        Path repo = git.newApp(cli.home().resolve("existing-shop"));

        Run.Result init = init(repo);

        assertThat(init.exitCode()).as(init.toString()).isZero();
        assertThat(init.stdout()).startsWith("Using project existing-shop\nAdded git remote karta: ");
    }

    @Test
    void a_different_karta_remote_is_refused_and_nothing_is_created() {
        Path repo = git.newApp(cli.home().resolve("taken-shop"));
        git.run(repo, "remote", "add", "karta", "https://karta.example.com/git/elsewhere.git").ok();

        Run.Result init = init(repo);

        assertThat(init.exitCode()).as(init.toString()).isEqualTo(1);
        assertThat(init.stderr()).startsWith("karta: git remote 'karta' already points to "
                + "https://karta.example.com/git/elsewhere.git").contains("karta init taken-shop --force");
        assertThat(git.run(repo, "remote", "get-url", "karta").ok().line())
                .isEqualTo("https://karta.example.com/git/elsewhere.git");
        assertThat(git.run(repo, "config", "--local", "--get-all", helperKey()).exit()).isEqualTo(1);
        assertThat(karta.run("projects", "info", "taken-shop").exitCode()).isEqualTo(4);
    }

    @Test
    void a_different_karta_remote_of_an_existing_project_is_refused() {
        assertThat(karta.run("projects", "create", "other-shop").exitCode()).isZero();
        Path repo = git.newApp(cli.home().resolve("other-shop"));
        git.run(repo, "remote", "add", "karta", gitUrl("some-other")).ok();

        Run.Result init = init(repo);

        assertThat(init.exitCode()).as(init.toString()).isEqualTo(1);
        assertThat(init.stderr()).isEqualTo("karta: git remote 'karta' already points to " + gitUrl("some-other")
                + ", not to project other-shop (" + gitUrl("other-shop") + "): run `karta init other-shop --force`"
                + " to replace it\n");
        assertThat(git.run(repo, "remote", "get-url", "karta").ok().line()).isEqualTo(gitUrl("some-other"));
    }

    @Test
    void force_replaces_a_different_karta_remote() {
        Path repo = git.newApp(cli.home().resolve("forced-shop"));
        git.run(repo, "remote", "add", "karta", "https://karta.example.com/git/elsewhere.git").ok();
        git.run(repo, "config", "--local", "--add", "remote.karta.pushurl", "https://karta.example.com/push.git").ok();

        Run.Result init = init(repo, "--force");

        assertThat(init.exitCode()).as(init.toString()).isZero();
        assertThat(init.stdout()).contains("Created project forced-shop\nReplaced git remote karta (was "
                + "https://karta.example.com/git/elsewhere.git (push: https://karta.example.com/push.git)): "
                + gitUrl("forced-shop") + "\n");
        assertThat(git.run(repo, "remote", "get-url", "--push", "karta").ok().line()).isEqualTo(gitUrl("forced-shop"));
        assertThat(git.run(repo, "remote", "get-url", "karta").ok().line()).isEqualTo(gitUrl("forced-shop"));
    }

    @Test
    void a_karta_remote_with_a_key_in_its_url_is_refused_without_showing_the_key_and_force_cleans_it()
            throws IOException {
        Path repo = git.newApp(cli.home().resolve("keyed-shop"));
        String keyed = gitUrl("keyed-shop").replace("http://", "http://x:" + TestServer.ADMIN_KEY + "@");
        git.run(repo, "remote", "add", "karta", keyed).ok();

        Run.Result refused = init(repo);
        Run.Result forced = init(repo, "--force");

        assertThat(refused.exitCode()).as(refused.toString()).isEqualTo(1);
        String masked = gitUrl("keyed-shop").replace("http://", "http://x:***@");
        assertThat(refused.stderr()).contains("already points to " + masked).doesNotContain(TestServer.ADMIN_KEY);
        assertThat(forced.exitCode()).as(forced.toString()).isZero();
        assertThat(forced.stdout()).doesNotContain(TestServer.ADMIN_KEY);
        assertThat(Files.readString(repo.resolve(".git/config"))).doesNotContain(TestServer.ADMIN_KEY);
        assertThat(git.run(repo, "remote", "get-url", "karta").ok().line()).isEqualTo(gitUrl("keyed-shop"));
    }

    @Test
    void init_outside_a_git_repository_exits_1() throws IOException {
        Path plain = Files.createDirectories(cli.home().resolve("plain-folder"));

        Run.Result init = init(plain, "plain-shop");

        assertThat(init.exitCode()).isEqualTo(1);
        assertThat(init.stderr()).startsWith("karta: not inside a git repository").contains("git init");
        assertThat(karta.run("projects", "info", "plain-shop").exitCode()).isEqualTo(4);
    }

    @Test
    void a_read_key_cannot_create_the_project_and_exits_3() throws IOException {
        JsonNode key = Json.newMapper().readTree(karta.run("keys", "create", "reader", "--scope", "read", "--json")
                .stdout());
        Path repo = git.newApp(cli.home().resolve("read-shop"));

        Run.Result init = karta.env("KARTA_API_KEY", key.get("secret").asText()).workingDir(repo).run("init");

        assertThat(init.exitCode()).as(init.toString()).isEqualTo(3);
        assertThat(git.run(repo, "remote").ok().out()).isEmpty();
    }

    @Test
    void without_karta_launcher_the_helper_is_the_karta_found_on_path() throws IOException {
        Path repo = git.newApp(cli.home().resolve("path-shop"));
        Run onPath = cli.as(TestServer.ADMIN_KEY).env(git.env())
                .env("PATH", "relative/bin:" + launcher.getParent() + ":/usr/bin:/bin");

        Run.Result init = onPath.workingDir(repo).run("init");

        assertThat(init.exitCode()).as(init.toString()).isZero();
        assertThat(git.run(repo, "config", "--local", "--get-all", helperKey()).ok().out())
                .isEqualTo("\n!\"" + launcher + "\" git-credential\n");
    }

    @Test
    void without_karta_launcher_or_karta_on_path_the_helper_is_plain_karta() {
        Path repo = git.newApp(cli.home().resolve("bare-shop"));

        Run.Result init = cli.as(TestServer.ADMIN_KEY).env(git.env())
                .env("PATH", cli.home().resolve("empty") + ":/usr/bin:/bin")
                .workingDir(repo).run("init");

        assertThat(init.exitCode()).as(init.toString()).isZero();
        assertThat(init.stderr()).contains("KARTA_LAUNCHER is not set and there is no `karta` on PATH");
        assertThat(git.run(repo, "config", "--local", "--get-all", helperKey()).ok().out())
                .isEqualTo("\n!\"karta\" git-credential\n");
    }

    @Test
    void git_push_through_the_credential_helper_releases_v1() throws IOException {
        Path repo = git.newApp(cli.home().resolve("pushed-shop"));
        Run loggedIn = new Run(cli.home()).env(git.env()).env("KARTA_LAUNCHER", launcher.toString())
                .stdin(TestServer.ADMIN_KEY + "\n");
        assertThat(loggedIn.run("login", "--server", cli.server().url()).exitCode()).isZero();
        Run.Result init = loggedIn.workingDir(repo).run("init");
        assertThat(init.exitCode()).as(init.toString()).isZero();

        GitRunner.Run push = git.run(repo, "push", "karta", "main");

        push.ok();
        assertThat(push.err()).contains("remote: Released v1 — " + cli.server().url() + "/v1/projects/pushed-shop");
        Run.Result releases = loggedIn.run("projects", "releases", "pushed-shop");
        assertThat(releases.stdout()).containsPattern("\nv1 +\\* active +[0-9a-f]{7} +claude +file_copy +git_push ");
        assertThat(Files.readString(repo.resolve(".git/config"))).doesNotContain("kt_live_");
        assertThat(git.run(repo, "remote", "get-url", "karta").ok().line()).doesNotContain("@");
    }

    @Test
    void a_launcher_path_with_spaces_and_shell_characters_is_quoted_for_git() {
        Path odd = git.launcher(cli.home().resolve("my tools $HOME \"q\" `id`"));
        Path repo = git.newApp(cli.home().resolve("quoted-shop"));
        Run loggedIn = new Run(cli.home()).env(git.env()).env("KARTA_LAUNCHER", odd.toString())
                .stdin(TestServer.ADMIN_KEY + "\n");
        assertThat(loggedIn.run("login", "--server", cli.server().url()).exitCode()).isZero();

        Run.Result init = loggedIn.workingDir(repo).run("init");

        assertThat(init.exitCode()).as(init.toString()).isZero();
        assertThat(git.run(repo, "config", "--local", "--get-all", helperKey()).ok().out())
                .isEqualTo("\n!\"" + cli.home() + "/my tools \\$HOME \\\"q\\\" \\`id\\`/karta\" git-credential\n");
        assertThat(git.run(repo, "push", "karta", "main").ok().err()).contains("remote: Released v1");
    }

    @Test
    void git_push_without_a_login_fails_and_the_helper_says_why() {
        Path repo = git.newApp(cli.home().resolve("anon-shop"));
        assertThat(init(repo).exitCode()).isZero();

        GitRunner.Run push = git.with("KARTA_SERVER", cli.server().url()).run(repo, "push", "karta", "main");

        push.failed();
        assertThat(push.err()).contains("karta: not logged in to " + cli.server().url() + ": run `karta login`")
                .contains("could not read Username");
        assertThat(karta.run("projects", "releases", "anon-shop").stderr()).contains("No releases");
    }
}
